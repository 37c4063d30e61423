"""One batch run: input -> the map engine (here, or on Dask) -> output, recorded once.

Only one process writes an output at a time (a lock under `<home>/locks`). The run is one
record in the repository (`gradio-session batches`), its counts updated as it goes; the rows
live in the output file (their calls are not recorded).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Literal

from .. import paths
from ..core.locks import file_lock
from ..core.mapping import MapStats, is_stateful, map_rows
from ..core.session import AsyncSession
from ..errors import BatchError, ParameterError
from ..models import BatchRecord, RowResult
from .sinks import sink_for
from .sources import Source

Engine = Literal["local", "dask"]
COUNT_EVERY = 1.0  # seconds between updates of the batch record's counts


async def run_batch(sessions: list[AsyncSession], endpoint: str, input: str, output: str | Path, *,
                    mapping: dict[str, str] | None = None, key: str | None = None, concurrency: int = 8,
                    retries: int = 3, rate: float | None = None, engine: Engine = "local", client: Any = None,
                    scheduler: str | None = None, force: bool = False, stats: MapStats | None = None,
                    on_start: Callable[[BatchRecord, int], None] | None = None) -> BatchRecord:
    """Run every row of `input` through `endpoint` into `output`, resuming a run that was cut
    short; returns the batch record. `on_start(record, rows already written)` is told first."""
    if not sessions:
        raise ParameterError("A batch needs at least one session.")
    if engine not in ("local", "dask"):
        raise ParameterError(f"engine must be 'local' or 'dask', not {engine!r}.")
    lead = sessions[0]
    ep = lead.endpoint(endpoint)
    if engine == "dask" and is_stateful(ep) and not force:
        raise BatchError(f"{ep.name} keeps state (gr.State) in its session: each Dask worker has a session of "
                         "its own, so the state would not carry from row to row. Run it with the local engine "
                         "(one row at a time per session), or force it.")
    if engine == "dask" and len(sessions) > 1:
        raise BatchError("With --engine dask each worker opens its own session on the app: give one --session.")
    source = Source(input)
    sink = sink_for(Path(output).expanduser().resolve())
    target = sink.target
    store, home = lead.store, lead.repository.home
    lock = file_lock(paths.batch_lock(home, target))
    if not lock.acquire():
        raise BatchError(f"Another process runs the batch writing {target}: wait for it, or stop it first.")
    try:
        await asyncio.to_thread(source.check, ep, mapping or {}, key)
        fresh = not target.exists() and not sink.path.exists()
        skip, done, failed = await asyncio.to_thread(sink.written, key is not None)
        total = await asyncio.to_thread(source.total)
        record = await store.run(store.repository.batches.start, [s.name for s in sessions], ep.name,
                                 source.name, str(target), engine, total, fresh=fresh)
        stats = stats or MapStats()
        stats.done, stats.failed = done, failed
        if on_start is not None:
            on_start(record, done)
        rows = source.rows(ep, mapping or {}, key, skip)
        if engine == "dask":
            from .cluster import dask_results

            results: AsyncIterator[RowResult] = dask_results(
                lead, ep.name, rows, batch=record.id, concurrency=concurrency, retries=retries, rate=rate,
                client=client, scheduler=scheduler, stats=stats)
        else:
            results = map_rows(list(sessions), ep.name, rows, concurrency=concurrency, ordered=False,
                               retries=retries, rate=rate, stats=stats)
        status, error, counted = "interrupted", None, time.monotonic()
        try:
            async for result in results:
                sink.write(result)
                if time.monotonic() - counted > COUNT_EVERY:
                    store.record(store.repository.batches.count, record.id, stats.done, stats.failed)
                    counted = time.monotonic()
            await asyncio.to_thread(sink.finish)
            status = "complete"
        except Exception as exc:
            status, error = "failed", str(exc)
            raise
        finally:
            sink.close()
            store.record(store.repository.batches.finish, record.id, status, stats.done, stats.failed, error)
        return await store.run(store.repository.batches.get, record.id)
    finally:
        try:
            await store.flush()  # the end recorded before another run may take the output
        finally:
            lock.release()
