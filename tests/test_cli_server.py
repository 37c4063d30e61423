"""The CLI server: a script's `call`s after the first run in this directory's warm server
process, and behave as if each ran in its own (output, exit status, Ctrl+C, relative paths,
tracebacks); a server that does not answer never holds a call up, nor runs it twice."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import gradio_session as gs
from conftest import AppServer, cli, json_lines, never_written, stop_cli_servers, wait_for


def server_pids(home: Path) -> list[int]:
    return [int(p.read_text()) for p in (home / "run").glob("*.pid") if p.read_text()]


def start_server(home: Path, cwd: Path, session: str) -> int:
    """A cold call starts the directory's server (the second is served); its pid."""
    before = set(server_pids(home))
    for text in ("cold-1", "cold-2"):
        r = cli("call", "echo", text, "--session", session, cwd=cwd)
        assert r.returncode == 0 and r.stdout == f"{text}\n", r.stderr
    wait_for(lambda: set(server_pids(home)) - before)
    (pid,) = set(server_pids(home)) - before
    return pid


def reader_pid(s: gs.Session) -> int:
    """The process that read the session's last call."""
    record = s.calls()[-1]
    assert record.reader is not None
    return int(record.reader.split(".")[0])


def started(s: gs.Session) -> bool:
    return any(c.status == "running" for c in s.calls())


