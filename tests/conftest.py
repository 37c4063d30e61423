"""Fixtures: real Gradio apps on free 127.0.0.1 ports, one repository folder per test."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO_APP = ROOT / "examples" / "demo_app.py"
APPS = Path(__file__).resolve().parent / "apps"


def free_port(host: str = "127.0.0.1") -> int:
    """A port free now, below the system's ephemeral range: a port the system hands out (bind to
    0) may be taken as the source port of any outgoing connection before the app binds it."""
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # a crowded range: let the system choose
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


class AppServer:
    """A Gradio app in its own process; `stop()` kills it (also mid-call, for fault tests)."""

    def __init__(self, script: Path, *args: str, port: int | None = None, python: str = sys.executable,
                 ready: str = "/config", https: bool = False) -> None:
        self.port = port or free_port()
        self.url = f"{'https' if https else 'http'}://127.0.0.1:{self.port}"
        # a file, not a pipe: an app that logs much (tracebacks of dropped connections) would
        # block on a full pipe nobody reads, and stop answering
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [python, str(script), str(self.port), *args],
            stdout=subprocess.DEVNULL, stderr=self.log,
            # another venv's Python finds the demo app (`gradio_session.demo`) in the checkout
            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(ROOT / "src")},
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{script.name} exited: {self.tail()}")
            try:
                # the app's certificate is the test's own CA's: checked by the tests, not here
                with urllib.request.urlopen(f"{self.url}{ready}", timeout=2,
                                            context=ssl._create_unverified_context()) as r:
                    json.load(r)
                return
            except urllib.error.HTTPError as exc:
                if exc.code == 401:  # up, behind a login
                    return
                time.sleep(0.2)
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{script.name} did not start in time")

    def __enter__(self) -> AppServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def tail(self) -> str:
        """The end of what the app wrote on stderr."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self.log.close()


@pytest.fixture(scope="session")
def demo_app() -> Iterator[AppServer]:
    with AppServer(DEMO_APP) as server:
        yield server


def gradio_versions() -> dict[str, str]:
    """The Gradio releases to serve apps with, oldest first: this venv's, and each one `make test`
    built in `.venv-gradio/VERSION` (the Makefile's MATRIX) -> the Python that runs it."""
    from importlib.metadata import version

    built = {p.parent.name: str(p.parent / "bin" / "python") for p in (ROOT / ".venv-gradio").glob("*/.installed")}
    found = {version("gradio"): sys.executable, **built}
    return dict(sorted(found.items(), key=lambda item: tuple(map(int, item[0].split(".")))))


@pytest.fixture(scope="session", params=list(gradio_versions()))
def any_gradio(request: pytest.FixtureRequest) -> Iterator[AppServer]:
    """The demo app served by each Gradio release of the matrix in turn (this venv's is `demo_app`)."""
    python = gradio_versions()[request.param]
    if python == sys.executable:
        yield request.getfixturevalue("demo_app")
        return
    with AppServer(DEMO_APP, python=python) as server:
        yield server


@pytest.fixture
def fresh_app() -> Iterator[AppServer]:
    """A demo app of this test's own, for tests that kill it."""
    with AppServer(DEMO_APP) as server:
        yield server


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own repository folder; tokens go to the file store; background
    holders (see holder.py) leave a second after their last call, and CLI servers (see
    cli/server.py) started by the test's commands are stopped after it."""
    path = tmp_path / "gs-home"
    monkeypatch.setenv("GRADIO_SESSION_HOME", str(path))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.setenv("GRADIO_SESSION_HOLDER_IDLE", "1")  # background holders leave soon after
    monkeypatch.setenv("GRADIO_SESSION_SERVER_IDLE", "10")
    yield path
    stop_cli_servers(path)


def stop_cli_servers(home: Path) -> int:
    """Stop the CLI servers of a repository folder (SIGTERM: they leave as when idle), also one
    still starting (no pid file yet: found by the folder in its command line); how many."""
    pids = set()
    for pid_file in (home / "run").glob("*.pid"):
        try:
            pids.add(int(pid_file.read_text()))
        except (ValueError, OSError):
            pass
    mark = str(home / "run").encode()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if mark in (entry / "cmdline").read_bytes():
                pids.add(int(entry.name))
        except OSError:
            pass
    stopped = 0
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
            stopped += 1
        except OSError:
            pass
    return stopped


