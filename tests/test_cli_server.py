"""The CLI server: a script's `call`s after the first two run in this directory's warm server
process, and behave as if each ran in its own (output, exit status, Ctrl+C, relative paths)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import gradio_session as gs
from conftest import AppServer, cli, json_lines, stop_cli_servers, wait_for


def server_pids(home: Path) -> list[int]:
    return [int(p.read_text()) for p in (home / "run").glob("*.pid") if p.read_text()]


def start_server(home: Path, cwd: Path, session: str) -> int:
    """Two cold calls in a row start the directory's server; its pid."""
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


def test_calls_after_two_cold_ones_run_in_the_server(demo_app: AppServer, home: Path, tmp_path: Path) -> None:
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
    time.sleep(1)
    assert not mark.exists()
    assert server_pids(home) == [pid]  # the server goes on


def test_a_caller_killed_mid_call_cancels_it(demo_app: AppServer, home: Path, tmp_path: Path) -> None:
    """Nobody waits for the call any more: the server cancels it, as Ctrl+C would."""
    s = gs.new_session(demo_app.url, name="gone")
    start_server(home, tmp_path, "gone")
    mark = tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, "-m", "gradio_session", "call", "marker", str(mark), "3",
                             "--session", "gone"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_for(lambda: started(s))
    proc.kill()
    proc.wait()
    wait_for(lambda: s.calls()[-1].status == "cancelled")
    time.sleep(1)
    assert not mark.exists()


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
    assert [p.name for p in (home / "run").iterdir() if not p.name.endswith((".last", ".log", ".lock"))] == []


def test_no_server_when_turned_off(demo_app: AppServer, home: Path, tmp_path: Path) -> None:
    gs.new_session(demo_app.url, name="off")
    for text in ("o1", "o2", "o3"):
        r = cli("call", "echo", text, "--session", "off", cwd=tmp_path, env={"GRADIO_SESSION_SERVER": "0"})
        assert r.returncode == 0 and r.stdout == f"{text}\n"
    time.sleep(1)
    assert server_pids(home) == [] and stop_cli_servers(home) == 0


def test_socket_is_private(demo_app: AppServer, home: Path, tmp_path: Path) -> None:
    gs.new_session(demo_app.url, name="priv")
    start_server(home, tmp_path, "priv")
    assert (home / "run").stat().st_mode & 0o077 == 0
    (sock,) = [p for p in (home / "run").iterdir() if p.is_socket()]
    assert sock.stat().st_mode & 0o077 == 0
    assert json.loads(cli("calls", "--session", "priv", "--json").stdout)[0]["status"] == "complete"