def test_calls_after_a_cold_one_run_in_the_server(demo_app: AppServer, home: Path, tmp_path: Path) -> None:
    s = gs.new_session(demo_app.url, name="srv")
    pid = start_server(home, tmp_path, "srv")
    r = cli("call", "echo", "warm", "--session", "srv", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "warm\n" and "event id" in r.stderr
    assert reader_pid(s) == pid
    events = json_lines(cli("call", "echo", "js", "--session", "srv", "--json", cwd=tmp_path).stdout)
    assert [e["event"] for e in events] == ["queued", "started", "complete"] and events[-1]["data"] == ["js"]
    # errors and usage errors reach the client as they would from a process of its own
    r = cli("call", "fail", "boom", "--session", "srv", cwd=tmp_path)
    assert r.returncode == 1 and "Error:" in r.stderr and "Traceback" not in r.stderr
    r = cli("call", "echo", "--max-heartbeats", "0", "--session", "srv", cwd=tmp_path)
    assert r.returncode == 2 and "0 is not in the range x>=1" in r.stderr
    r = cli("call", "--help", cwd=tmp_path)
    assert r.returncode == 0 and "Usage: gradio-session call" in r.stdout
    assert reader_pid(s) == pid and server_pids(home) == [pid]


def test_each_served_call_shows_its_warning(demo_app: AppServer, home: Path, tmp_path: Path) -> None:
    s = gs.new_session(demo_app.url, name="warned")
    pid = start_server(home, tmp_path, "warned")
    assert cli("set", "warned", "--max-calls", "1", "--max-calls-policy", "warning").returncode == 0
    for text in ("w1", "w2"):
        r = cli("call", "echo", text, "--session", "warned", cwd=tmp_path)
        assert r.returncode == 0 and r.stdout == f"{text}\n"
        assert r.stderr.count("Warning: Session 'warned' holds") == 1, r.stderr
        assert reader_pid(s) == pid
    assert len(s.calls()) == 4


def test_relative_paths_are_the_callers_directory(demo_app: AppServer, home: Path, tmp_path: Path) -> None:
    """Each directory has a server of its own, so a relative path means the caller's file."""
    s = gs.new_session(demo_app.url, name="files")
    pids = []
    for folder, text in (("a", "abc"), ("b", "xyz")):
        cwd = tmp_path / folder
        cwd.mkdir()
        (cwd / "in.txt").write_text(text)
        pids.append(start_server(home, cwd, "files"))
        r = cli("call", "reverse_file", "in.txt", "--download-path", "out", "--session", "files", cwd=cwd)
        assert r.returncode == 0, r.stderr
        assert reader_pid(s) == pids[-1]  # the directory's own server made the call
        assert [p.read_text() for p in (cwd / "out").rglob("*") if p.is_file()] == [text[::-1]]
    assert len(set(pids)) == 2


def test_ctrl_c_cancels_a_served_call(demo_app: AppServer, home: Path, tmp_path: Path) -> None:
    s = gs.new_session(demo_app.url, name="stop")
    pid = start_server(home, tmp_path, "stop")
    mark = tmp_path / "marker"
    since = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "gradio_session", "call", "marker", str(mark), "3",
                             "--session", "stop"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    wait_for(lambda: started(s))
    assert reader_pid(s) == pid
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Cancelled the call" in err and "Interrupted." in err and "Traceback" not in err
    assert s.calls()[-1].status == "cancelled"
    never_written(mark, since, 3)
    assert server_pids(home) == [pid]  # the server goes on


def test_a_caller_killed_mid_call_cancels_it(demo_app: AppServer, home: Path, tmp_path: Path) -> None:
    """Nobody waits for the call any more: the server cancels it, as Ctrl+C would."""
    s = gs.new_session(demo_app.url, name="gone")
    start_server(home, tmp_path, "gone")
    mark = tmp_path / "marker"
    since = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "gradio_session", "call", "marker", str(mark), "3",
                             "--session", "gone"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_for(lambda: started(s))
    proc.kill()
    proc.wait()
    wait_for(lambda: s.calls()[-1].status == "cancelled")
    never_written(mark, since, 3)


def test_server_killed_mid_call(demo_app: AppServer, home: Path, tmp_path: Path) -> None:
    """The client says so and exits 1 (never runs the call again); the next call runs cold."""
    s = gs.new_session(demo_app.url, name="crash")
    pid = start_server(home, tmp_path, "crash")
    proc = subprocess.Popen([sys.executable, "-m", "gradio_session", "call", "slow", "3", "--session", "crash"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: started(s))
    os.kill(pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1 and "server stopped during the command" in err and "Traceback" not in err
    r = cli("call", "echo", "after", "--session", "crash", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "after\n", r.stderr
    assert len([c for c in s.calls() if c.endpoint == "/slow"]) == 1


def test_idle_server_leaves(demo_app: AppServer, home: Path, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADIO_SESSION_SERVER_IDLE", "1")
    gs.new_session(demo_app.url, name="idle")
    start_server(home, tmp_path, "idle")
    wait_for(lambda: not server_pids(home), timeout=20)
    wait_for(lambda: not list((home / "run").iterdir()))  # its socket, lock, pid and empty log go with it


def test_no_server_when_turned_off(demo_app: AppServer, home: Path, tmp_path: Path) -> None:
    """A client starts a server before it runs its own command, writing the server's log file
    first: with none there once the calls are done, none was started."""
    s = gs.new_session(demo_app.url, name="off")
    for text in ("o1", "o2", "o3"):
        r = cli("call", "echo", text, "--session", "off", cwd=tmp_path, env={"GRADIO_SESSION_SERVER": "0"})
        assert r.returncode == 0 and r.stdout == f"{text}\n"
    assert not (home / "run").exists() or list((home / "run").iterdir()) == []
    assert len({c.reader for c in s.calls()}) == 3  # each call read by its own process
    r = cli("call", "echo", "o4", "--session", "off", cwd=tmp_path)  # the check can see a start
    assert [p.suffix for p in (home / "run").glob("*.log")] == [".log"]


def test_socket_is_private(demo_app: AppServer, home: Path, tmp_path: Path) -> None:
    gs.new_session(demo_app.url, name="priv")
    start_server(home, tmp_path, "priv")
    assert (home / "run").stat().st_mode & 0o077 == 0
    (sock,) = [p for p in (home / "run").iterdir() if p.is_socket()]
    assert sock.stat().st_mode & 0o077 == 0
    assert json.loads(cli("calls", "--session", "priv", "--json").stdout)[0]["status"] == "complete"


def test_the_second_call_of_a_script_is_served(demo_app: AppServer, home: Path, tmp_path: Path) -> None:
    """The first cold call starts the server while it runs; the next one waits for it to listen
    rather than run cold too."""
    s = gs.new_session(demo_app.url, name="second")
    for text in ("c1", "c2", "c3", "c4"):
        r = cli("call", "echo", text, "--session", "second", cwd=tmp_path)
        assert r.returncode == 0 and r.stdout == f"{text}\n", r.stderr
    (pid,) = server_pids(home)
    readers = [c.reader.split(".")[0] for c in s.calls()]  # type: ignore[union-attr]
    assert readers[0] != str(pid) and readers[1:] == [str(pid)] * 3


def _events_out(text: str) -> str:
    """stderr without the lines that differ between runs: event lines (times, eta) and a
    traceback's frames (indented)."""
    return "\n".join(line for line in text.splitlines() if not line.startswith(("  ", "event id")))


def test_output_is_the_same_served_or_not(demo_app: AppServer, home: Path, tmp_path: Path) -> None:
    """Report: with GRADIO_SESSION_DEBUG=1 a served call printed "the gradio-session server
    failed: The app failed..." where the same call in its own process printed the traceback."""
    gs.new_session(demo_app.url, name="same")
    pid = start_server(home, tmp_path, "same")
    s = gs.get_session("same")
    for env in ({}, {"GRADIO_SESSION_DEBUG": "1"}):
        served = cli("call", "fail", "boom", "-s", "same", cwd=tmp_path, env=env)
        assert reader_pid(s) == pid
        alone = cli("call", "fail", "boom", "-s", "same", cwd=tmp_path, env={**env, "GRADIO_SESSION_SERVER": "0"})
        assert reader_pid(s) != pid
        assert served.returncode == alone.returncode == 1
        # the same lines but for a traceback's frames (its stack differs, not what it says)
        assert _events_out(served.stderr) == _events_out(alone.stderr), (served.stderr, alone.stderr)
        assert "server failed" not in served.stderr
        assert ("Traceback (most recent call last)" in served.stderr) == bool(env)
        assert "AppError: The app failed on /fail: cannot process 'boom'" in served.stderr or not env
    assert server_pids(home) == [pid]  # DEBUG (like colors and width) is not part of the server's key


def test_a_stopped_server_never_holds_a_call_up(demo_app: AppServer, home: Path, tmp_path: Path) -> None:
    """Report: a server stopped (SIGSTOP) or stuck made every `call` hang. A call it does not
    take within seconds runs in its own process, once, even when the server wakes up later."""
    s = gs.new_session(demo_app.url, name="frozen")
    pid = start_server(home, tmp_path, "frozen")
    os.kill(pid, signal.SIGSTOP)
    try:
        r = cli("call", "echo", "while stopped", "--session", "frozen", cwd=tmp_path, timeout=30)
        assert r.returncode == 0 and r.stdout == "while stopped\n", r.stderr
        assert reader_pid(s) != pid
    finally:
        os.kill(pid, signal.SIGCONT)
    r = cli("call", "echo", "woken", "--session", "frozen", cwd=tmp_path)
    assert r.returncode == 0 and reader_pid(s) == pid
    assert [c.inputs[0] for c in s.calls()].count("while stopped") == 1


def _connect(home: Path) -> socket.socket:
    (sock,) = [p for p in (home / "run").iterdir() if p.is_socket()]
    conn = socket.socket(socket.AF_UNIX)
    conn.settimeout(30)
    conn.connect(str(sock))
    return conn


def _request(argv: list[str], cwd: Path) -> bytes:
    here = os.stat(cwd)
    return json.dumps({"argv": argv, "tty": [False, False], "width": None, "cwd": [here.st_dev, here.st_ino],
                       "env": {}}).encode() + b"\n"


def test_a_connection_that_sends_nothing_or_too_much_is_let_go(demo_app: AppServer, home: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Report: a connection that sent nothing held the server forever (it never left), and the
    request line had no length limit."""
    monkeypatch.setenv("GRADIO_SESSION_SERVER_IDLE", "1")
    gs.new_session(demo_app.url, name="mute")
    start_server(home, tmp_path, "mute")
    silent = _connect(home)
    flood = _connect(home)
    try:
        flood.sendall(b"x" * (2 << 20))  # 2 MB and no newline
    except (BrokenPipeError, ConnectionResetError):
        pass
    r = cli("call", "echo", "still here", "--session", "mute", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "still here\n"
    assert silent.recv(10) == b""  # closed by the server after its wait, unanswered
    try:
        assert flood.recv(10) == b""  # closed unanswered
    except ConnectionResetError:  # closed with bytes of ours still unread
        pass
    wait_for(lambda: not server_pids(home), timeout=30)  # and it leaves when idle


def test_the_server_runs_only_calls(demo_app: AppServer, home: Path, tmp_path: Path) -> None:
    """Report: the server ran any command it was sent. It takes `call` only; anything else is
    refused, and the client then runs it itself."""
    gs.new_session(demo_app.url, name="only")
    start_server(home, tmp_path, "only")
    conn = _connect(home)
    conn.sendall(_request(["remove", "*", "--yes"], tmp_path))
    head = conn.recv(5)
    assert head[0] == 0  # a control frame
    assert json.loads(conn.recv(int.from_bytes(head[1:], "big"))) == {"accepted": False}
    conn.close()
    assert [x.name for x in gs.list_sessions()] == ["only"]


def test_an_accepted_call_waits_for_the_clients_go(demo_app: AppServer, home: Path, tmp_path: Path) -> None:
    """A client that gave up waiting (it runs the call itself) never has it run by the server too:
    a call the client did not confirm gets nothing more than its acceptance, then the end."""
    s = gs.new_session(demo_app.url, name="go")
    start_server(home, tmp_path, "go")
    conn = _connect(home)
    conn.sendall(_request(["call", "echo", "never", "-s", "go"], tmp_path))
    head = conn.recv(5)
    assert json.loads(conn.recv(int.from_bytes(head[1:], "big"))) == {"accepted": True}
    assert conn.recv(10) == b""  # no go sent: closed after the server's wait, no output, no exit status
    conn.close()
    assert [c.inputs[0] for c in s.calls()] == ["cold-1", "cold-2"]


def test_stale_files_of_servers_killed_long_ago_are_swept(demo_app: AppServer, home: Path, tmp_path: Path) -> None:
    """Report: 0-byte .last, .lock and .log files piled up in run/, a set per folder and environment."""
    run_dir = home / "run"
    run_dir.mkdir(mode=0o700, parents=True)
    old, recent = time.time() - 7200, time.time() - 60
    for key, when in (("deadbeefdeadbeef", old), ("cafecafecafecafe", recent)):
        for suffix in (".lock", ".log", ".pid", ".last"):
            (run_dir / (key + suffix)).touch()
            os.utime(run_dir / (key + suffix), (when, when))
    gs.new_session(demo_app.url, name="sweep")
    start_server(home, tmp_path, "sweep")
    names = {p.name.split(".")[0] for p in run_dir.iterdir()}
    assert "deadbeefdeadbeef" not in names and "cafecafecafecafe" in names
