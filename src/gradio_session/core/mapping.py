"""Many rows through one endpoint: the engine of `Session.map` and of batches.

Workers (`concurrency` per session) take the next row when they have room, so a slow replica
takes fewer rows and a failing one is benched while the others go on. Memory is bounded
however long the input: rows are pulled from it only as a window of slots frees up (at most
`concurrency` calls in flight per session, plus a reorder buffer as large), and a row's call
is never recorded: the rows are the record (the caller's output), so the session's call
history stays the user's own calls. A transient failure (queue full, connection lost,
a Space waking) is retried with backoff and jitter, and benches the session it failed on for a
growing while; an app's error never is retried. Rows that keep failing so mean the app is
down: the run stops rather than fail the whole input.
"""

from __future__ import annotations

import asyncio
import heapq
import random
import time
import warnings
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ..errors import (
    AppError, BatchError, CallMayHaveStarted, ConnectError, GradioSessionError, ParameterError, QueueFull, SpaceError,
    StreamError,
)
from ..models import Endpoint, Row, RowResult
from .call import AsyncCall

OnError = Literal["record", "raise"]
TRANSIENT = (QueueFull, ConnectError, StreamError, CallMayHaveStarted, SpaceError)
BACKOFF_FIRST, BACKOFF_MOST = 0.5, 30.0  # seconds before a retry: doubling, with +-50% jitter
CHUNK = 64  # rows pulled at once from a plain iterator, in a thread (it may read a file)
OUTAGE = 10  # rows in a row failing transiently after their retries: the app is down, the run stops


class Mapper(Protocol):
    """What the engine needs of a session (`session.AsyncSession`)."""

    @property
    def name(self) -> str: ...

    def endpoint(self, name: str) -> Endpoint: ...

    async def batch_call(self, endpoint: str, row: Row) -> AsyncCall: ...


@dataclass
class MapStats:
    """Counts as the run goes, for a progress display."""

    done: int = 0
    failed: int = 0
    retrying: int = 0
    in_flight: int = 0


def as_row(index: int, item: Any) -> Row:
    """A user's item: a dict is named values, a tuple or list the values in order, anything
    else the one value (a single list-valued parameter is passed as a 1-tuple)."""
    if isinstance(item, Row):
        return item
    if isinstance(item, dict):
        return Row(index, (), item)
    if isinstance(item, (tuple, list)):
        return Row(index, tuple(item))
    return Row(index, (item,))


def is_stateful(endpoint: Endpoint) -> bool:
    """An endpoint reading `gr.State`: its calls in one session see each other's state, so
    they must run one after another there, and a Dask worker's session would start afresh."""
    return any(endpoint.input_state)


async def map_rows(sessions: list[Mapper], endpoint: str, rows: Iterable[Any] | AsyncIterable[Any], *,
                   concurrency: int = 8, ordered: bool = True, on_error: OnError = "record",
                   retries: int = 3, rate: float | None = None, download: bool = True,
                   stats: MapStats | None = None) -> AsyncIterator[RowResult]:
    """One RowResult per row, as they finish (in input order when `ordered`). See the module."""
    if concurrency < 1:
        raise ParameterError(f"concurrency must be at least 1, not {concurrency}.")
    if on_error not in ("record", "raise"):
        raise ParameterError(f"on_error must be 'record' or 'raise', not {on_error!r}.")
    if rate is not None and not rate > 0:
        raise ParameterError(f"rate must be a positive number of calls per second, not {rate}.")
    if not sessions:
        raise ParameterError("A map needs at least one session.")
    ep = sessions[0].endpoint(endpoint)  # EndpointNotFound before anything starts
    if is_stateful(ep) and concurrency > 1:
        warnings.warn(f"{ep.name} keeps state (gr.State) in the session: its rows run one at a time in each "
                      "session (use several sessions to run them side by side).", stacklevel=3)
        concurrency = 1
    run = _Run(sessions, endpoint, _aiter(rows), concurrency, retries, rate, download,
               stats or MapStats())
    async for result, exc in run.results(ordered):
        if exc is not None and on_error == "raise":
            raise exc
        yield result


@dataclass
class _Replica:
    session: Mapper
    benched_until: float = 0.0  # monotonic time before which it takes no row (it failed)
    failures: int = 0  # transient failures in a row: its bench grows with them

    def bench(self) -> None:
        self.failures += 1
        self.benched_until = time.monotonic() + _backoff(self.failures)


@dataclass(order=True)
class _Retry:
    ready: float
    seq: int
    row: Row = field(compare=False)
    attempts: int = field(compare=False)


