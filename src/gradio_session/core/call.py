"""A call as the user holds it: its event id, its events as they come, its result, cancel."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any, Protocol

from ..errors import CallTimeout, GradioSessionError, ParameterError, StreamError
from ..files import find_files
from ..models import Endpoint, Event, SessionRecord
from .runtime import runtime
from .state import CallState

CANCEL_WAIT = 5.0  # seconds the server gets to end a cancelled call's stream
ABANDON_WAIT = 2.0  # seconds a cancelled task spends telling the server to cancel its call


class CallOwner(Protocol):
    """What a call needs of its session (`session.AsyncSession`)."""

    record: SessionRecord

    @property
    def name(self) -> str: ...

    def endpoint(self, name: str) -> Endpoint: ...

    async def post_cancel(self, endpoint: Endpoint, event_id: str) -> bool: ...

    async def download_folder(self, download_path: str | Path | None) -> Path: ...

    async def download(self, data: Any, folder: Path) -> Any: ...


class News(Protocol):
    """Where a call's news comes from when another process reads its stream (`follow.py`)."""

    async def next(self) -> None: ...


class AsyncCall:
    """One call of an endpoint: its event id, status and events as they arrive."""

    def __init__(self, session: CallOwner, state: CallState, inputs: list[Any], started_at: float,
                 follower: News | None = None) -> None:
        self.session = session
        self.endpoint = state.endpoint.name
        self.event_id = state.event_id
        self.inputs = inputs
        self.started_at = started_at
        self._state = state
        self._follower = follower  # set: another process reads the stream; news from the repository
        self._resume = 0  # where the next events() starts after a heartbeat-limited wait
        self._local: dict[str, Any] = {}  # the result with its files downloaded, by folder
        self.cancel_if_abandoned = False  # set for calls this process started and waits for

    def __repr__(self) -> str:
        return f"<Call {self.endpoint} {self.event_id} {self.status}>"

    @property
    def status(self) -> str:
        return self._state.status

    @property
    def done(self) -> bool:
        return self._state.done

    def history(self) -> list[Event]:
        """The events received (or, following, read) so far, without waiting."""
        return list(self._state.events)

    async def events(self, *, timeout: float | None = None, max_heartbeats: int | None = None,
                     after: int | None = None) -> AsyncIterator[Event]:
        """The call's events in order, live until it ends: from the first, or those numbered
        above `after`, or, after a wait stopped by `max_heartbeats`, from where it stopped.

        `max_heartbeats`: stop waiting after that many heartbeats in a row; the call (still
        running) is marked `heartbeat_expired`. `timeout`: after that many seconds of waiting
        the call is cancelled on the server and ends as `timed_out`."""
        if timeout is not None and not timeout > 0:
            raise ParameterError(f"timeout must be a positive number of seconds, not {timeout}.")
        state = self._state
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        i = self._resume if after is None else max(after, 0)
        seen, quiet = state.beats, 0  # heartbeats are live only: those before this wait are gone
        while True:
            while i < len(state.events):
                event = state.events[i]
                i += 1
                quiet = 0
                yield event
            while seen < state.beats and not state.done:
                seen, quiet = seen + 1, quiet + 1
                yield Event(num=i, ts=time.time(), name="heartbeat")  # numbered as the event it follows
                if max_heartbeats and quiet >= max_heartbeats:
                    self._resume = i
                    state.expire()
                    await state.store.flush()
                    return
            if state.done:
                # the end is recorded by the store worker: this process's reads (which go
                # through it) see it now, other processes within moments, and at exit for sure
                return
            try:
                await asyncio.wait_for(self._next(), None if deadline is None else deadline - loop.time())
            except asyncio.CancelledError:  # the waiting task was cancelled (or timed out outside)
                if self.cancel_if_abandoned and not state.done:
                    await self._abandon()
                raise
            except asyncio.TimeoutError:
                try:
                    await self._stop("timed_out")
                except GradioSessionError as exc:  # the server could not be told: end it here
                    state.fail(CallTimeout(f"{state.stop_error('timed_out')} ({exc})"), "timed_out")

    async def result(self, *, timeout: float | None = None, download_path: str | Path | None = None,
                     download: bool = True, watch: bool = True) -> Any:
        """Wait for the end; the final output list, or raise the app's error (CallTimeout
        after `timeout` seconds, the call cancelled on the server).

        Files in the result are downloaded into `download_path` (default: the session's
        folder) and their FileData `path` set to the local file; `download=False` leaves them
        on the server (their `url` is where to get them). In a notebook the wait shows the
        call's queue, progress and messages (`watch=False`: nothing shown)."""
        watching = runtime().watching(self) if watch and not self._state.done else None
        try:
            async for event in self.events(timeout=timeout):
                if watching is not None:
                    watching.seen(event)
        finally:
            if watching is not None:
                watching.end()
        if self._state.failure is not None:
            raise self._state.failure
        last = self._state.events[-1] if self._state.events else None
        if last is None or last.name != "complete":
            raise StreamError(f"The call {self.event_id} ended without a result.", event_id=self.event_id)
        if not download or not find_files(last.data):
            return last.data
        folder = await self.session.download_folder(download_path)
        if str(folder) not in self._local:
            self._local[str(folder)] = await self.session.download(last.data, folder)
        return self._local[str(folder)]

    def result_now(self) -> Any:
        """The result if the call completed, without waiting or downloading (its files local if
        an earlier `result()` downloaded them, else the app's); None otherwise."""
        last = self._state.events[-1] if self._state.events else None
        if last is None or last.name != "complete":
            return None
        return next(iter(self._local.values()), last.data)

    async def cancel(self) -> bool:
        """Stop the call on the server; it ends as `cancelled`. False if it had ended already."""
        return await self._stop("cancelled")

    async def _stop(self, status: str) -> bool:
        state = self._state
        if state.done:
            return False
        state.ending = status
        if not await self.session.post_cancel(state.endpoint, self.event_id):  # the server won't say
            state.fail(state.stop_error(status), status)
        try:
            await asyncio.wait_for(self._wait_end(), CANCEL_WAIT)
        except asyncio.TimeoutError:  # the server did not end the stream: end the call here
            state.fail(state.stop_error(status), status)
        if self._follower is not None and state.status == "cancelled" and status == "timed_out":
            state.correct(status)  # the process reading the stream recorded the cancel it saw
        return state.status == status

    async def _abandon(self) -> None:
        """Nobody waits for the call any more: cancel it on the server and record it cancelled,
        without waiting for the server to confirm (the task is being cancelled)."""
        state = self._state
        state.ending = "cancelled"
        try:
            await asyncio.wait_for(self.session.post_cancel(state.endpoint, self.event_id), ABANDON_WAIT)
        except (GradioSessionError, asyncio.TimeoutError):
            pass  # the call is recorded as cancelled all the same: nobody will read its result
        state.fail(state.stop_error("cancelled"), "cancelled")

    async def _wait_end(self) -> None:
        while not self._state.done:
            await self._next()

    def _next(self) -> Awaitable[None]:
        """Wait for news: from the stream reader, or (following) from the repository."""
        return self._state.changed() if self._follower is None else self._follower.next()
