"""Failures: the server dies mid-call, sends garbage, tears the stream, or refuses the call."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import gradio_session as gs
from conftest import APPS, DEMO_APP, AppServer, cli, wait_for
from standin import standin


def _running_slow_call(s: gs.Session) -> gs.Call:
    """A 30 s call, once the app has started it."""
    c = s.invoke("slow", 30)
    for event in c.events():
        if event.name == "started":
            break
    return c


def test_server_killed_mid_stream_fails_the_call(fresh_app: AppServer) -> None:
    s = gs.new_session(fresh_app.url, name="dying")
    c = _running_slow_call(s)
    fresh_app.stop()
    with pytest.raises(gs.StreamError, match="no longer has the call .*: it is lost"):
        c.result()
    (record,) = s.calls()
    assert record.status == "failed" and record.finished_at and "lost" in (record.error or "")
    assert c.status == "failed"


def test_server_restarted_mid_call(fresh_app: AppServer) -> None:
    """The app is killed mid-call and a new process takes its port: the call fails clearly
    (the new server never heard of it), the session stays usable, the next call works."""
    s = gs.new_session(fresh_app.url, name="restarted")
    c = _running_slow_call(s)
    fresh_app.stop()
    with AppServer(DEMO_APP, port=fresh_app.port):
        with pytest.raises(gs.StreamError, match="it is lost"):
            c.result(timeout=60)
        assert s.call("echo", "back", 1) == ["back"]
        r = cli("call", "echo", "cli", "--session", "restarted")
        assert r.returncode == 0 and r.stdout.strip() == "cli", r.stderr
    assert [c.status for c in s.calls()] == ["failed", "complete", "complete"]


def test_a_cli_call_whose_app_dies_mid_stream(fresh_app: AppServer) -> None:
    """The app is killed while a `gradio-session call` process reads the call's stream (the CLI
    server killed mid-call: `test_cli_server.py::test_server_killed_mid_call`)."""
    gs.new_session(fresh_app.url, name="dying")
    proc = subprocess.Popen([sys.executable, "-m", "gradio_session", "call", "slow", "30"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: [c.status for c in gs.get_session("dying").calls()] == ["running"])  # the app has it
    fresh_app.stop()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "Traceback" not in err and "Error:" in err and "lost" in err
    assert [c.status for c in gs.get_session("dying").calls()] == ["failed"]
    # the repository is still usable and consistent
    assert cli("calls", "--session", "dying", "--json").returncode == 0


@pytest.mark.parametrize("mode, match, reads", [
    ("garbage", r"Malformed.*no longer has the call ev0: it is lost", 5),
    ("torn", r"closed the event stream mid-call.*no longer has the call ev0: it is lost", 5),
    ("bad_diff", "Unknown diff operation", 1),
])
def test_broken_streams_fail_cleanly(mode: str, match: str, reads: int) -> None:
    """A stream torn or garbled after the call's first event, where the server then has nothing
    more for it (a reopened stream says `close_stream`): a few reopens, then the call is lost."""
    paths: list[str] = []
    with standin(mode, paths=paths) as url:
        s = gs.new_session(url, name=mode)
        with pytest.raises(gs.StreamError, match=match):
            s.call("echo", "x")
        (record,) = s.calls()
        assert record.status == "failed"
        # the first stream, at once a reopen (it brought news), then three with growing waits. A
        # malformed diff fails the call at once, but only once the call is recorded: the reader
        # opens on the join's answer, and on a loaded machine it may reopen a quiet stream or two
        # before the record comes - never more than the reopen policy's five reads.
        assert reads <= paths.count("/gradio_api/queue/data") <= 5, paths
        r = cli("call", "echo", "x", "--session", mode, timeout=30)
        assert r.returncode == 1 and "Traceback" not in r.stderr
        assert "lost" in r.stderr or "Unknown diff" in r.stderr


def test_queue_full_is_refused_clearly() -> None:
    """A real Gradio whose queue holds one waiting call (`queue(max_size=1)`), one call running:
    the next call is refused with Gradio's own words, and nothing of it is recorded."""
    with AppServer(APPS / "queue_app.py", "1") as app:
        s = gs.new_session(app.url, name="full")
        running = s.invoke("slow", 30)
        wait_for(lambda: running.status == "running")
        waiting = s.invoke("slow", 30)
        wait_for(lambda: any(e.name == "queued" for e in waiting.history()))
        with pytest.raises(gs.QueueFull, match=r"queue is full \(HTTP 503: Queue is full. Max size is 1"):
            s.call("slow", 1)
        assert [c.event_id for c in s.calls()] == [running.event_id, waiting.event_id]  # nothing more recorded
        gs.new_session(app.url, name="other")  # a stream of its own (this process reads the first one's)
        r = cli("call", "slow", "1", "--session", "other")
        assert r.returncode == 1 and "Traceback" not in r.stderr
        assert r.stderr.strip().splitlines()[-1].startswith("Error: The app's queue is full (HTTP 503: Queue is full.")
        assert running.cancel()
        with pytest.raises(gs.CallCancelled):  # Gradio ends the endpoint's other calls of the session too
            waiting.result(timeout=10)


