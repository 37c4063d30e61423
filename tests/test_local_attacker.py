"""What another local user, or a file in the caller's folder, can do to a user of gradio-session:
each test plays the attack. A second local user is created for the tests that need one (root
only: else they skip, saying so)."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import gradio_session as gs
from conftest import AppServer, cli, wait_for

GRADIO_SESSION = str(Path(sys.executable).parent / "gradio-session")  # the console script a user runs
OTHER_USER = "gs-other"
HIJACKS = ("json", "queue", "selectors", "threading", "socket", "struct", "runpy", "asyncio", "sqlite3", "click")


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, user: int | None = None,
        stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`gradio-session ARGS` as a user types it (the console script, not `python -m`, which would
    itself import from the folder)."""
    return subprocess.run([GRADIO_SESSION, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env={**os.environ, **(env or {})}, input=stdin, user=user,
                          group=None if user is None else pwd.getpwuid(user).pw_gid,
                          extra_groups=None if user is None else [])


def hijacking_folder(folder: Path) -> Path:
    """A folder holding modules named like the standard library's, as a download could leave
    them: each one, if imported, writes a marker file."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in HIJACKS:
        (folder / f"{name}.py").write_text(f"open({str(folder / ('RAN-' + name))!r}, 'w').close()\n")
    return folder


def server_key(folder: Path) -> str:
    """The name of the CLI server socket that commands run in `folder` would use."""
    return subprocess.run([sys.executable, "-c", "from gradio_session.cli.client import server_key; print(server_key())"],
                          cwd=folder, capture_output=True, text=True, check=True).stdout.strip()


def ran(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("RAN-*"))


# -- the caller's folder never on a background process's import path --------------------------


def test_a_served_call_never_imports_from_the_callers_folder(demo_app: AppServer, home: Path, tmp_path: Path) -> None:
    """Report: `queue.py` downloaded into the folder ran as the user in the CLI server and the
    holder, both started as `python -m ...` there."""
    gs.new_session(demo_app.url, name="hj")
    folder = hijacking_folder(tmp_path / "work")
    for text in ("one", "two", "three"):  # the first starts the server, the next ones are served
        r = run("call", "echo", text, "-s", "hj", cwd=folder)
        assert r.returncode == 0 and r.stdout == f"{text}\n", r.stderr
    assert [c.reader.split(".")[0] for c in gs.get_session("hj").calls()][1:] == [_server_pid(home)] * 2
    event_id = run("call", "slow", "1", "-s", "hj", "--detach", cwd=folder).stdout.strip()
    assert run("result", event_id, "-s", "hj", cwd=folder).stdout == "slept 1\n"
    holder_log = home / "holders"
    assert holder_log.is_dir()  # a holder ran the detached call
    assert ran(folder) == []


def test_python_detach_starts_a_holder_that_never_imports_from_the_folder(demo_app: AppServer, tmp_path: Path) -> None:
    folder = hijacking_folder(tmp_path / "work")
    script = tmp_path / "script.py"  # the script lives elsewhere: its own folder is first on its path
    script.write_text("import gradio_session as gs\n"
                      f"s = gs.new_session({demo_app.url!r}, name='py')\n"
                      "print(s.detach('slow', 1).event_id)\n")
    r = subprocess.run([sys.executable, str(script)], cwd=folder, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert gs.get_session("py").get_call(r.stdout.strip()).result() == ["slept 1"]
    assert ran(folder) == []


def test_dask_workers_never_import_from_the_folder(demo_app: AppServer, tmp_path: Path) -> None:
    """A Dask worker starts as `python -c ...` in the caller's folder (multiprocessing's spawn)."""
    pytest.importorskip("distributed")
    gs.new_session(demo_app.url, name="dk")
    folder = hijacking_folder(tmp_path / "work")
    (folder / "in.jsonl").write_text('{"text": "a"}\n{"text": "b"}\n')
    r = run("batch", "echo", "-i", "in.jsonl", "-o", "out.jsonl", "-s", "dk", "--engine", "dask", cwd=folder,
            timeout=180)
    assert r.returncode == 0, r.stderr
    assert sorted(json.loads(line)["outputs"][0] for line in (folder / "out.jsonl").read_text().splitlines()) == ["a", "b"]
    assert ran(folder) == []


# -- the repository is private ------------------------------------------------------------------


def _modes(home: Path) -> dict[str, int]:
    return {str(p.relative_to(home)): stat.S_IMODE(p.lstat().st_mode) for p in [home, *home.rglob("*")]}


def test_the_repository_is_readable_by_its_user_only(demo_app: AppServer, home: Path, tmp_path: Path) -> None:
    s = gs.new_session(demo_app.url, name="priv", token="tok")  # a token file too (no keyring in tests)
    s.detach("slow", 1).result()  # a holder, its lock and log
    for text in ("a", "b"):  # a CLI server, its socket, lock, pid and log
        assert run("call", "echo", text, "-s", "priv", cwd=tmp_path).returncode == 0
    modes = _modes(home)
    assert {"sessions.db", "sessions.db-wal", "locks", "holders", "tokens", "run"} <= set(modes)
    assert any(name.startswith("run/") and name.endswith(".log") for name in modes)
    assert {name: mode for name, mode in modes.items() if mode & 0o077} == {}


def test_an_older_repository_is_made_private(demo_app: AppServer, home: Path) -> None:
    """A repository made 0755 / 0644 by an older release loses others' access when opened."""
    gs.new_session(demo_app.url, name="old").call("echo", "x")
    for path in [home, *home.rglob("*")]:
        if not path.is_socket():
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert run("list").returncode == 0
    assert {name: mode for name, mode in _modes(home).items() if mode & 0o077 and name.startswith(("sessions", "."))} \
        == {}
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