class _Run:
    """One map's workers, its rows to come and to retry, and its results."""

    def __init__(self, sessions: list[Mapper], endpoint: str, rows: AsyncIterator[Row], concurrency: int,
                 retries: int, rate: float | None, download: bool, stats: MapStats) -> None:
        self.replicas = [_Replica(s) for s in sessions]
        self.endpoint, self.rows, self.concurrency = endpoint, rows, concurrency
        self.retries, self.download, self.stats = retries, download, stats
        self.gap, self.next_at = (1.0 / rate if rate else 0.0), 0.0
        slots = concurrency * len(sessions)
        self.window = asyncio.Semaphore(2 * slots)  # rows taken but not yet handed to the caller
        self.seq = 0
        self.exhausted = False
        self.active = 0  # rows taken and not ended: in flight, or waiting for a retry
        self.outage = 0  # rows in a row that ended with a transient failure, retries spent
        self.waiting: list[_Retry] = []
        self.news = asyncio.Event()  # a retry was scheduled, or the last row ended
        self.pull = asyncio.Lock()
        self.out: asyncio.Queue[tuple[int, RowResult, GradioSessionError | None] | BaseException | None] = \
            asyncio.Queue()

    async def results(self, ordered: bool) -> AsyncIterator[tuple[RowResult, GradioSessionError | None]]:
        workers = [asyncio.create_task(self._worker(r)) for r in self.replicas for _ in range(self.concurrency)]
        ender = asyncio.create_task(self._end_when_done(workers))
        held: dict[int, tuple[RowResult, GradioSessionError | None]] = {}
        next_seq = 0
        try:
            while True:
                item = await self.out.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                seq, result, exc = item
                if not ordered:
                    self.window.release()
                    yield result, exc
                    continue
                held[seq] = (result, exc)
                while next_seq in held:
                    self.window.release()
                    yield held.pop(next_seq)
                    next_seq += 1
        finally:
            for task in (*workers, ender):
                task.cancel()
            await asyncio.gather(*workers, ender, return_exceptions=True)

    async def _end_when_done(self, workers: list[asyncio.Task[None]]) -> None:
        for task in asyncio.as_completed(workers):
            try:
                await task
            except Exception as exc:  # a bug, or the input failed to read: the caller hears it
                self.out.put_nowait(exc)
                return
        self.out.put_nowait(None)

    async def _worker(self, replica: _Replica) -> None:
        while True:
            pause = replica.benched_until - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            taken = await self._take()
            if taken is None:
                return
            seq, row, attempts = taken
            self.stats.in_flight += 1
            try:
                result, exc, retry_in = await self._attempt(replica, row, attempts)
            finally:
                self.stats.in_flight -= 1
            if retry_in is not None:
                heapq.heappush(self.waiting, _Retry(time.monotonic() + retry_in, seq, row, attempts + 1))
                self.stats.retrying = len(self.waiting)
                self.news.set()
                continue
            self.stats.done += 1
            self.stats.failed += exc is not None
            self.active -= 1
            if self.active == 0:
                self.news.set()
            self.out.put_nowait((seq, result, exc))
            self.outage = self.outage + 1 if transient(exc) else 0
            if self.outage >= OUTAGE:
                raise BatchError(f"{OUTAGE} rows in a row could not reach the app, each after {self.retries} "
                                 f"retries (the last: {exc}). It seems down: run again once it is back.")

    async def _take(self) -> tuple[int, Row, int] | None:
        """The next row for a worker: a retry that is due, else a new row; None when all ended."""
        while True:
            now = time.monotonic()
            if self.waiting and self.waiting[0].ready <= now:
                retry = heapq.heappop(self.waiting)
                self.stats.retrying = len(self.waiting)
                return retry.seq, retry.row, retry.attempts
            if not self.exhausted:
                await self.window.acquire()
                async with self.pull:
                    if not self.exhausted:
                        try:
                            row = await self.rows.__anext__()
                        except StopAsyncIteration:
                            self.exhausted = True
                        else:
                            seq, self.seq = self.seq, self.seq + 1
                            self.active += 1
                            return seq, row, 1
                self.window.release()
                continue
            if self.active == 0:
                return None
            self.news.clear()
            timeout = self.waiting[0].ready - now if self.waiting else None
            try:
                await asyncio.wait_for(self.news.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    async def _attempt(self, replica: _Replica, row: Row, attempts: int
                       ) -> tuple[RowResult, GradioSessionError | None, float | None]:
        session = replica.session
        await self._paced()
        started = time.monotonic()
        try:
            call = await session.batch_call(self.endpoint, row)
            outputs = await call.result(download=self.download)
        except GradioSessionError as exc:
            if not transient(exc):
                return _failed(row, exc, started, attempts, session.name), exc, None
            replica.bench()
            retry_in = _backoff(attempts) if attempts <= self.retries else None
            return _failed(row, exc, started, attempts, session.name), exc, retry_in
        replica.benched_until, replica.failures = 0.0, 0
        return RowResult(row.index, "ok", outputs, duration=time.monotonic() - started, attempts=attempts,
                         session=session.name, key=row.key), None, None

    async def _paced(self) -> None:
        """`rate` calls per second at most, over all sessions."""
        if not self.gap:
            return
        now = time.monotonic()
        at = max(now, self.next_at)
        self.next_at = at + self.gap
        if at > now:
            await asyncio.sleep(at - now)


def transient(exc: BaseException | None) -> bool:
    """A failure worth another try: the call did not run to an answer (never an app's error)."""
    return isinstance(exc, TRANSIENT) and not isinstance(exc, AppError)


def _backoff(failures: int) -> float:
    return min(BACKOFF_MOST, BACKOFF_FIRST * 2 ** (failures - 1)) * random.uniform(0.5, 1.5)


def _failed(row: Row, exc: GradioSessionError, started: float, attempts: int, session: str) -> RowResult:
    return RowResult(row.index, "error", error=str(exc), error_type=type(exc).__name__,
                     duration=time.monotonic() - started, attempts=attempts, session=session, key=row.key)


async def _aiter(rows: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[Row]:
    """The rows as Row records; a plain iterator is read in a thread, CHUNK rows at a time."""
    index = 0
    if isinstance(rows, AsyncIterable):
        async for item in rows:
            yield as_row(index, item)
            index += 1
        return
    if isinstance(rows, (list, tuple)):
        for index, item in enumerate(rows):
            yield as_row(index, item)
        return
    it = iter(rows)
    while chunk := await asyncio.to_thread(_chunk, it):
        for item in chunk:
            yield as_row(index, item)
            index += 1


def _chunk(it: Iterator[Any]) -> list[Any]:
    chunk = []
    for item in it:
        chunk.append(item)
        if len(chunk) == CHUNK:
            break
    return chunk
