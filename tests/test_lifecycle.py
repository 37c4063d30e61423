"""The life of a call: cancel, timeouts, retries, progress/queue/log events, history."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import gradio_session as gs
from conftest import APPS, AppServer, cli, json_lines, never_written, wait_for
from standin import standin


@pytest.fixture(scope="module")
def queue_app() -> Iterator[AppServer]:
    with AppServer(APPS / "queue_app.py") as server:
        yield server


def started(s: gs.Session) -> bool:
    return any(c.status == "running" for c in s.calls())


# --- cancel -----------------------------------------------------------------------------------


def test_cancel_stops_the_call_on_the_server(demo_app: AppServer, tmp_path: Path) -> None:
    s = gs.new_session(demo_app.url, name="c")
    mark = tmp_path / "marker"
    since = time.monotonic()
    c = s.invoke("marker", str(mark), 2)
    for event in c.events():
        if event.name == "generating":
            break
    assert c.cancel() is True
    assert c.status == "cancelled" and c.done
    with pytest.raises(gs.CallCancelled, match="cancelled"):
        c.result()
    assert [e.name for e in c.events()][-1] == "cancelled"
    (record,) = s.calls()
    assert record.status == "cancelled" and record.finished_at
    assert c.cancel() is False  # a finished call: a no-op
    never_written(mark, since, 2)
    assert s.call("echo", "still works") == ["still works"]


def test_cancel_from_another_process(demo_app: AppServer, tmp_path: Path) -> None:
    s = gs.new_session(demo_app.url, name="c")
    mark = tmp_path / "marker"
    since = time.monotonic()
    c = s.invoke("marker", str(mark), 3)
    wait_for(lambda: started(s))
    r = cli("cancel", c.event_id, "--session", "c", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"event_id": c.event_id, "cancelled": True, "status": "cancelled"}
    with pytest.raises(gs.CallCancelled):
        c.result()
    assert [r.status for r in s.calls()] == ["cancelled"]
    r = cli("cancel", c.event_id, "--session", "c")  # again: a clear no-op
    assert r.returncode == 0 and "already ended (cancelled)" in r.stderr
    r = cli("cancel", "nope", "--session", "c")
    assert r.returncode == 1 and "No call 'nope' in session 'c'" in r.stderr
    never_written(mark, since, 3)


def test_sigint_cancels_a_cli_call(demo_app: AppServer, tmp_path: Path) -> None:
    s = gs.new_session(demo_app.url, name="c")
    mark = tmp_path / "marker"
    since = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "gradio_session", "call", "marker", str(mark), "3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: started(s))
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Cancelled the call" in err and "Traceback" not in err
    assert [c.status for c in s.calls()] == ["cancelled"]
    never_written(mark, since, 3)


# --- timeouts and retries ---------------------------------------------------------------------


def test_timeout_cancels_the_call(demo_app: AppServer, tmp_path: Path) -> None:
    s = gs.new_session(demo_app.url, name="t")
    mark, again = tmp_path / "marker", tmp_path / "again"
    since = time.monotonic()
    c = s.invoke("marker", str(mark), 3)
    with pytest.raises(gs.CallTimeout, match="timed out"):
        c.result(timeout=0.5)
    assert c.status == "timed_out" and s.calls()[0].status == "timed_out"
    since_cli = time.monotonic()
    r = cli("call", "marker", str(again), "3", "--timeout", "0.5", "--json", "--session", "t")
    assert r.returncode == 1 and "timed out" in r.stderr
    assert json_lines(r.stdout)[-1]["event"] == "timed_out"
    assert [c.status for c in s.calls()] == ["timed_out", "timed_out"]
    never_written(mark, since, 3)
    never_written(again, since_cli, 3)


def test_busy_server_is_retried_before_acceptance() -> None:
    with standin("busy", output=["ok"]) as url:
        s = gs.new_session(url, name="busy")
        assert s.call("echo", "x") == ["ok"]
        assert len(s.calls()) == 1


# --- progress, queue position, logs -----------------------------------------------------------


def test_progress_and_log_events(demo_app: AppServer) -> None:
    s = gs.new_session(demo_app.url, name="p")
    c = s.invoke("steps", 3)
    events = list(c.events())
    assert c.result() == ["3 steps"]
    names = [e.name for e in events]
    assert names.count("progress") == 3 and names[-1] == "complete"
    assert [e.num for e in events] == list(range(1, len(events) + 1))
    first = next(e for e in events if e.name == "progress")
    assert first.data == [{"index": 0, "length": 3, "unit": "steps", "progress": None, "desc": "Stepping"}]
    logs = [e.data for e in events if e.name == "log"]
    assert [(d["level"], d["message"]) for d in logs] == [("info", "stepping 3 times"), ("warning", "all steps done")]
    lines = json_lines(cli("call", "steps", "2", "--json", "--session", "p").stdout)
    assert [line["event"] for line in lines].count("progress") == 2
    assert {"level": "info", "message": "stepping 2 times"}.items() <= next(
        line["data"] for line in lines if line["event"] == "log").items()
    human = cli("call", "steps", "2", "--session", "p")
    assert human.returncode == 0 and "stepping 2 times" in human.stderr and "warning" in human.stderr


def test_queue_position_and_history(queue_app: AppServer) -> None:
    s = gs.new_session(queue_app.url, name="q")
    first = s.invoke("slow", 1)
    wait_for(lambda: first.status == "running")
    second, third = s.invoke("slow", 0.1), s.invoke("slow", 0.1)
    assert [c.result() for c in (first, second, third)] == [["slept 1"], ["slept 0.1"], ["slept 0.1"]]
    queued = [e.data for e in third.events() if e.name == "queued"]
    assert queued[0] == {"rank": 1, "queue_size": 2, "eta": queued[0]["eta"]}
    waits = {c.event_id: c.queue_wait for c in s.calls()}
    assert waits[second.event_id] > 0.5 > waits[first.event_id]
    rows = json.loads(cli("calls", "--json", "--session", "q").stdout)
    assert all(r["duration"] > 0 and r["queue_wait"] is not None for r in rows)
    assert "queue wait" in cli("calls", "--session", "q").stdout


# --- history: list and forget -----------------------------------------------------------------


def test_calls_filter_and_forget(demo_app: AppServer, tmp_path: Path) -> None:
    s = gs.new_session(demo_app.url, name="h")
    s.call("echo", "a")
    with pytest.raises(gs.AppError):
        s.call("fail", "b")
    running = s.invoke("marker", str(tmp_path / "m"), 30)
    wait_for(lambda: started(s))
    assert [c.endpoint for c in s.calls("complete")] == ["/echo"]
    assert [c["endpoint"] for c in json.loads(cli("calls", "--status", "error", "--json", "--session", "h").stdout)] == ["/fail"]
    # dry run lists what would go, and nothing goes
    dry = json.loads(cli("forget", "--all", "--dry-run", "--json", "--session", "h").stdout)
    assert dry == {"dry_run": True, "event_ids": [c.event_id for c in s.calls()[:2]]}
    assert len(s.calls()) == 3
    with pytest.raises(gs.CallError, match="still running"):
        s.forget(running.event_id)
    with pytest.raises(gs.CallNotFound, match="session 'h'"):
        s.forget("nope")
    r = cli("forget", "nope", "--session", "h")
    assert r.returncode == 1 and "No call 'nope' in session 'h'" in r.stderr
    assert s.forget(completed=True) == dry["event_ids"]
    assert [c.event_id for c in s.calls()] == [running.event_id]
    assert s.forget(all=True, force=True, dry_run=True) == [running.event_id]
    running.cancel()
    r = cli("forget", running.event_id, "--session", "h")
    assert r.returncode == 0 and "Forgot 1 call(s)" in r.stderr
    assert s.calls() == []


def test_max_calls_remove_forgets_finished_calls(demo_app: AppServer) -> None:
    s = gs.new_session(demo_app.url, name="m")
    gs.set_options("m", max_calls=2, max_calls_policy="remove")
    for text in "abc":
        s.call("echo", text)
    assert [c.inputs[0] for c in s.calls()] == ["b", "c"]


def test_cancel_ends_the_running_siblings_gradio_stops_too(demo_app: AppServer, tmp_path: Path) -> None:
    s = gs.new_session(demo_app.url, name="c")
    since = time.monotonic()
    a, b = s.invoke("marker", str(tmp_path / "a"), 3), s.invoke("marker", str(tmp_path / "b"), 3)
    other = s.invoke("slow", 1)
    wait_for(lambda: a.status == b.status == "running")
    assert s.cancel(a.event_id) is True
    with pytest.raises(gs.CallCancelled, match="every running call"):
        b.result(timeout=5)
    assert other.result() == ["slept 1"]  # another endpoint is left alone
    assert [c.status for c in s.calls()] == ["cancelled", "cancelled", "complete"]
    never_written(tmp_path / "a", since, 3)
    never_written(tmp_path / "b", since, 3)


def test_cancel_with_no_process_holding_the_call(demo_app: AppServer) -> None:
    s = gs.new_session(demo_app.url, name="orphan")
    s._inner.repository.add_call(gs.CallRecord(event_id="e1", session_id=s.id, endpoint="/slow", inputs=[1],
                                               status="running", started_at=time.time()))
    r = cli("cancel", "e1", "--session", "orphan")
    assert r.returncode == 0 and "Cancelled the call e1" in r.stderr, r.stderr
    assert [c.status for c in s.calls()] == ["cancelled"]


# --- following a call from another process ---------------------------------------------------


def test_result_follows_a_call_running_in_another_process(demo_app: AppServer) -> None:
    gs.new_session(demo_app.url, name="follow")
    caller = subprocess.Popen([sys.executable, "-m", "gradio_session", "call", "stream", "60", "--json",
                               "--session", "follow"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: gs.get_session("follow").calls())
    (record,) = gs.get_session("follow").calls()
    assert record.status not in ("complete",)  # still running: the follower must wait for live events
    r = cli("result", record.event_id, "--follow", "--json", "--session", "follow")
    out, err = caller.communicate(timeout=60)
    assert caller.returncode == 0, err
    assert r.returncode == 0, r.stderr
    followed, original = json_lines(r.stdout), json_lines(out)
    assert [e["num"] for e in followed] == list(range(1, len(followed) + 1))  # none lost, none repeated
    assert [(e["num"], e["event"], e["data"]) for e in followed] == [
        (e["num"], e["event"], e["data"]) for e in original]
    assert followed[-1]["event"] == "complete"
    assert followed[-1]["data"] == ["".join(f"{i} " for i in range(60))]


def test_get_call_of_finished_calls(demo_app: AppServer) -> None:
    s = gs.new_session(demo_app.url, name="found")
    ok_id = s.invoke("echo", "again").event_id
    s.get_call(ok_id).result()
    bad = s.invoke("fail", "x")
    with pytest.raises(gs.AppError):
        bad.result()
    other = gs.get_session("found")  # a new handle: the calls come from the repository
    assert other.get_call(ok_id).result() == ["again"]
    assert [e.name for e in other.get_call(ok_id).history()][-1] == "complete"
    with pytest.raises(gs.AppError, match="cannot process 'x'"):
        other.get_call(bad.event_id).result()
    with pytest.raises(gs.CallNotFound, match="in session 'found'"):
        other.get_call("nope")
    r = cli("result", bad.event_id, "--session", "found")
    assert r.returncode == 1 and "cannot process 'x'" in r.stderr
    r = cli("result", ok_id, "--session", "found")
    assert r.returncode == 0 and r.stdout == "again\n"


def test_following_a_call_whose_holder_died(demo_app: AppServer) -> None:
    gs.new_session(demo_app.url, name="orphan")
    caller = subprocess.Popen([sys.executable, "-m", "gradio_session", "call", "slow", "30",
                               "--session", "orphan"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: gs.get_session("orphan").calls())
    caller.kill()
    caller.wait()
    (record,) = gs.get_session("orphan").calls()
    r = cli("result", record.event_id, "--session", "orphan")
    assert r.returncode == 1 and "interrupted" in r.stderr and "Traceback" not in r.stderr
    assert gs.get_session("orphan").calls()[0].status == "interrupted"