# -- another user's folder, or one they could swap, is refused ---------------------------------


@pytest.fixture(scope="session")
def other_user() -> Iterator[int]:
    """A second local user (uid), created for the tests and removed after them."""
    if os.geteuid() != 0:
        pytest.skip("making a second local user needs root")
    if shutil.which("useradd") is None:
        pytest.skip("no useradd on this machine to make a second local user")
    made = False
    try:
        uid = pwd.getpwnam(OTHER_USER).pw_uid
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OTHER_USER],
                       check=True, capture_output=True)
        uid, made = pwd.getpwnam(OTHER_USER).pw_uid, True
    yield uid
    if made:
        subprocess.run(["userdel", OTHER_USER], capture_output=True)


@pytest.fixture(scope="session")
def other_python(other_user: int) -> tuple[str, dict[str, str]]:
    """A Python the second user can run, and the environment that lets it import this checkout
    and its packages (this venv's own interpreter may live in a folder private to root)."""
    import sysconfig

    env = {"PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parent.parent / "src"),
                                          sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])}
    for python in (sys.executable, "/usr/bin/python3"):
        try:
            probe = subprocess.run([python, "-c", "import gradio_session.cli.app, httpx"], capture_output=True,
                                   env={**os.environ, **env}, user=other_user, extra_groups=[],
                                   group=pwd.getpwuid(other_user).pw_gid)
        except OSError:  # not theirs to run
            continue
        if probe.returncode == 0:
            return python, env
    pytest.skip("no Python here that the second local user can run with this checkout")


