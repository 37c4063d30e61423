"""Every feature against every Gradio release of the matrix: the demo app served by each one
(`any_gradio`: this venv's Gradio, and each `.venv-gradio/VERSION` that `make test` builds)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import gradio_session as gs
from conftest import APPS, DEMO_APP, ROOT, AppServer, cli, files_holding, gradio_versions, json_lines, wait_for
from kernel import run

VERSIONS = list(gradio_versions())


def session(app: AppServer, name: str) -> gs.Session:
    return gs.new_session(app.url, name=name)


def test_values_by_position_and_name(any_gradio: AppServer) -> None:
    s = session(any_gradio, "values")
    assert s.call("echo", "hi ", times=2) == ["hi hi "]
    assert s.call("add", 1, 2.5) == [3.5]
    assert s.call("choose", True, ["x", "z"]) == ["on: x, z"]


def test_state_across_processes(any_gradio: AppServer) -> None:
    session(any_gradio, "state")
    for word, n in (("first", 1), ("second", 2)):
        r = cli("call", "count", word, "--session", "state")
        assert r.returncode == 0 and r.stdout == f"{word} (call {n} of this session)\n", r.stderr


def test_streaming_and_queue_events(any_gradio: AppServer) -> None:
    s = session(any_gradio, "stream")
    c = s.invoke("stream", 3)
    names = [e.name for e in c.events()]
    assert names[0] == "queued" and "started" in names and names[-1] == "complete"
    assert [e.data for e in c.history() if e.name == "generating"] == [["0 "], ["0 1 "], ["0 1 2 "]]
    assert c.result() == ["0 1 2 "]


def test_progress_and_logs(any_gradio: AppServer) -> None:
    s = session(any_gradio, "steps")
    c = s.invoke("steps", 3)
    assert c.result() == ["3 steps"]
    progress = [e.data[0] for e in c.history() if e.name == "progress"]
    assert progress and progress[-1]["length"] == 3
    assert any(e.name == "log" for e in c.history())


def test_cancel(any_gradio: AppServer, tmp_path: Path) -> None:
    s = session(any_gradio, "cancel")
    mark = tmp_path / "marker"
    c = s.invoke("marker", str(mark), 3)
    wait_for(lambda: c.status == "running" or any(e.name == "started" for e in c.history()))
    assert c.cancel() is True
    assert s.calls()[-1].status == "cancelled"
    time.sleep(4)
    assert not mark.exists()


def test_cancel_from_another_process(any_gradio: AppServer, tmp_path: Path) -> None:
    """A detached call (read by the holder) cancelled by another command: it ends `cancelled`
    everywhere, and the app's generator never finishes."""
    s = session(any_gradio, "cancel-elsewhere")
    mark = tmp_path / "marker"
    r = cli("call", "marker", str(mark), "3", "--detach", "--session", "cancel-elsewhere")
    assert r.returncode == 0, r.stderr
    event_id = r.stdout.strip()
    wait_for(lambda: s.get_call(event_id).status == "running")
    r = cli("cancel", event_id, "--session", "cancel-elsewhere")
    assert r.returncode == 0 and "status cancelled" in r.stderr, r.stderr
    with pytest.raises(gs.CallCancelled):
        s.get_call(event_id).result()
    time.sleep(4)
    assert not mark.exists() and s.calls()[-1].status == "cancelled"


def test_detach_and_follow(any_gradio: AppServer) -> None:
    session(any_gradio, "detached")
    r = cli("call", "slow", "1", "--detach", "--session", "detached")
    assert r.returncode == 0, r.stderr
    event_id = r.stdout.strip()
    r = cli("result", event_id, "--session", "detached")
    assert r.returncode == 0 and r.stdout.strip() in ("slept 1", "slept 1.0"), r.stderr


def test_files_up_and_down(any_gradio: AppServer, tmp_path: Path) -> None:
    s = session(any_gradio, "files")
    source = tmp_path / "in.txt"
    source.write_text("abc")
    (fd,) = s.invoke("reverse_file", str(source)).result(download_path=tmp_path / "out")
    assert Path(fd["path"]).read_text() == "cba" and Path(fd["path"]).parent == tmp_path / "out"


