"""Batches: a dataset through an endpoint, into an output file, resumable.

    import gradio_session as gs
    record = gs.batch.run("my-app", "caption", "images.csv", "captions.jsonl", concurrency=8)

The same as `gradio-session batch`: JSON Lines, CSV or Parquet in; JSON Lines or Parquet
out, one row per input row; started again with the same output, a run skips the rows written.
`engine="dask"` runs partitions on Dask workers (`client=` a `distributed.Client`, else a
LocalCluster). `Session.map` is the in-memory form, for rows you hold in Python.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.mapping import MapStats
from ..models import BatchRecord

if TYPE_CHECKING:
    from ..core.session import AsyncSession
    from ..sync import Session
    from .runner import Engine

__all__ = ["BatchRecord", "MapStats", "alist_batches", "arun", "list_batches", "run"]


def run(session: str | Session | list[str | Session], endpoint: str, input: str, output: str | Path, *,
        mapping: dict[str, str] | None = None, key: str | None = None, concurrency: int = 8, retries: int = 3,
        rate: float | None = None, engine: Engine = "local", client: Any = None, scheduler: str | None = None,
        force: bool = False, home: Path | str | None = None) -> BatchRecord:
    """Run every row of `input` through `endpoint` of `session` (or of several sessions, replicas
    of one app sharing the rows) into `output`; returns the batch's record. See `arun`."""
    from ..core.runtime import runtime

    return runtime().run_blocking(arun, session, endpoint, input, output, mapping=mapping, key=key,
                                  concurrency=concurrency, retries=retries, rate=rate, engine=engine, client=client,
                                  scheduler=scheduler, force=force, home=home)


async def arun(session: str | Any | list[Any], endpoint: str, input: str, output: str | Path, *,
               mapping: dict[str, str] | None = None, key: str | None = None, concurrency: int = 8,
               retries: int = 3, rate: float | None = None, engine: Engine = "local", client: Any = None,
               scheduler: str | None = None, force: bool = False, home: Path | str | None = None,
               stats: MapStats | None = None,
               on_start: Callable[[BatchRecord, int], None] | None = None) -> BatchRecord:
    """The async `run`. `mapping`: input column -> parameter; `key`: the column naming each row
    (else its index); `retries` of transient failures per row; `rate`: calls per second at most;
    `stats`: counts kept up to date as rows end; `on_start(record, rows written before)`."""
    from .runner import run_batch

    sessions = [await _session(s, home) for s in (session if isinstance(session, list) else [session])]
    return await run_batch(sessions, endpoint, input, output, mapping=mapping, key=key, concurrency=concurrency,
                           retries=retries, rate=rate, engine=engine, client=client, scheduler=scheduler, force=force,
                           stats=stats, on_start=on_start)


def list_batches(*, home: Path | str | None = None) -> list[BatchRecord]:
    """Every batch recorded, oldest first; one still `running` whose process is gone is shown
    `interrupted` (its output lock is free)."""
    from ..core.runtime import runtime

    return runtime().run_blocking(alist_batches, home=home)


async def alist_batches(*, home: Path | str | None = None) -> list[BatchRecord]:
    """The async `list_batches`."""
    import dataclasses

    from .. import paths
    from ..core.locks import file_lock
    from ..core.runtime import runtime

    store = runtime().store(home)
    records = await store.run(store.repository.batches.list)
    out = []
    for r in records:
        lock = file_lock(paths.batch_lock(store.repository.home, Path(r.output)))
        if r.status == "running" and lock.acquire():
            lock.release()
            r = dataclasses.replace(r, status="interrupted")
        out.append(r)
    return out


async def _session(ref: Any, home: Path | str | None) -> AsyncSession:
    from ..core.family import get_session
    from ..core.session import AsyncSession
    from ..sync import Session

    if isinstance(ref, AsyncSession):
        return ref
    if isinstance(ref, str):
        return await get_session(ref, home=home)
    if isinstance(ref, Session):
        return ref._inner
    raise TypeError(f"A batch runs on sessions (a name, a Session or a list of them), not {ref!r}.")
