"""What a newcomer trips over (issue 15): session names, `remove` of a pattern, small CLI
fixes, the shipped demo app, and the Python API's discoverability and value checks."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import shlex
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import gradio_session as gs
from conftest import APPS, AppServer, cli, free_port, json_lines, wait_for
from gradio_session.binding import bind
from gradio_session.describe import api_text

BAD_NAMES = ["a*", "a?", "x[1]", ".", "..", "", " a", "a ", "a\tb", "a\nb", "a/", "/a", "a//b",
             "a/../b", "./a", "a\\b"]


def ok(*args: str) -> str:
    r = cli(*args)
    assert r.returncode == 0, f"{args}: {r.stderr}"
    return r.stdout


def fails(*args: str, match: str, code: int = 1, env: dict[str, str] | None = None) -> str:
    """A failing command: its exit status, a clear message on stderr, no traceback."""
    r = cli(*args, env=env)
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert match in r.stderr, r.stderr
    return r.stderr


def names() -> list[str]:
    return [s["name"] for s in json.loads(ok("list", "--json"))]


@pytest.fixture(scope="module")
def files_app() -> Iterator[AppServer]:
    with AppServer(APPS / "files_app.py") as server:
        yield server


# --- A. session names and remove ------------------------------------------------------------


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_are_refused_before_the_app_is_asked(name: str) -> None:
    """Nothing listens on the port: the name is refused before any network."""
    with pytest.raises(gs.SessionError, match="can't name a session"):
        gs.new_session(f"http://127.0.0.1:{free_port()}", name=name)


def test_bad_names_on_the_command_line(demo_app: AppServer) -> None:
    fails("new", demo_app.url, "--name", "a*", match="can't name a session")
    fails("new", demo_app.url, "--name", ".", match="default session")
    fails("new", demo_app.url, "--name", "a/../b", match="'..'")
    assert names() == []


def test_good_names_include_owner_slash_name(demo_app: AppServer, home: Path) -> None:
    for name in ("owner/app", "a.b", "with space", "x-1_2"):
        assert gs.new_session(demo_app.url, name=name).name == name
    assert gs.new_session(demo_app.url).name == f"127.0.0.1:{demo_app.port}"  # derived from the URL


def test_remove_in_python_takes_one_name_or_an_explicit_pattern(demo_app: AppServer) -> None:
    for name in ("a1", "a2", "b"):
        gs.new_session(demo_app.url, name=name)
    with pytest.raises(gs.SessionNotFound, match=r"pattern='a\*'"):
        gs.remove_session("a*")  # a name, not a pattern
    assert [s.name for s in gs.list_sessions()] == ["a1", "a2", "b"]
    assert gs.remove_session("b") == ["b"]
    assert asyncio.run(gs.aio.remove_session(pattern="a*")) == ["a1", "a2"]
    assert gs.list_sessions() == []
    with pytest.raises(TypeError):
        asyncio.run(gs.aio.remove_session("a1", pattern="a*"))
    with pytest.raises(TypeError):
        asyncio.run(gs.aio.remove_session())


def test_remove_of_a_pattern_matching_several_asks_first(demo_app: AppServer) -> None:
    for name in ("a1", "a2", "b"):
        ok("new", demo_app.url, "--name", name)
    err = fails("remove", "a*", match="matches 2 sessions: a1, a2")  # no terminal to ask on
    assert "--yes" in err
    assert names() == ["a1", "a2", "b"]
    assert answered("remove", "a*", answer="n").returncode == 1  # asked on a terminal, said no
    assert names() == ["a1", "a2", "b"]
    r = answered("remove", "a*", answer="y")
    assert r.returncode == 0, r.stderr
    assert "a1, a2" in r.stderr and names() == ["b"]
    ok("new", demo_app.url, "--name", "a3")
    ok("new", demo_app.url, "--name", "a4")
    assert "Removed 2 session(s): a3, a4" in cli("remove", "a*", "--yes").stderr
    assert "Removed 1 session(s): b" in cli("remove", "b*").stderr  # one match: no question
    fails("remove", "nope*", match="No session matches")


def answered(*args: str, answer: str) -> subprocess.CompletedProcess[str]:
    """Run the command with a terminal on stdin, the answer typed in advance."""
    leader, follower = pty.openpty()
    try:
        os.write(leader, f"{answer}\n".encode())
        return subprocess.run([sys.executable, "-m", "gradio_session", *args], stdin=follower,
                              capture_output=True, text=True, timeout=60)
    finally:
        os.close(follower)
        os.close(leader)


# --- B. small CLI fixes -------------------------------------------------------------------


def test_a_value_starting_with_a_dash(demo_app: AppServer) -> None:
    ok("new", demo_app.url)
    err = fails("call", "echo", "-x", match="No such option", code=2)
    assert "gradio-session call echo -- -x" in err
    err = fails("call", "echo", "-x", "--json", match="No such option", code=2)
    assert "gradio-session call echo --json -- -x" in err  # the command's options stay before `--`
    assert ok("call", "echo", "--", "-x") == "-x\n"
    assert ok("call", "add", "--", "-1", "-2.5") == "-3.5\n"
    assert "put `--`" not in fails("call", "echo", "x", "--jsn", match="--json", code=2)  # a typo


def test_result_no_follow_exits_1_while_the_call_runs(demo_app: AppServer) -> None:
    s = gs.new_session(demo_app.url, name="nf")
    running = s.invoke("slow", 60)
    fails("result", running.event_id, "--no-follow", match="still", code=1)
    help_text = cli("result", "--help", env={"COLUMNS": "400"}).stdout
    assert "exits 1 while the call runs" in help_text and "exit 1 if it did not complete, or has not yet" in help_text
    assert running.cancel() is True
    done = s.invoke("echo", "x")
    done.result()
    assert ok("result", done.event_id, "--no-follow") == "x\n"


def test_read_only_repository_says_which_folder(tmp_path: Path, demo_app: AppServer) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with read_only(empty):
        fails("list", match=f"{empty} is not writable", env={"GRADIO_SESSION_HOME": str(empty)})
        err = fails("list", match="Can't create the session repository folder",
                    env={"GRADIO_SESSION_HOME": str(empty / "inside")})
        assert "GRADIO_SESSION_HOME" in err
    used = tmp_path / "used"
    env = {"GRADIO_SESSION_HOME": str(used)}
    assert cli("new", demo_app.url, env=env).returncode == 0
    with read_only(used):
        err = fails("list", match=f"{used} is not writable", env=env)
        assert "Set GRADIO_SESSION_HOME to a writable folder" in err and "unable to open" not in err


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """The folder can't be written, even by root (immutable when mode bits don't bind)."""
    folder.chmod(0o555)
    immutable = os.access(folder, os.W_OK)
    if immutable and (not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(folder)]).returncode):
        folder.chmod(0o755)
        pytest.skip("can't make a folder read-only here (root without chattr)")
    try:
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def test_several_files_for_a_many_file_parameter(files_app: AppServer, tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("one")
    b.write_text("three")
    ok("new", files_app.url)
    for values in ([str(a), str(b)], [f"paths={a}", f"paths={b}"]):
        (outs,) = json_lines(ok("call", "many", *values, "--download-path", str(tmp_path / "dl"), "--json"))[-1]["data"]
        assert [(o["orig_name"], Path(o["path"]).read_text()) for o in outs] == [("a.txt", "one"), ("b.txt", "three")]


def test_calls_status_names_the_statuses(demo_app: AppServer) -> None:
    ok("new", demo_app.url)
    err = fails("calls", "--status", "bogus", match="'bogus' is not one of", code=2)
    assert all(status in err for status in ("'running'", "'complete'", "'timed_out'", "'interrupted'"))
    ok("call", "echo", "x")
    assert len(json.loads(ok("calls", "--status", "complete", "--json"))) == 1


def test_show_takes_session(demo_app: AppServer) -> None:
    ok("new", demo_app.url, "--name", "first")
    ok("new", demo_app.url, "--name", "second")
    assert json.loads(ok("show", "--session", "second", "--json"))["name"] == "second"
    assert json.loads(ok("show", "-s", "second", "--json"))["name"] == "second"
    assert json.loads(ok("show", "second", "--json"))["name"] == "second"
    assert json.loads(ok("show", "--json"))["name"] == "first"
    fails("show", "first", "--session", "second", match="two sessions", code=2)
    assert json.loads(ok("set", "--session", "second", "--max-calls", "3", "--json"))["max_calls"] == 3


@pytest.mark.parametrize("timeout", ["0", "-1"])
def test_non_positive_timeouts_are_refused(demo_app: AppServer, timeout: str) -> None:
    ok("new", demo_app.url)
    fails("call", "echo", "x", "--timeout", timeout, match="above 0", code=2)
    assert json.loads(ok("calls", "--json")) == []


def test_version() -> None:
    assert ok("--version") == f"gradio-session {gs.__version__}\n"
    probe = ("import sys; sys.argv = ['gradio-session', '--version']\n"
             "from gradio_session.cli.app import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print('httpx' in sys.modules, 'sqlite3' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=os.environ)
    assert out.stdout.split()[-2:] == ["False", "False"], out.stderr


def test_the_demo_app_ships_in_the_package(tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "demo.log").open("w")
    app = subprocess.Popen([sys.executable, "-m", "gradio_session.demo", str(port)], stdout=log, stderr=log,
                           env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}, cwd=tmp_path)
    try:
        wait_for(lambda: app.poll() is not None or serves(f"http://127.0.0.1:{port}"), timeout=90)
        assert app.poll() is None, (tmp_path / "demo.log").read_text()
        s = gs.new_session(f"http://127.0.0.1:{port}", name="shipped")
        assert s.call("echo", "hi ", times=2) == ["hi hi "]
    finally:
        app.kill()
        app.wait(timeout=30)
        log.close()
    assert f"http://127.0.0.1:{port}" in (tmp_path / "demo.log").read_text()


def serves(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/config", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def test_the_demo_app_without_gradio_says_so() -> None:
    code = ("import sys, runpy; sys.modules['gradio'] = None; sys.argv = ['demo']\n"
            "runpy.run_module('gradio_session.demo', run_name='__main__')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "needs gradio" in r.stderr and "pip install gradio" in r.stderr
    r = subprocess.run([sys.executable, "-m", "gradio_session.demo", "not-a-port"], capture_output=True, text=True)
    assert r.returncode != 0 and "Usage: python -m gradio_session.demo [PORT]" in r.stderr


# --- C. Python discoverability and value checks ----------------------------------------------


def test_dir_lists_the_lazy_names() -> None:
    listed = dir(gs)
    assert {"new_session", "get_session", "list_sessions", "remove_session", "Session", "aio"} <= set(listed)
    assert set(gs.__all__) <= set(listed)


def test_api_text_of_a_real_app(demo_app: AppServer) -> None:
    s = gs.new_session(demo_app.url, name="demo")
    text = api_text(s.app, "demo")
    assert text.startswith("Session 'demo': Gradio ") and 'get_session("demo")' in text.splitlines()[0]
    assert all(name in text for name in s.app.endpoints)
    echo = api_text(s.app, "demo", "echo")
    assert "/add" not in echo
    assert "text   str    required" in echo and "times  float  default 1" in echo and "Number 'Times'" in echo
    assert 's.call("echo", text="hi", times=1)' in echo
    assert "gradio-session call echo text=hi times=1 --session demo" in echo
    with pytest.raises(gs.EndpointNotFound, match="Did you mean /echo"):
        api_text(s.app, "demo", "ecko")
    assert ok("api", "echo", "--session", "demo") == echo + "\n"  # the CLI prints the same text


def test_the_calls_to_copy_run(demo_app: AppServer) -> None:
    s = gs.new_session(demo_app.url, name="copy me")
    text = api_text(s.app, s.name)
    py = {line.split("Python: ", 1)[1] for line in text.splitlines() if "Python: s.call(" in line}
    sh = {line.split("CLI:    ", 1)[1] for line in text.splitlines() if "CLI:    gradio-session" in line}
    # what each call to copy gives: in Python, and as the CLI prints it
    results = {"echo": (["hi"], "hi"), "add": ([2], "2"), "choose": (["off: "], "off: ")}
    for endpoint, (result, printed) in results.items():
        (line,) = [line for line in py if f'"{endpoint}"' in line]
        assert eval(line, {"s": s}) == result  # noqa: S307 - our own generated line
        (line,) = [line for line in sh if f" {endpoint} " in line]
        assert ok(*shlex.split(line)[1:]) == printed + "\n"


def test_python_values_are_checked_against_the_parameter_types(demo_app: AppServer) -> None:
    s = gs.new_session(demo_app.url, name="py")
    with pytest.raises(gs.ParameterError, match=r"'times' \(Times\) takes a number \(int or float\), got 'many' \(str\)"):
        s.call("echo", "a", times="many")
    with pytest.raises(gs.ParameterError, match="got True \\(bool\\)"):
        s.call("echo", "a", True)  # a bool is not a number
    with pytest.raises(gs.ParameterError, match="'text' \\(Text\\) takes a string \\(str\\), not None"):
        s.call("echo", None)
    with pytest.raises(gs.ParameterError, match="'flag' \\(Flag\\) takes a boolean"):
        s.call("choose", 1, ["x"])
    with pytest.raises(gs.ParameterError, match="'items' \\(Items\\) takes a list, got 'x'"):
        s.call("choose", True, "x")
    with pytest.raises(gs.ParameterError, match="'a' takes a number"):
        s.call("add", "1", 2)
    assert s.calls() == []  # nothing reached the app
    assert s.call("echo", "a", times=2) == ["aa"]  # an int for a float parameter
    assert s.call("add", 1, 2.5) == [3.5]
    assert s.call("choose", True, ("x", "z")) == ["on: x, z"]  # a tuple is a list
    assert bind(s.endpoint("echo"), ["a"], {"times": None}) == ["a", None]  # None: it has a default


def test_make_demo_leaves_nothing_behind(tmp_path: Path) -> None:
    """Report: `make demo` left its temporary repository and a CLI server behind."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    demo = Path(__file__).resolve().parent.parent / "examples" / "demo.py"
    r = subprocess.run([sys.executable, str(demo)], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "TMPDIR": str(scratch)})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "the temporary repository removed" in r.stdout
    assert list(scratch.iterdir()) == []
    left = [pid for pid in os.listdir("/proc") if pid.isdigit() and str(scratch).encode() in _cmdline(pid)]
    assert left == []


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