def test_app_error_message(any_gradio: AppServer) -> None:
    s = session(any_gradio, "errors")
    try:
        s.call("fail", "x")
    except gs.AppError as exc:
        assert str(exc).endswith("cannot process 'x'"), str(exc)
    else:
        raise AssertionError("no AppError")


def test_json_events(any_gradio: AppServer) -> None:
    session(any_gradio, "json")
    r = cli("call", "echo", "j", "--json", "--session", "json")
    events = json_lines(r.stdout)
    assert r.returncode == 0 and [e["event"] for e in events][-1] == "complete" and events[-1]["data"] == ["j"]
    assert json.loads(cli("calls", "--json", "--session", "json").stdout)[0]["status"] == "complete"


def test_in_a_notebook(any_gradio: AppServer, tmp_path: Path) -> None:
    """In a real Jupyter kernel: the session with its endpoints, an image result shown (a dict
    still, with its real size and type), a `gr.Progress` call's bar and the app's messages."""
    ran = run([f"import gradio_session as gs\ns = gs.new_session({any_gradio.url!r}, name='nb')\ns",
               "import os\nr = s.api.picture(16)\nprint(r[:22] if isinstance(r, str) else "
               "(r['mime_type'], r['size'] == os.path.getsize(r['path'])))\nr",
               "s.call('steps', 3)"], tmp_path)
    assert "<code>/picture</code>" in ran.result(0)["text/html"]
    gradio3 = gs.new_session(any_gradio.url, name="v").app.version.startswith("3.")  # type: ignore[union-attr]
    assert ran.stdout(1) == ("data:image/png;base64,\n" if gradio3 else "('image/png', True)\n")  # 3.x: inline
    assert ran.result(1)["text/html"].startswith("<div><img src='data:image/png;base64,")
    assert {"Info: stepping 3 times", "Warning: all steps done"} <= {b.get("text/plain") for b in ran.bundles(2)}
    assert "FloatProgressModel" in [m["data"]["state"]["_model_name"] for m in ran.sent(2, "comm_open")]


@pytest.mark.parametrize("version", VERSIONS)
def test_api_from_config_when_info_fails(version: str) -> None:
    """`/info` answering 500: the API is built from `/config`, parameter names from the labels."""
    with AppServer(APPS / "broken_info_app.py", python=gradio_versions()[version]) as app:
        s = gs.new_session(app.url, name="no-info")
        assert [p.name for p in s.endpoint("echo").parameters] == ["text", "times"]
        assert s.endpoint("echo").parameters[1].default == 1
        assert s.call("echo", "ab", times=2) == ["abab"]
        r = cli("call", "choose", "flag=true", 'items=["y"]', "--session", "no-info")
        assert r.returncode == 0 and r.stdout == "on: y\n", r.stderr


def gradio3() -> str:
    python = next((p for v, p in gradio_versions().items() if v.startswith("3.")), None)
    assert python is not None, "make test builds a Gradio 3 venv (the Makefile's MATRIX)"
    return python


def test_gradio3_without_its_queue() -> None:
    """A Gradio 3.x app without the queue: each call one `POST /run/{api}`; detachable (the
    holder makes the request), not cancellable (said so), errors as the app words them."""
    with AppServer(APPS / "gradio3_app.py", python=gradio3()) as app:
        s = gs.new_session(app.url, name="old")
        assert s.call("echo", "hi") == ["hi"]
        c = s.invoke("slow", 0.5)
        with pytest.raises(gs.CallError, match="can't be cancelled: .*a plain request can't be stopped"):
            c.cancel()
        assert c.result() == ["slept 0.5"]
        with pytest.raises(gs.AppError, match="cannot process 'x'$"):
            s.call("fail", "x")
        r = cli("call", "slow", "1", "--detach", "--session", "old")
        assert r.returncode == 0, r.stderr
        event_id = r.stdout.strip()
        r = cli("cancel", event_id, "--session", "old")
        assert r.returncode == 1 and "can't be cancelled" in r.stderr and "Traceback" not in r.stderr
        r = cli("result", event_id, "--session", "old")
        assert r.returncode == 0 and r.stdout == "slept 1.0\n", r.stderr


def test_gradio3_server_killed_mid_call() -> None:
    """A 3.x call's socket dies with its server: the call ends failed as lost, recorded so."""
    app = AppServer(DEMO_APP, python=gradio3())
    try:
        s = gs.new_session(app.url, name="old")
        c = s.invoke("slow", 30)
        wait_for(lambda: c.status == "running")
        app.stop()
        with pytest.raises(gs.StreamError, match="is lost"):
            c.result(timeout=20)
        assert s.calls()[-1].status == "failed"
    finally:
        app.stop()


