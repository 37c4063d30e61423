"""Where a call's time goes: a trace per phase of sequential `/echo` calls, sync and aio.

    .venv/bin/python bench/bench_phases.py [--calls 200]

Each phase is the median time, in ms from the call's start, at which a mark is passed: the
sync API's hop onto its loop, the join sent and answered, the call recorded (the store thread's
commit awaited), the event stream asked for and answering, each message routed, the result back
to the caller; and the store thread's transactions. The marks wrap the library's own functions
(and httpx's `send`) in this process only: a diagnostic tied to the library's internals, to find
what to cut, not a figure to compare clients with (`bench_plain.py` is that). Also the CPU time
of the whole process per call, and the bare sync client's phases for reference.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

os.environ["GRADIO_SESSION_HOME"] = tempfile.mkdtemp(prefix="gs-phases-")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gradio_session as gs  # noqa: E402
from bench_calls import App  # noqa: E402
from gradio_session import aio  # noqa: E402
from gradio_session.core import channel, session  # noqa: E402
from gradio_session.store import worker  # noqa: E402
from raw_client import RawSyncClient  # noqa: E402

MARKS: list[tuple[str, float]] = []


def mark(what: str) -> None:
    MARKS.append((what, time.perf_counter()))


def around(cls: Any, name: str, label: str) -> None:
    """Mark when `cls.name` (a coroutine function) is entered and left."""
    real = getattr(cls, name)

    async def marked(*args: Any, **kwargs: Any) -> Any:
        mark(f"{label} >")
        try:
            return await real(*args, **kwargs)
        finally:
            mark(f"{label} <")

    setattr(cls, name, marked)


def install() -> None:
    around(session.AsyncSession, "call", "loop: the call")
    around(channel.Channel, "recorded", "the call recorded")
    send = httpx.AsyncClient.send

    async def sent(self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        what = request.url.path.rsplit("/", 1)[-1]
        mark(f"http: {what} sent")
        response = await send(self, request, **kwargs)
        mark(f"http: {what} answered (headers)")
        return response

    httpx.AsyncClient.send = sent  # type: ignore[method-assign]
    sync_send = httpx.Client.send

    def sync_sent(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        what = request.url.path.rsplit("/", 1)[-1]
        mark(f"http: {what} sent")
        response = sync_send(self, request, **kwargs)
        mark(f"http: {what} answered (headers)")
        return response

    httpx.Client.send = sync_sent  # type: ignore[method-assign]
    route = channel.Channel._route

    def routed(self: channel.Channel, msg: dict[str, Any]) -> None:
        mark(f"message: {msg.get('msg')}")
        route(self, msg)

    channel.Channel._route = routed  # type: ignore[method-assign]
    run = worker.StoreWorker._run

    def committed(self: worker.StoreWorker, batch: list[Any]) -> None:
        mark("store thread: transaction >")
        run(self, batch)
        mark("store thread: transaction <")

    worker.StoreWorker._run = committed  # type: ignore[method-assign]


def trace(call: Callable[[], Any], n: int, phases: dict[str, list[float]]) -> tuple[float, float]:
    """`n` calls, their marks added to `phases`; the median wall ms and the CPU ms per call."""
    walls, cpu = [], time.process_time()
    for _ in range(n):
        MARKS.clear()
        t0 = time.perf_counter()
        call()
        end = time.perf_counter()
        walls.append(end - t0)
        seen: collections.Counter[str] = collections.Counter()
        for what, t in list(MARKS):
            seen[what] += 1
            phases[what if seen[what] == 1 else f"{what} ({seen[what]})"].append((t - t0) * 1e3)
        phases["the caller has the result"].append((end - t0) * 1e3)
    return statistics.median(walls) * 1e3, (time.process_time() - cpu) / n * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="traced calls per client")
    args = parser.parse_args()
    install()
    app = App()
    try:
        loop = asyncio.new_event_loop()
        s = gs.new_session(app.url, name="phases-sync")
        a = loop.run_until_complete(aio.new_session(app.url, name="phases-aio"))
        raw = RawSyncClient(app.api_url, app.fn_index("echo"))
        clients: dict[str, Callable[[], Any]] = {
            "gradio-session sync": lambda: s.call("echo", "x", 1),
            "gradio-session aio": lambda: loop.run_until_complete(a.call("echo", "x", 1)),
            "raw httpx sync": lambda: raw.call("x", 1),
        }
        phases: dict[str, dict[str, list[float]]] = {name: collections.defaultdict(list) for name in clients}
        totals: dict[str, list[tuple[float, float]]] = {name: [] for name in clients}
        for name, call in clients.items():
            trace(call, 10, collections.defaultdict(list))  # warm-up
        for r in range(max(1, args.calls // 20)):
            names = list(clients)[r % len(clients):] + list(clients)[:r % len(clients)]
            for name in names:
                totals[name].append(trace(clients[name], 20, phases[name]))
        for name in clients:
            wall = statistics.median(w for w, _ in totals[name])
            cpu = statistics.median(c for _, c in totals[name])
            print(f"\n{name}: {wall:.2f} ms a call, {cpu:.2f} ms of CPU ({threading.active_count()} threads)")
            print("| phase | ms from the call's start (median) | calls |\n|---|---|---|")
            for what, times in sorted(phases[name].items(), key=lambda kv: statistics.median(kv[1])):
                if len(times) * 4 >= len(phases[name]["the caller has the result"]):  # in most calls
                    print(f"| {what} | {statistics.median(times):.2f} | {len(times)} |")
    finally:
        app.stop()


if __name__ == "__main__":
    main()