def cli(*args: str, timeout: float = 60, env: dict[str, str] | None = None,
        cwd: Path | None = None, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `gradio-session` command in a new process (`input`: its standard input)."""
    return subprocess.run(
        [sys.executable, "-m", "gradio_session", *args], input=input,
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}, cwd=cwd,
    )


def on_a_terminal(*args: str, timeout: float = 60, env: dict[str, str] | None = None,
                  stdout_too: bool = False) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run `gradio-session ARGS` with stderr a terminal (a pty): the process, and what the
    terminal was sent (stdout stays a pipe, unless `stdout_too`: then on the terminal too)."""
    import pty
    import threading

    leader, follower = pty.openpty()
    screen = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal's other end closed
                return
            if not chunk:
                return
            screen.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        r = subprocess.run([sys.executable, "-m", "gradio_session", *args], stderr=follower,
                           stdout=follower if stdout_too else subprocess.PIPE, stdin=subprocess.DEVNULL,
                           text=True, timeout=timeout, env={**os.environ, **(env or {})})
    finally:
        os.close(follower)
        reader.join(timeout=5)
        os.close(leader)
    return r, screen.decode(errors="replace")


def wait_for(check: Callable[[], object], timeout: float = 30) -> None:
    """Poll `check` until it is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


MARKER_MARGIN = 1.5  # seconds past a marker call's deadline: its start may lag its sending


def never_written(marker: Path, since: float, seconds: float) -> None:
    """A stopped `marker` call (the demo app's) never writes its file. Looked at only once the
    call, had it run on, would have written it: `seconds` after `since` (a monotonic time taken
    before the call was sent) and a margin; before that, its absence proves nothing."""
    time.sleep(max(0.0, since + seconds + MARKER_MARGIN - time.monotonic()))
    assert not marker.exists(), f"{marker.name} was written: the call ran on"


def files_holding(home: Path, secret: str) -> list[str]:
    """The files of a repository folder (SQLite's journals, logs, sockets' neighbours...) whose
    bytes hold `secret`, relative to it: a token may be in `tokens/` only."""
    return sorted(str(p.relative_to(home)) for p in home.rglob("*")
                  if p.is_file() and not p.is_symlink() and secret.encode() in p.read_bytes())


def json_lines(text: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# --- the Gradio versions table of the README, from the matrix run -------------------------------

_MATRIX: dict[tuple[str, str], str] = {}  # (feature test, Gradio version) -> passed / failed / skipped
TABLE_START, TABLE_END = "<!-- gradio-versions: made by the tests (tests/test_versions.py) -->", "<!-- /gradio-versions -->"


def _matrix_tests() -> set[str]:
    """The tests of tests/test_versions.py that run once per Gradio version."""
    import ast

    tree = ast.parse((Path(__file__).parent / "test_versions.py").read_text())
    return {f.name for f in tree.body if isinstance(f, ast.FunctionDef) and f.name.startswith("test_")
            and {a.arg for a in f.args.args} & {"any_gradio", "version"}}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    name = report.nodeid.partition("test_versions.py::")[2]
    if not name or "[" not in name or (report.when != "call" and not report.skipped):
        return
    test, version = name.rstrip("]").split("[", 1)
    _MATRIX[(test, version)] = report.outcome


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The matrix in one line: how many feature runs per Gradio version, and how many skipped."""
    if _MATRIX:
        skipped = sum(outcome == "skipped" for outcome in _MATRIX.values())
        versions = len({v for _, v in _MATRIX})
        terminalreporter.write_line(f"Gradio versions matrix: {len(_MATRIX)} feature runs on {versions} versions, "
                                    f"{skipped} skipped (a skip says why).")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After a run of every feature on every version: the README's table, rewritten if it changed."""
    tests = list(dict.fromkeys(t for t, _ in _MATRIX))  # in the order they ran
    versions = list(gradio_versions())
    if set(tests) != _matrix_tests() or len(_MATRIX) < len(tests) * len(versions):
        return  # a partial run says nothing of the rest
    mark = {"passed": "yes", "failed": "**no**", "skipped": "not yet"}
    rows = [f"| feature | {' | '.join(versions)} |", "|---|" + "---|" * len(versions)]
    rows += [f"| {t.removeprefix('test_').replace('_', ' ')} | "
             + " | ".join(mark[_MATRIX.get((t, v), "skipped")] for v in versions) + " |" for t in tests]
    readme = ROOT / "README.md"
    text = readme.read_text()
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if start < 0 or end < 0:
        return
    new = text[:start + len(TABLE_START)] + "\n" + "\n".join(rows) + "\n" + text[end:]
    if new != text:
        readme.write_text(new)
        print(f"\nREADME.md: the Gradio versions table was updated from this run ({len(versions)} versions).")