def test_repository_unreadable_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "not-a-db"
    bad.mkdir()
    (bad / "sessions.db").write_bytes(b"this is not sqlite" * 100)
    monkeypatch.setenv("GRADIO_SESSION_HOME", str(bad))
    r = cli("list")
    assert r.returncode == 1 and "Traceback" not in r.stderr and "repository" in r.stderr


def test_a_refused_event_stream_through_an_injected_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    """The network swapped for an `httpx.MockTransport` (a fault no real server makes on demand:
    `/queue/data` answering 500 each time): the call fails clearly after three reopens."""
    import httpx

    from gradio_session.core.runtime import runtime
    from standin import CONFIG, INFO

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/config":
            return httpx.Response(200, json=CONFIG)
        if request.url.path == "/gradio_api/info":
            return httpx.Response(200, json=INFO)
        if request.url.path == "/gradio_api/queue/join":
            return httpx.Response(200, json={"event_id": "ev1"})
        return httpx.Response(500, text="boom")

    monkeypatch.setattr(runtime(), "http", httpx.MockTransport(handler))
    s = gs.new_session("http://mock.invalid", name="mock")
    with pytest.raises(gs.StreamError, match="refused the event stream .HTTP 500.*it is lost"):
        s.call("echo", "x")
    assert [c.status for c in s.calls()] == ["failed"]
    assert seen.count("/gradio_api/queue/data") == 4  # three reopens, none of them at once, then lost


def _mock_app(join: Any) -> Any:
    """A MockTransport handler speaking the stand-in's app; `join(n)` answers the n-th join."""
    import httpx

    from standin import CONFIG, INFO

    joins: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/config":
            return httpx.Response(200, json=CONFIG)
        if path == "/gradio_api/info":
            return httpx.Response(200, json=INFO)
        if path == "/gradio_api/queue/join":
            joins.append(1)
            return join(len(joins), request)
        if path == "/gradio_api/queue/data":
            done = {"msg": "process_completed", "event_id": "ev1", "success": True, "output": {"data": ["x"]}}
            return httpx.Response(200, headers={"content-type": "text/event-stream"},
                                  content=f"data: {json.dumps(done)}\n\n".encode())
        return httpx.Response(404)

    handler.joins = joins  # type: ignore[attr-defined]
    return handler


def test_a_join_that_never_reached_the_app_is_sent_again(monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    from gradio_session.core.runtime import runtime

    def join(n: int, request: httpx.Request) -> httpx.Response:
        if n == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json={"event_id": "ev1"})

    handler = _mock_app(join)
    monkeypatch.setattr(runtime(), "http", httpx.MockTransport(handler))
    s = gs.new_session("http://mock.invalid", name="refused-once")
    assert s.call("echo", "x") == ["x"]
    assert len(handler.joins) == 2 and [c.status for c in s.calls()] == ["complete"]


def test_a_join_whose_answer_was_lost_is_never_sent_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The request went out, the connection died before the answer: the app may be running the
    call, so it is not sent again; the user is told, and the attempt is recorded."""
    import httpx

    from gradio_session.core.runtime import runtime

    def join(n: int, request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)

    handler = _mock_app(join)
    monkeypatch.setattr(runtime(), "http", httpx.MockTransport(handler))
    s = gs.new_session("http://mock.invalid", name="lost-answer")
    with pytest.raises(gs.CallMayHaveStarted, match="may have started. It was not sent again"):
        s.call("echo", "x")
    assert len(handler.joins) == 1
    (record,) = s.calls()
    assert record.status == "failed" and record.event_id.startswith("unanswered-")
    assert "may have started" in (record.error or "")
