"""Many calls at once through one session: threads, asyncio tasks, processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import gradio_session as gs
from conftest import AppServer, json_lines, wait_for
from gradio_session.store.repository import Repository


def test_100_threads_one_session(demo_app: AppServer) -> None:
    shared = gs.new_session(demo_app.url, name="threads")

    def one(i: int) -> tuple[int, list[str]]:
        # half the threads share one object, half open their own handle on the session
        s = shared if i % 2 else gs.get_session("threads")
        return i, s.call("echo", f"t{i}-", 2)

    with ThreadPoolExecutor(max_workers=100) as pool:
        results = list(pool.map(one, range(100)))
    assert all(out == [f"t{i}-t{i}-"] for i, out in results)
    calls = shared.calls()
    assert len(calls) == 100 and {c.status for c in calls} == {"complete"}
    assert sorted(c.inputs[0] for c in calls) == sorted(f"t{i}-" for i in range(100))


def test_300_async_tasks_one_session(demo_app: AppServer) -> None:
    async def run() -> list[tuple[int, list[str]]]:
        async with await gs.aio.new_session(demo_app.url, name="tasks") as s:
            async def one(i: int) -> tuple[int, list[str]]:
                return i, await s.call("echo", f"a{i}")
            return await asyncio.gather(*(one(i) for i in range(300)))

    results = asyncio.run(run())
    assert all(out == [f"a{i}"] for i, out in results)
    assert len(gs.get_session("tasks").calls()) == 300


def test_generators_interleaved_keep_their_own_streams(demo_app: AppServer) -> None:
    async def run() -> list[list[list[str]]]:
        async with await gs.aio.new_session(demo_app.url, name="gens") as s:
            async def one(n: int) -> list[list[str]]:
                c = await s.invoke("stream", n)
                return [e.data async for e in c.events() if e.name == "generating"]
            return await asyncio.gather(*(one(n) for n in (3, 5, 4, 6)))

    for n, values in zip((3, 5, 4, 6), asyncio.run(run())):
        assert values == [["".join(f"{j} " for j in range(k + 1))] for k in range(n)]


def test_8_processes_x_10_cli_calls_one_session(demo_app: AppServer, tmp_path: Path) -> None:
    gs.new_session(demo_app.url, name="procs")
    script = tmp_path / "worker.sh"
    script.write_text(
        'for i in 0 1 2 3 4 5 6 7 8 9; do\n'
        '  "$PY" -m gradio_session call echo "p$1-$i" --session procs --json || exit 1\n'
        'done\n'
    )
    env = {**os.environ, "PY": sys.executable}
    procs = [subprocess.Popen(["bash", str(script), str(p)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for p in range(8)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    for worker, (out, _) in enumerate(outs):
        finals = [line["data"] for line in json_lines(out) if line["event"] == "complete"]
        assert finals == [[f"p{worker}-{i}"] for i in range(10)]
    calls = gs.get_session("procs").calls()
    assert len(calls) == 80 and {c.status for c in calls} == {"complete"}


def test_24_cli_processes_at_once_10_rounds(demo_app: AppServer) -> None:
    """24 one-shot `call`s start together on one session, ten times over: each gets its own
    result and none hangs (each process is given 30 s)."""
    gs.new_session(demo_app.url, name="crowd")
    for round_ in range(10):
        procs = {f"r{round_}-p{i}": subprocess.Popen(
            [sys.executable, "-m", "gradio_session", "call", "echo", f"r{round_}-p{i}", "--session", "crowd"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(24)}
        for text, proc in procs.items():
            try:
                out, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                for other in procs.values():
                    other.kill()
                pytest.fail(f"gradio-session call echo {text} hung (round {round_})")
            assert proc.returncode == 0 and out.strip() == text, (text, out, err[-500:])
    calls = gs.get_session("crowd").calls()
    assert len(calls) == 240 and {c.status for c in calls} == {"complete"}


_WRITER = """
import sys, time
from gradio_session.models import AppInfo, CallRecord, Event, SessionRecord
from gradio_session.store.repository import Repository
repo = Repository(sys.argv[1])
w = sys.argv[2]
for i in range(40):
    sid = f"{w}-{i}"
    repo.create_session(SessionRecord(id=sid, name=sid, app_url="http://h", api_url="http://h",
                                      session_hash="x", created_at=time.time(), app=AppInfo()))
    repo.add_call(CallRecord(event_id="e", session_id=sid, endpoint="/x", inputs=[i], status="queued",
                             started_at=time.time()))
    for n in range(1, 4):
        repo.add_event(sid, "e", Event(n, time.time(), "generating", [n]), status="running")
    repo.set_call_status(sid, "e", "complete", finished_at=time.time())
"""


def test_repository_many_processes_lose_nothing(tmp_path: Path) -> None:
    home = tmp_path / "repo"
    Repository(home).close()
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(home), f"w{w}"], stderr=subprocess.PIPE,
                              text=True) for w in range(6)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0 and "locked" not in err, err  # each writer's own output
    repo = Repository(home)
    sessions = repo.list_sessions()
    assert len(sessions) == 240
    assert all([e.num for e in repo.events(s.id, "e")] == [1, 2, 3] for s in sessions)
    assert all(repo.list_calls(s.id)[0].status == "complete" for s in sessions)


def test_parallel_shells_ride_the_holder_instead_of_queueing(demo_app: AppServer,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """With the session's holder reading its stream, shells calling at once each join at once
    and follow the holder's records: every call was joined before any of them ended, so no
    process waited for another's call (each takes 3 s; queued, they would not overlap)."""
    monkeypatch.setenv("GRADIO_SESSION_HOLDER_IDLE", "10")  # it waits for the shells to start
    s = gs.new_session(demo_app.url, name="shells")
    s.start_holder()
    procs = [subprocess.Popen([sys.executable, "-m", "gradio_session", "call", "slow", "3", "--session", "shells"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and out == "slept 3\n", err
    calls = s.calls()
    assert len(calls) == 4 and {c.status for c in calls} == {"complete"}
    assert len({c.reader for c in calls}) == 1  # all read by the holder
    assert max(c.started_at for c in calls) < min(c.finished_at or 0 for c in calls)


def test_shells_waiting_for_a_busy_stream_get_a_holder(demo_app: AppServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """No holder yet: one shell reads the stream for its own long call; the shells that come
    meanwhile start a holder and, once it has the stream, all join at once and ride it: only
    that first call is waited for (queued behind each other, each would wait for the one before)."""
    monkeypatch.setenv("GRADIO_SESSION_HOLDER_IDLE", "10")
    s = gs.new_session(demo_app.url, name="busy-shells")

    def shell(seconds: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "gradio_session", "call", "slow", seconds, "--session",
                                 "busy-shells"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    first = shell("6")
    wait_for(lambda: [c.status for c in s.calls()] == ["running"])
    procs = [shell("2") for _ in range(3)]
    for proc, seconds in [(first, "6"), *((p, "2") for p in procs)]:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and out == f"slept {seconds}\n", err
    head, *rest = sorted(s.calls(), key=lambda c: c.started_at)
    assert {c.status for c in [head, *rest]} == {"complete"} and head.inputs == [6]
    assert len({c.reader for c in rest}) == 1 and head.reader not in {c.reader for c in rest}  # the holder
    assert max(c.started_at for c in rest) < min(c.finished_at or 0 for c in rest)
