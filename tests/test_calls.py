"""Calls through the sync and the async API (one test body for both), against a real app."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import gradio_session as gs
from conftest import AppServer, cli, json_lines


class Surface:
    """Runs the same operation through the sync API or the async API."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def call(self, name: str, endpoint: str, *args: Any, **kwargs: Any) -> Any:
        if self.kind == "sync":
            return gs.get_session(name).call(endpoint, *args, **kwargs)

        async def run() -> Any:
            async with await gs.aio.get_session(name) as s:
                return await s.call(endpoint, *args, **kwargs)

        return asyncio.run(run())

    def events(self, name: str, endpoint: str, *args: Any) -> tuple[str, list[gs.Event], Any]:
        if self.kind == "sync":
            c = gs.get_session(name).invoke(endpoint, *args)
            assert c.event_id
            return c.event_id, list(c.events()), c.result()

        async def run() -> tuple[str, list[gs.Event], Any]:
            async with await gs.aio.get_session(name) as s:
                c = await s.invoke(endpoint, *args)
                return c.event_id, [e async for e in c.events()], await c.result()

        return asyncio.run(run())


@pytest.fixture(params=["sync", "async"])
def surface(request: pytest.FixtureRequest, demo_app: AppServer) -> Surface:
    gs.new_session(demo_app.url, name="s")
    return Surface(request.param)


def test_positional_named_and_defaults(surface: Surface) -> None:
    assert surface.call("s", "/echo", "ab", 3) == ["ababab"]
    assert surface.call("s", "echo", text="ab") == ["ab"]  # times from the server default
    assert surface.call("s", "echo", "x", times=2) == ["xx"]
    assert surface.call("s", "add", 2, 3.5) == [5.5]
    assert surface.call("s", "choose", True, ["x", "z"]) == ["on: x, z"]


def test_generator_events_in_order(surface: Surface, home: Path) -> None:
    event_id, events, result = surface.events("s", "stream", 4)
    names = [e.name for e in events]
    assert [e.num for e in events] == list(range(1, len(events) + 1))
    assert names[-1] == "complete" and "queued" in names
    generating = [e.data for e in events if e.name == "generating"]
    assert generating == [["0 "], ["0 1 "], ["0 1 2 "], ["0 1 2 3 "]]  # full values, not diffs
    assert result == ["0 1 2 3 "]
    assert all(a.ts <= b.ts for a, b in zip(events, events[1:]))
    gs.get_session("s").close()  # the store worker's queue is committed (other readers see it soon)
    with sqlite3.connect(home / "sessions.db") as db:
        recorded = db.execute("SELECT num, name FROM events WHERE event_id = ? ORDER BY num", (event_id,)).fetchall()
        status = db.execute("SELECT status, finished_at FROM calls WHERE event_id = ?", (event_id,)).fetchone()
    assert recorded == [(e.num, e.name) for e in events]
    assert status[0] == "complete" and status[1] is not None


def test_state_carries_across_calls(surface: Surface) -> None:
    assert surface.call("s", "count", "a") == ["a (call 1 of this session)"]
    assert surface.call("s", "count", "b") == ["b (call 2 of this session)"]


def test_state_carries_across_processes(demo_app: AppServer) -> None:
    gs.new_session(demo_app.url, name="p")
    for i in (1, 2, 3):
        r = cli("call", "count", f"t{i}", "--session", "p")
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == f"t{i} (call {i} of this session)"
    assert gs.get_session("p").call("count", "py") == ["py (call 4 of this session)"]


def test_app_error_raises_with_message(surface: Surface) -> None:
    with pytest.raises(gs.AppError, match="cannot process 'zz'") as info:
        surface.call("s", "fail", "zz")
    assert info.value.app_message == "cannot process 'zz'"
    call = gs.get_session("s").calls()[-1]
    assert call.status == "error" and "cannot process" in (call.error or "")


def test_unknown_endpoint_suggests(surface: Surface) -> None:
    with pytest.raises(gs.EndpointNotFound, match="Did you mean /echo"):
        surface.call("s", "ecko", "x")


def test_parameter_errors(surface: Surface) -> None:
    with pytest.raises(gs.ParameterError, match="no parameter 'txt'. Did you mean 'text'"):
        surface.call("s", "echo", txt="x")
    with pytest.raises(gs.ParameterError, match="takes 2 value"):
        surface.call("s", "echo", "a", 1, 2)
    with pytest.raises(gs.ParameterError, match="needs a value for 'text'"):
        surface.call("s", "echo")
    with pytest.raises(gs.ParameterError, match="given twice"):
        surface.call("s", "echo", "a", text="b")
    assert gs.get_session("s").calls() == []  # nothing was sent or recorded


def test_calls_are_recorded(surface: Surface) -> None:
    surface.call("s", "echo", "one")
    surface.call("s", "add", 1, 2)
    calls = gs.get_session("s").calls()
    assert [(c.endpoint, c.inputs, c.status) for c in calls] == [
        ("/echo", ["one", 1], "complete"), ("/add", [1, 2], "complete")]
    assert all(c.event_id and c.finished_at and c.finished_at >= c.started_at for c in calls)


def test_max_calls_error(surface: Surface) -> None:
    gs.set_options("s", max_calls=2)
    surface.call("s", "echo", "1")
    surface.call("s", "echo", "2")
    with pytest.raises(gs.MaxCallsReached, match="max_calls is 2"):
        surface.call("s", "echo", "3")
    assert len(gs.get_session("s").calls()) == 2


def test_max_calls_remove_forgets_oldest(surface: Surface) -> None:
    gs.set_options("s", max_calls=2, max_calls_policy="remove")
    for i in range(4):
        surface.call("s", "echo", str(i))
    assert [c.inputs[0] for c in gs.get_session("s").calls()] == ["2", "3"]


def test_max_calls_warning(surface: Surface) -> None:
    gs.set_options("s", max_calls=1, max_calls_policy="warning")
    surface.call("s", "echo", "1")
    with pytest.warns(UserWarning, match="max_calls 1"):
        surface.call("s", "echo", "2")
    assert len(gs.get_session("s").calls()) == 2


def test_cli_json_events(demo_app: AppServer) -> None:
    gs.new_session(demo_app.url)
    r = cli("call", "/stream", "n=3", "--json")
    assert r.returncode == 0, r.stderr
    lines = json_lines(r.stdout)
    assert all(set(line) == {"num", "ts", "event", "data", "session", "event_id"} for line in lines)
    assert {(line["session"], line["event_id"]) for line in lines} == {("127.0.0.1:" + demo_app.url.rsplit(":", 1)[1],
                                                                         gs.list_sessions()[0].calls()[0].event_id)}
    assert [line["num"] for line in lines] == list(range(1, len(lines) + 1))
    assert lines[-1]["event"] == "complete" and lines[-1]["data"] == ["0 1 2 "]
