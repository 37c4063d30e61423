"""Failures: the server dies mid-call, sends garbage, tears the stream, or refuses the call."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

import gradio_session as gs
from conftest import AppServer, cli, wait_for
from standin import standin


def test_server_killed_mid_stream_fails_the_call(fresh_app: AppServer) -> None:
    s = gs.new_session(fresh_app.url, name="dying")
    c = s.invoke("slow", 30)
    for event in c.events():
        if event.name == "started":
            break
    fresh_app.stop()
    with pytest.raises(gs.StreamError, match="recorded as failed"):
        c.result()
    (record,) = s.calls()
    assert record.status == "failed" and record.finished_at and "lost" in (record.error or "")
    assert c.status == "failed"


def test_cli_server_killed_mid_stream(fresh_app: AppServer) -> None:
    gs.new_session(fresh_app.url, name="dying")
    proc = subprocess.Popen([sys.executable, "-m", "gradio_session", "call", "slow", "30"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: gs.get_session("dying").calls())
    time.sleep(0.5)
    fresh_app.stop()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "Traceback" not in err and "Error:" in err and "lost" in err
    assert [c.status for c in gs.get_session("dying").calls()] == ["failed"]
    # the repository is still usable and consistent
    assert cli("calls", "--session", "dying", "--json").returncode == 0


@pytest.mark.parametrize("mode, match", [
    ("garbage", "Malformed"),
    ("torn", "closed the event stream mid-call"),
    ("bad_diff", "Unknown diff operation"),
])
def test_broken_streams_fail_cleanly(mode: str, match: str) -> None:
    with standin(mode) as url:
        s = gs.new_session(url, name=mode)
        with pytest.raises(gs.StreamError, match=match):
            s.call("echo", "x")
        (record,) = s.calls()
        assert record.status == "failed"
        r = cli("call", "echo", "x", "--session", mode)
        assert r.returncode == 1 and "Traceback" not in r.stderr and match in r.stderr


def test_queue_full_is_refused_clearly() -> None:
    with standin("full") as url:
        s = gs.new_session(url, name="full")
        with pytest.raises(gs.QueueFull, match="queue is full"):
            s.call("echo", "x")
        assert s.calls() == []  # never accepted, nothing recorded
        r = cli("call", "echo", "x", "--session", "full")
        assert r.returncode == 1 and "queue is full" in r.stderr


def test_repository_unreadable_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "not-a-db"
    bad.mkdir()
    (bad / "sessions.db").write_bytes(b"this is not sqlite" * 100)
    monkeypatch.setenv("GRADIO_SESSION_HOME", str(bad))
    r = cli("list")
    assert r.returncode == 1 and "Traceback" not in r.stderr and "repository" in r.stderr


def test_a_refused_event_stream_through_an_injected_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    """The network swapped for an `httpx.MockTransport` (a fault no real server makes on demand:
    `/queue/data` answering 500 each time): the call fails clearly, after one reopen."""
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
    with pytest.raises(gs.StreamError, match="refused the event stream .HTTP 500.*lost"):
        s.call("echo", "x")
    assert [c.status for c in s.calls()] == ["failed"]
    assert seen.count("/gradio_api/queue/data") == 2  # one reopen, then the call is failed