def test_an_unknown_protocol_calls_through_the_call_route() -> None:
    """A queue protocol no dialect knows (a future Gradio): calls go one at a time through
    `/call/{api}` and its event stream; no detach, no cancel, each said clearly."""
    with AppServer(APPS / "unknown_protocol_app.py") as app:
        s = gs.new_session(app.url, name="future")
        assert s.call("echo", "ab", times=2) == ["abab"]
        c = s.invoke("stream", 3)
        assert [e.name for e in c.events()][-2:] == ["generating", "complete"] and c.result() == ["0 1 2 "]
        with pytest.raises(gs.AppError, match="cannot process 'x'$"):
            s.call("fail", "x")
        assert not s.can_detach("slow")
        with pytest.raises(gs.CallError, match="can't be detached"):
            s.detach("slow", 0.1)
        c = s.invoke("slow", 0.3)
        with pytest.raises(gs.CallError, match="can't be cancelled"):
            c.cancel()
        assert c.result() == ["slept 0.3"]
        r = cli("call", "echo", "z", "--session", "future")
        assert r.returncode == 0 and r.stdout == "z\n", r.stderr


def test_the_matrix_is_built() -> None:
    """`make test` builds the venvs of the Makefile's MATRIX; a missing one would go untested."""
    matrix = next(line for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith("MATRIX :="))
    assert set(matrix.split(":=")[1].split()) <= set(gradio_versions())


@pytest.mark.parametrize("version", VERSIONS)
def test_login(version: str, tmp_path: Path, home: Path) -> None:
    """An app behind Gradio's login (`launch(auth=...)`): a wrong password refused at `new` (no
    session recorded), the login kept by the session for every process (calls, state, files up
    and down; the 3.x WebSocket too), made again when the restarted app forgot it, forgotten
    by `logout`; the password never in SQLite."""
    python = gradio_versions()[version]
    app = AppServer(APPS / "auth_app.py", python=python)
    try:
        with pytest.raises(gs.AccessDenied, match="this app wants a login: .*--login USER.*Ask Bob for the password"):
            gs.new_session(app.url, name="in")
        r = cli("new", app.url, "--name", "in", "--login", "alice", "--password-stdin", input="wrong\n")
        assert r.returncode == 1 and "refused the login of 'alice'" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert gs.list_sessions() == []
        r = cli("new", app.url, "--name", "in", "--login", "alice", "--password-stdin", input="secret\n")
        assert r.returncode == 0, r.stderr
        for n in (1, 2):  # each a process of its own: the login's cookies are the session's
            r = cli("call", "count", "--session", "in")
            assert r.returncode == 0 and float(r.stdout) == n, r.stderr
        s = gs.get_session("in")
        source = tmp_path / "in.txt"
        source.write_bytes(b"12345")
        assert s.call("size", str(source)) == ["5"]
        (fd,) = s.call("make_file", "made here")
        assert Path(fd["path"]).read_text() == "made here"
        r = cli("call", "echo", "held", "--detach", "--session", "in")  # read by the holder, another process
        assert r.returncode == 0, r.stderr
        r = cli("result", r.stdout.strip(), "--session", "in")
        assert r.returncode == 0 and r.stdout == "held\n", r.stderr
        assert [(x.username, x.ok) for x in s.logins()] == [("alice", True)]  # once, at `new`
        s.close()
        app.stop()
        app = AppServer(APPS / "auth_app.py", python=python, port=app.port)  # it forgot every login
        assert s.call("echo", "back") == ["back"]
        assert [(x.username, x.ok) for x in s.logins()] == [("alice", True)] * 2
        shown = cli("show", "in").stdout
        assert "logged in as alice (last login " in shown and "secret" not in shown
        assert files_holding(home, "secret") == [f"tokens/{s.id}"]
        r = cli("logout", "in")
        assert r.returncode == 0, r.stderr
        r = cli("call", "echo", "x", "--session", "in")
        assert r.returncode == 1 and "this app wants a login" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert files_holding(home, "secret") == []
    finally:
        app.stop()
