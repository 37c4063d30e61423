"""The repository's own thread: the async core's reads and writes run there, never on the loop.

Work is taken in arrival order (a read sees every write posted before it). Whatever has queued
up while the previous batch ran goes in one transaction: with a thousand calls in flight, their
events cost one commit per batch instead of one each. An operation that fails inside a batch
is run again on its own, so it fails alone.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .repository import Repository

T = TypeVar("T")
BATCH = 256  # operations in one transaction at most

_Work = tuple[Callable[[], Any], "concurrent.futures.Future[Any]"]


class StoreWorker:
    """Runs repository operations on one thread; `post` returns at once, `run` awaits."""

    def __init__(self, repository: Repository) -> None:
        self.repository = repository
        self._queue: queue.SimpleQueue[_Work | None] | None = None  # the running thread's
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._errors: list[BaseException] = []

    def post(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        """Queue `fn(*args, **kwargs)` for the worker thread; its future holds the outcome."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._lock:
            if self._queue is None:
                self._queue = queue.SimpleQueue()
                self._thread = threading.Thread(target=self._serve, args=(self._queue,),
                                                name="gradio-session-store", daemon=True)
                self._thread.start()
            self._queue.put((functools.partial(fn, *args, **kwargs), future))
        return future

    def record(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Queue a write and go on: the next `flush` raises its error, if it fails."""
        self.post(fn, *args, **kwargs).add_done_callback(self._keep_error)

    def _keep_error(self, future: concurrent.futures.Future[Any]) -> None:
        if future.exception() is not None:
            self._errors.append(future.exception())  # type: ignore[arg-type]

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(*args, **kwargs)` on the worker thread and await its result."""
        return await asyncio.wrap_future(self.post(fn, *args, **kwargs))

    async def barrier(self) -> None:
        """Wait until everything posted so far is committed (or failed)."""
        await self.run(_nothing)

    async def flush(self) -> None:
        """Wait until everything posted so far is committed; raise what a `record` met."""
        await self.barrier()
        if self._errors:
            raise self._errors.pop(0)

    def close(self) -> None:
        """Finish the queued work and stop the thread (a later `post` starts a new one)."""
        with self._lock:
            thread, work, self._thread, self._queue = self._thread, self._queue, None, None
        if thread is not None and work is not None:
            work.put(None)
            if thread is not threading.current_thread():
                thread.join()

    def _serve(self, work: queue.SimpleQueue[_Work | None]) -> None:
        while True:
            first = work.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < BATCH:
                try:
                    item = work.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    work.put(None)  # stop after this batch
                    break
                batch.append(item)
            self._run(batch)

    def _run(self, batch: list[_Work]) -> None:
        work = [(fn, fut) for fn, fut in batch if fut.set_running_or_notify_cancel()]
        if len(work) > 1:
            results: list[Any] = []
            try:
                with self.repository.batch():
                    for fn, _ in work:
                        results.append(fn())
            except Exception:  # noqa: S110 - each operation is run again below, alone, to find whose it was
                pass
            except BaseException as exc:  # not an operation's failure (Ctrl+C, exit): never run again
                for _, fut in work:
                    fut.set_exception(exc)
                return
            else:
                for (_, fut), result in zip(work, results):
                    fut.set_result(result)
                return
        for fn, fut in work:
            try:
                fut.set_result(fn())
            except BaseException as exc:  # the caller gets it through the future
                fut.set_exception(exc)


def _nothing() -> None:
    return None
