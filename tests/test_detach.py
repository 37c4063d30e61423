"""Detached calls and the background holder; heartbeat-limited waits and their handover."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import gradio_session as gs
from conftest import APPS, AppServer, cli, json_lines, wait_for
from gradio_session.core.runtime import runtime
from gradio_session.aio import get_session as get_async_session
from gradio_session.aio import new_session as new_async_session


@pytest.fixture(scope="module")
def beat_app() -> Iterator[AppServer]:
    """Heartbeats every 0.2 s instead of 15 (see tests/apps/beat_app.py)."""
    with AppServer(APPS / "beat_app.py") as server:
        yield server


def status_of(session: str, event_id: str) -> str:
    return gs.get_session(session).get_call(event_id).status


def generated(events: list[dict]) -> list[object]:  # type: ignore[type-arg]
    return [e["data"][0] for e in events if e.get("event") == "generating"]


# --- detach ------------------------------------------------------------------------------------


def test_detached_call_runs_on_and_is_followed_from_another_process(demo_app: AppServer) -> None:
    gs.new_session(demo_app.url, name="det")
    r = cli("call", "stream", "40", "--detach", "--json", "--session", "det")
    assert r.returncode == 0, r.stderr
    (started,) = json_lines(r.stdout)
    event_id = started["event_id"]
    # the caller has exited; the holder reads the call and records it
    r = cli("result", event_id, "--json", "--session", "det")
    assert r.returncode == 0, r.stderr
    events = json_lines(r.stdout)
    assert [e["num"] for e in events] == list(range(1, len(events) + 1))  # in order, none lost or repeated
    assert generated(events) == ["".join(f"{i} " for i in range(n)) for n in range(1, 41)]
    assert events[-1]["event"] == "complete"
    again = json_lines(cli("result", event_id, "--json", "--session", "det").stdout)
    assert again == events  # what was followed live is what was recorded


def test_a_detached_call_does_not_hold_up_other_calls(demo_app: AppServer) -> None:
    gs.new_session(demo_app.url, name="busy")
    r = cli("call", "slow", "4", "--detach", "--session", "busy")
    assert r.returncode == 0, r.stderr
    event_id = r.stdout.strip()
    # another process's call starts at once and gets its own result...
    r = cli("call", "echo", "meanwhile", "--session", "busy")
    assert r.returncode == 0 and r.stdout == "meanwhile\n", r.stderr
    # ...and so does this one's, through the Python API
    s = gs.get_session("busy")
    assert s.call("add", 2, 3) == [5]
    assert status_of("busy", event_id) in ("queued", "running")  # both came back before it ended
    r = cli("result", event_id, "--session", "busy")
    assert r.returncode == 0 and r.stdout == "slept 4\n", r.stderr
    statuses = {c.endpoint: c.status for c in s.calls()}
    assert statuses == {"/slow": "complete", "/echo": "complete", "/add": "complete"}


def test_detach_while_another_process_reads_the_stream(demo_app: AppServer) -> None:
    """The holder waits for the process reading the session's stream; neither loses a call."""
    gs.new_session(demo_app.url, name="queue")
    reader = subprocess.Popen([sys.executable, "-m", "gradio_session", "call", "slow", "2", "--session", "queue"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: gs.get_session("queue").calls())
    r = cli("call", "echo", "after", "--detach", "--session", "queue")
    assert r.returncode == 0, r.stderr
    out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0 and out == "slept 2\n", err
    r = cli("result", r.stdout.strip(), "--session", "queue")
    assert r.returncode == 0 and r.stdout == "after\n", r.stderr


def test_many_processes_calling_while_the_holder_reads(demo_app: AppServer, tmp_path: Path) -> None:
    s = gs.new_session(demo_app.url, name="crowd")
    keeper = s.detach("slow", 60)  # keeps the holder on the session's stream
    script = tmp_path / "worker.sh"
    script.write_text('for i in 0 1 2 3 4; do\n'
                      '  "$PY" -m gradio_session call echo "p$1-$i" --session crowd --json || exit 1\n'
                      'done\n')
    procs = [subprocess.Popen(["bash", str(script), str(n)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env={**os.environ, "PY": sys.executable}) for n in range(4)]
    in_python = [s.call("add", i, 1) for i in range(5)]
    outs = [p.communicate(timeout=120) for p in procs]
    for n, (p, (out, err)) in enumerate(zip(procs, outs)):
        assert p.returncode == 0, err
        events = json_lines(out)
        assert [e["data"] for e in events if e["event"] == "complete"] == [[f"p{n}-{i}"] for i in range(5)]
    assert in_python == [[i + 1] for i in range(5)]
    assert keeper.status != "complete" and keeper.cancel() is True
    records = s.calls()
    assert len(records) == 26
    assert {r.status for r in records if r.endpoint != "/slow"} == {"complete"}
    assert all(r.reader for r in records)  # each was read by one process: this one, or the holder


def test_detach_in_python_and_cancel_from_the_cli(demo_app: AppServer, tmp_path: Path) -> None:
    s = gs.new_session(demo_app.url, name="dc")
    mark = tmp_path / "marker"
    c = s.detach("marker", str(mark), 2)
    for event in c.events():
        if event.name == "generating":
            break
    r = cli("cancel", c.event_id, "--session", "dc")
    assert r.returncode == 0 and "Cancelled the call" in r.stderr, r.stderr
    with pytest.raises(gs.CallCancelled):
        c.result()
    assert c.status == "cancelled"
    time.sleep(3)  # the generator would have written the marker by now
    assert not mark.exists()


def test_timeout_of_a_call_read_by_the_holder(demo_app: AppServer) -> None:
    s = gs.new_session(demo_app.url, name="dt")
    c = s.detach("slow", 30)
    with pytest.raises(gs.CallTimeout, match="timed out"):
        c.result(timeout=1)
    assert c.status == "timed_out"
    assert [r.status for r in s.calls()] == ["timed_out"]


def test_a_call_left_to_a_holder_that_left_gets_a_new_one(demo_app: AppServer) -> None:
    """A holder leaving just as a call is joined for it: whoever follows the call starts one."""
    import asyncio

    gs.new_session(demo_app.url, name="late")

    async def scenario() -> list[str]:
        s = await get_async_session("late")
        ep = s.endpoint("echo")
        url, body = s.dialect.join(ep, ["late", 1], s.record.session_hash)
        async with httpx.AsyncClient() as client:  # joined as if for a holder, none running
            event_id = (await client.post(url, json=body)).json()["event_id"]
        s.repository.add_call(gs.CallRecord(event_id=event_id, session_id=s.id, endpoint=ep.name,
                                            inputs=["late", 1], status="queued", started_at=time.time()))
        c = await s.get_call(event_id)
        try:
            return await c.result(timeout=30)  # type: ignore[no-any-return]
        finally:
            await s.aclose()

    assert asyncio.run(scenario()) == ["late"]
    (record,) = gs.get_session("late").calls()
    assert record.status == "complete"
    started = runtime().holders.spawned[record.session_id]  # the follower started a holder...
    assert record.reader and record.reader.startswith(f"{started.pid}.")  # ...and it read the call


def test_following_a_call_whose_background_holder_died(demo_app: AppServer) -> None:
    s = gs.new_session(demo_app.url, name="hd")
    c = s.detach("slow", 30)
    wait_for(lambda: s.calls()[0].status == "running")
    os.kill(runtime().holders.spawned[s.id].pid, signal.SIGKILL)
    runtime().holders.spawned[s.id].wait()
    with pytest.raises(gs.StreamError, match="interrupted"):
        c.result()
    r = cli("result", c.event_id, "--session", "hd")
    assert r.returncode == 1 and "interrupted" in r.stderr and "Traceback" not in r.stderr
    assert s.calls()[0].status == "interrupted"


# --- heartbeat-limited waits ---------------------------------------------------------------------


def test_max_heartbeats_in_process_keeps_the_stream(beat_app: AppServer) -> None:
    s = gs.new_session(beat_app.url, name="hb")
    c = s.invoke("burst", 20, 1.5)
    assert s.calls()[0].reader == runtime().reader_id  # this process reads the stream itself, and keeps it
    first = list(c.events(max_heartbeats=2))
    assert [e.name for e in first[-2:]] == ["heartbeat", "heartbeat"]
    assert c.status == "heartbeat_expired" and not c.done
    assert s.calls()[0].status == "heartbeat_expired"
    rest = list(c.events())  # continues where it stopped
    resumed = next(e for e in rest if e.name != "heartbeat")  # more heartbeats may come first
    assert resumed.num == first[-1].num + 1  # a heartbeat carries the number of the event it follows
    events = [e for e in first + rest if e.name != "heartbeat"]
    assert [e.num for e in events] == list(range(1, len(events) + 1))
    assert [e.data[0] for e in events if e.name == "generating"] == [str(i) for i in range(1, 21)]
    assert c.result() == ["20"] and c.status == "complete"
    assert s.calls()[0].status == "complete"


def test_a_heartbeat_is_one_write_for_the_session_however_many_calls_wait(beat_app: AppServer, home: Path) -> None:
    """20 calls wait through the same heartbeats: each call sees them, the repository counts
    each once (for the session), and no call records them as events."""
    async def main() -> list[int]:
        s = await new_async_session(beat_app.url, name="beats")
        calls = [await s.invoke("quiet", 1.2) for _ in range(20)]

        async def beats_of(c: Any) -> int:
            return sum([e.name == "heartbeat" async for e in c.events()])

        seen = await asyncio.gather(*(beats_of(c) for c in calls))
        await s.aclose()
        return list(seen)

    seen = asyncio.run(main())
    db = sqlite3.connect(home / "sessions.db")
    session_beats = db.execute("SELECT beats FROM sessions WHERE name = 'beats'").fetchone()[0]
    recorded = db.execute("SELECT count(*) FROM events WHERE name = 'heartbeat'").fetchone()[0]
    assert min(seen) >= 2 and recorded == 0
    assert max(seen) <= session_beats <= max(seen) + 2, (seen, session_beats)  # not 20 per heartbeat


def test_500_events_through_a_heartbeat_handover(beat_app: AppServer) -> None:
    """The CLI's wait gives up half way; the holder keeps the call; `result --after` resumes."""
    gs.new_session(beat_app.url, name="handover")
    r = cli("call", "burst", "500", "1.5", "--max-heartbeats", "2", "--json", "--session", "handover")
    assert r.returncode == 75, r.stderr
    first = json_lines(r.stdout)
    expired = first.pop()
    assert expired["event"] == "heartbeat_expired" and expired["after"] == first[-1]["num"]
    assert 0 < len(generated(first)) < 500
    r = cli("result", expired["event_id"], "--after", str(expired["after"]), "--json", "--session", "handover")
    assert r.returncode == 0, r.stderr
    second = json_lines(r.stdout)
    events = [e for e in first + second if e["event"] != "heartbeat"]
    assert [e["num"] for e in events] == list(range(1, len(events) + 1))
    assert generated(events) == [str(i) for i in range(1, 501)]
    assert events[-1]["event"] == "complete" and events[-1]["data"] == ["500"]


def test_cli_max_heartbeats_message(beat_app: AppServer) -> None:
    gs.new_session(beat_app.url, name="quiet")
    r = cli("call", "quiet", "3", "--max-heartbeats", "3", "--session", "quiet")
    assert r.returncode == 75 and "No news after 3 heartbeats" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    event_id = gs.get_session("quiet").calls()[0].event_id
    assert f"gradio-session result {event_id} --after" in r.stderr
    r = cli("result", event_id, "--session", "quiet")
    assert r.returncode == 0 and r.stdout == "quiet for 3\n", r.stderr


# --- the repository ------------------------------------------------------------------------------


def test_version_2_repository_gains_the_reader_and_fed_by_columns(home: Path, demo_app: AppServer) -> None:
    from gradio_session.store.repository import SCHEMA_VERSION

    s = gs.new_session(demo_app.url, name="old")
    assert s.call("echo", "kept") == ["kept"]
    assert [c.status for c in s.calls()] == ["complete"]  # read after the call's writes: committed
    db = sqlite3.connect(home / "sessions.db")
    db.execute("ALTER TABLE calls DROP COLUMN reader")
    db.execute("ALTER TABLE calls DROP COLUMN fed_by")  # version 6's
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()
    r = subprocess.run([sys.executable, "-m", "gradio_session", "calls", "--json"], capture_output=True,
                       text=True, env=os.environ.copy())
    assert r.returncode == 0, r.stderr
    assert [c["status"] for c in json_lines(r.stdout)[0]] == ["complete"]
    db = sqlite3.connect(home / "sessions.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert {"reader", "fed_by"} <= {row[1] for row in db.execute("PRAGMA table_info(calls)")}
    db.close()