def as_other(user: int, python: tuple[str, dict[str, str]], *args: str, cwd: Path,
             env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`gradio-session ARGS` run by the second user."""
    exe, py_env = python
    return subprocess.run([exe, "-c", "import sys; from gradio_session.cli.client import main; main()", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=60, env={**os.environ, **py_env, **env},
                          user=user, group=pwd.getpwuid(user).pw_gid, extra_groups=[])


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder both users can enter (pytest's own is private to root), as /tmp is."""
    folder = Path(tempfile.mkdtemp(prefix="gs-shared-"))
    folder.chmod(0o1777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _refused(r: subprocess.CompletedProcess[str], folder: Path, why: str) -> None:
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith("Error:") and str(folder) in line and why in line, r.stderr


def test_a_home_another_user_made_first_is_refused(demo_app: AppServer, other_user: int, shared_tmp: Path) -> None:
    """Report: with GRADIO_SESSION_HOME under /tmp, another user creates it first, reads the
    server key, binds a socket there and answers the victim's commands."""
    home = shared_tmp / "gs-home"
    home.mkdir(mode=0o777)
    (home / "run").mkdir(mode=0o777)
    os.chown(home, other_user, -1)
    os.chown(home / "run", other_user, -1)
    env = {"GRADIO_SESSION_HOME": str(home)}
    for args in (("new", demo_app.url, "--name", "x", "--token", "secret-token"), ("list",), ("call", "echo", "hi")):
        _refused(run(*args, env=env, cwd=shared_tmp), home, "belongs to another user")
    assert sorted(p.name for p in home.rglob("*")) == ["run"]  # nothing written there


def test_a_home_others_can_write_is_refused(demo_app: AppServer, shared_tmp: Path) -> None:
    home = shared_tmp / "gs-home"
    home.mkdir()
    home.chmod(0o777)
    _refused(run("list", env={"GRADIO_SESSION_HOME": str(home)}), home, "writable by other users")
    home.chmod(0o700)
    (home / "run").mkdir()
    (home / "run").chmod(0o733)
    _refused(run("call", "echo", "x", env={"GRADIO_SESSION_HOME": str(home)}, cwd=shared_tmp), home / "run",
             "writable by other users")


def test_a_home_in_a_folder_another_user_owns_is_refused(other_user: int, shared_tmp: Path) -> None:
    """They can't read it, but they could rename it away and put their own in its place."""
    theirs = shared_tmp / "theirs"
    theirs.mkdir()
    os.chown(theirs, other_user, -1)
    home = theirs / "gs-home"
    _refused(run("list", env={"GRADIO_SESSION_HOME": str(home)}), theirs, "belongs to another user")


def test_a_symlink_in_run_is_never_written_through(demo_app: AppServer, home: Path, tmp_path: Path) -> None:
    """Report: `<key>.pid` linked to `~/.bashrc`, which the server truncated. (Only the user can
    put a link in their private folder now; this is the check behind the folder's.)"""
    gs.new_session(demo_app.url, name="ln")
    work = tmp_path / "work"
    work.mkdir()
    key = server_key(work)
    bashrc = tmp_path / "bashrc"
    bashrc.write_text("precious\n")
    os.utime(bashrc, (time.time() - 86400, time.time() - 86400))  # not a server's log written just now
    run_dir = home / "run"
    run_dir.mkdir(mode=0o700, parents=True)
    for suffix in (".log", ".pid", ".lock"):
        (run_dir / (key + suffix)).symlink_to(bashrc)
    for text in ("a", "b", "c"):
        r = run("call", "echo", text, "-s", "ln", cwd=work)
        assert r.returncode == 0 and r.stdout == f"{text}\n", r.stderr
    assert bashrc.read_text() == "precious\n"


def test_another_users_server_is_never_talked_to(demo_app: AppServer, home: Path, tmp_path: Path, other_user: int,
                                                 other_python: tuple[str, dict[str, str]], shared_tmp: Path) -> None:
    """A socket another user bound, found where the user's server would be: the client checks
    who is at the other end (SO_PEERCRED) and runs the command itself; the impostor hears nothing."""
    gs.new_session(demo_app.url, name="peer")
    work = tmp_path / "work"
    work.mkdir()
    key = server_key(work)
    heard = shared_tmp / "heard"
    impostor = subprocess.Popen(
        [other_python[0], "-c", _IMPOSTOR, str(shared_tmp / "sock"), str(heard)], cwd=shared_tmp,
        user=other_user, group=pwd.getpwuid(other_user).pw_gid, extra_groups=[])
    try:
        wait_for(lambda: (shared_tmp / "sock").exists())
        run_dir = home / "run"
        run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.rename(shared_tmp / "sock", run_dir / key)  # root moves it: as if the folder had been theirs
        r = run("call", "echo", "mine", "-s", "peer", cwd=work)
        assert r.returncode == 0 and r.stdout == "mine\n", r.stderr
    finally:
        impostor.kill()
        impostor.wait()
    assert heard.read_bytes() == b""  # connected, then left at once: not one byte of the request


_IMPOSTOR = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(8)
out = open(sys.argv[2], "wb")
while True:
    conn, _ = s.accept()
    conn.settimeout(10)
    try:
        while data := conn.recv(65536):
            out.write(data)
            out.flush()
    except OSError:
        pass
    conn.close()
"""


def test_a_server_serves_only_its_own_user(demo_app: AppServer, other_user: int,
                                           other_python: tuple[str, dict[str, str]], shared_tmp: Path) -> None:
    """Report: root with the user's environment (`sudo -E`) was served by the user's server. Now
    root's command is refused (the repository is another user's), and a connection of root's
    made by hand to the user's socket is closed unanswered."""
    home = shared_tmp / "users-home"
    work = shared_tmp / "work"
    work.mkdir()
    os.chown(work, other_user, -1)
    env = {"GRADIO_SESSION_HOME": str(home)}
    r = as_other(other_user, other_python, "new", demo_app.url, "--name", "u", env=env, cwd=work)
    assert r.returncode == 0, r.stderr
    for text in ("a", "b"):
        r = as_other(other_user, other_python, "call", "echo", text, env=env, cwd=work)
        assert r.returncode == 0 and r.stdout == f"{text}\n", r.stderr
    try:
        wait_for(lambda: any(p.is_socket() for p in (home / "run").iterdir()))
        (sock,) = [p for p in (home / "run").iterdir() if p.is_socket()]
        _refused(run("call", "echo", "root", env=env, cwd=work), home, "belongs to another user")
        conn = socket.socket(socket.AF_UNIX)
        conn.settimeout(10)
        conn.connect(str(sock))
        here = os.stat(work)
        try:
            conn.sendall(json.dumps({"argv": ["call", "echo", "root"], "tty": [False, False], "width": None,
                                     "cwd": [here.st_dev, here.st_ino], "env": {}}).encode() + b"\n")
            answer = conn.recv(100)
        except (BrokenPipeError, ConnectionResetError):  # closed before the request was all sent
            answer = b""
        conn.close()
        assert answer == b""
        calls = as_other(other_user, other_python, "calls", "--json", env=env, cwd=work)
        assert [c["inputs"][0] for c in json.loads(calls.stdout)] == ["a", "b"]
    finally:
        _stop_servers(home)


def _stop_servers(home: Path) -> None:
    import signal

    for pid_file in (home / "run").glob("*.pid"):
        os.kill(int(pid_file.read_text()), signal.SIGTERM)


def test_a_session_id_that_would_name_a_path_is_refused(demo_app: AppServer, home: Path) -> None:
    """Someone who could write sessions.db must not make a lock, log or token file land elsewhere."""
    gs.new_session(demo_app.url, name="idx")
    with sqlite3.connect(home / "sessions.db") as db:
        db.execute("PRAGMA foreign_keys = OFF")
        db.execute("UPDATE sessions SET id = '../../outside' WHERE name = 'idx'")
    r = cli("call", "echo", "x", "-s", "idx", env={"GRADIO_SESSION_SERVER": "0"})
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "session id that can't be one" in r.stderr.strip().splitlines()[-1]
    assert not (home.parent / "outside.lock").exists() and not (home.parent.parent / "outside.lock").exists()


def _server_pid(home: Path) -> str:
    (pid_file,) = (home / "run").glob("*.pid")
    return pid_file.read_text()


def test_a_home_its_group_can_write_is_refused(shared_tmp: Path) -> None:
    """The user's group has other members."""
    home = shared_tmp / "grp-home"
    home.mkdir()
    home.chmod(0o770)
    _refused(run("list", env={"GRADIO_SESSION_HOME": str(home)}), home, "writable by other users")
