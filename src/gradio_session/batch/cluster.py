"""A batch beyond one machine: partitions of the input run on Dask workers.

A session's event stream has one reader, so a worker never uses the batch's session: each
worker process opens a session of its own on the same app (own `session_hash`), with the
same token reference (the token kept for the session, read where the batch was started's
repository is reachable, or huggingface_hub's own on the worker), and runs its partitions
through it with the map engine. Results come back per partition; this process downloads
their files into the batch session's folder and writes the rows, so the output and its
resumability are the local engine's. Rows run again after a kill: those of the partitions
in flight (at most `2 x workers x PARTITION`).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import paths
from ..core.mapping import MapStats
from ..core.session import AsyncSession
from ..errors import BatchError
from ..files import find_files
from ..models import Network, Row, RowResult, Secrets
from .sources import EXTRA_HINT

PARTITION_PER_SLOT = 4  # rows per partition: this many per call in flight on a worker
STOP_WAIT = 5.0  # seconds a stopped run waits for the driver thread to see it


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to open its own session and run rows: no secret travels in it."""

    app: str  # the app's URL, or the Space's id (woken on the worker if need be)
    endpoint: str
    batch: str
    parent_home: str
    parent_id: str
    token: str | None  # where the secrets come from: "kept" (the repository's), "hub" (a token), or None
    network: dict[str, Any]  # how the app is reached (login user, CA bundle...; no secret)
    concurrency: int
    retries: int
    rate: float | None


async def dask_results(session: AsyncSession, endpoint: str, rows: Iterator[Row], *, batch: str, concurrency: int,
                       retries: int, rate: float | None, client: Any, scheduler: str | None,
                       stats: MapStats) -> AsyncIterator[RowResult]:
    """The rows' results as the workers' partitions end (files downloaded here)."""
    try:
        import distributed
    except ImportError:
        raise BatchError(f"--engine dask needs dask.distributed: {EXTRA_HINT}.") from None
    record = session.record
    own = client is None
    if own:
        client = await asyncio.to_thread(_client, distributed, scheduler)
    try:
        workers = max(1, len((await asyncio.to_thread(client.scheduler_info))["workers"]))
        spec = WorkerSpec(
            app=record.space or record.app_url, endpoint=endpoint, batch=batch,
            parent_home=str(session.repository.home), parent_id=record.id,
            token="kept" if record.has_secrets else "hub" if record.token_source else None,
            network=record.network.to_dict(),
            concurrency=concurrency, retries=retries, rate=None if rate is None else rate / workers)
        loop = asyncio.get_running_loop()
        news: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()
        size = max(PARTITION_PER_SLOT * concurrency, 1)
        driver = asyncio.create_task(asyncio.to_thread(
            _drive, distributed, client, spec, rows, size, 2 * workers, stop,
            lambda item: loop.call_soon_threadsafe(news.put_nowait, item)))
        folder = await session.download_folder(None)
        try:
            while (item := await news.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                worker, results = item
                await session.store.run(session.repository.batches.add_worker, batch, worker)
                for data in results:
                    result = RowResult(**data)
                    if result.ok and find_files(result.outputs):
                        result = RowResult(**{**data, "outputs": await session.download(result.outputs, folder)})
                    stats.done += 1
                    stats.failed += not result.ok
                    yield result
        finally:
            stop.set()  # the driver leaves at its next partition's end: not waited for long
            await asyncio.wait([driver], timeout=STOP_WAIT)
    finally:
        if own:
            await asyncio.to_thread(_close, client)


SAFE_PATH = "PYTHONSAFEPATH"


def _client(distributed: Any, scheduler: str | None) -> Any:
    """A client of the scheduler at that address, or of a new LocalCluster (a worker process
    per core, one thread each: the calls are I/O, the processes the parallelism)."""
    if scheduler:
        return distributed.Client(scheduler)
    import dask

    # Worker processes (and multiprocessing's resource tracker) start as `python -c ...` in this
    # folder, which that puts first on their import path: a downloaded `threading.py` would run
    # in each. PYTHONSAFEPATH (Python 3.11+) keeps it off, at start and at a worker's restart.
    saved = os.environ.get(SAFE_PATH)
    os.environ[SAFE_PATH] = "1"
    try:
        with dask.config.set({f"distributed.nanny.pre-spawn-environ.{SAFE_PATH}": "1"}):
            cluster = distributed.LocalCluster(n_workers=min(os.cpu_count() or 2, 4), threads_per_worker=1,
                                               processes=True, dashboard_address=None)
    finally:
        if saved is None:
            os.environ.pop(SAFE_PATH, None)
        else:
            os.environ[SAFE_PATH] = saved
    return distributed.Client(cluster)


def _close(client: Any) -> None:
    cluster = client.cluster
    client.close()
    if cluster is not None:
        cluster.close()


def _drive(distributed: Any, client: Any, spec: WorkerSpec, rows: Iterator[Row], size: int, most: int,
           stop: threading.Event, tell: Any) -> None:
    """Keep `most` partitions on the workers, handing each one's results on as it ends (a
    thread: Dask's client API blocks)."""
    done = distributed.as_completed()
    try:
        def submit() -> bool:
            part = list(itertools.islice(rows, size))
            if part:
                done.add(client.submit(run_partition, spec, part, pure=False))
            return bool(part)

        for _ in range(most):
            if not submit():
                break
        for future in done:
            if stop.is_set():
                client.cancel(list(done.futures))
                return
            tell(future.result())
            submit()
        tell(None)
    except BaseException as exc:
        tell(exc if isinstance(exc, Exception) else BatchError(f"The Dask run stopped: {exc!r}"))


# -- on a worker ---------------------------------------------------------------------------

_SESSIONS: dict[str, Any] = {}  # batch id -> this worker process's session for it
_OPENING = threading.Lock()


def run_partition(spec: WorkerSpec, rows: list[Row]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """On a worker: the rows through this process's own session; (its identity, the results)."""
    session = _session(spec)
    results = session.map(spec.endpoint, rows, concurrency=spec.concurrency, ordered=False, retries=spec.retries,
                          rate=spec.rate, download=False)
    worker = {"session": session.name, "session_hash": session.record.session_hash,
              "host": socket.gethostname(), "pid": os.getpid()}
    return worker, [r.to_dict() for r in results]


def _session(spec: WorkerSpec) -> Any:
    import gradio_session as gs

    with _OPENING:
        if spec.batch not in _SESSIONS:
            parent = Path(spec.parent_home)
            home = paths.batch_home(parent, spec.batch) if parent.is_dir() else \
                Path(tempfile.mkdtemp(prefix="gradio-session-worker-"))
            kept = Secrets()
            if spec.token == "kept":
                from ..store import secrets

                kept = secrets.load(parent, spec.parent_id) if parent.is_dir() else Secrets()
                if not kept:
                    raise BatchError("The batch's session has secrets (a token, a login...) kept on the machine that "
                                     "started the batch, and this worker can't read them: run the workers there, "
                                     "or make the app's token huggingface_hub's on the workers (HF_TOKEN).")
            network = Network.from_dict(spec.network)
            _SESSIONS[spec.batch] = gs.new_session(
                spec.app, name=f"worker-{uuid.uuid4().hex[:8]}", home=home, token=kept.token,
                auth=(network.login, kept.password or "") if network.login else None, headers=dict(kept.headers),
                proxy=kept.proxy, ca_bundle=network.ca_bundle, insecure=network.insecure)
        return _SESSIONS[spec.batch]
