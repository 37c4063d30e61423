"""One event loop's seat on a session's stream: taking the stream lock, riding the holder,
counting what is in flight, and letting go once that is recorded.

Gradio keeps one message queue per session, so one reader at a time: the stream lock says who
(`locks.StreamLock`, shared by the loops of a process). The channel (`channel.py`) reads; its
seat decides when it may, and when a call is better left to the session's holder.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ..errors import SessionError
from ..store.worker import StoreWorker
from .locks import holder_present
from .runtime import runtime
from .waiting import wait_until

HOLDER_AFTER = 0.5  # seconds a call waits for another process's stream before a holder is started
HOLDER_START = 30.0  # seconds the stream is left to a holder started for us, then taken if free


class Seated(Protocol):
    """What the seat needs to know of its channel."""

    holding: bool  # the holder's channel: the stream is kept between calls

    def quiet(self) -> bool:
        """Nothing the server may still send: no call being recorded, no unknown message, and
        no open stream that has not delivered its last call's end."""

    def reading(self) -> bool:
        """The channel's stream reader runs."""

    def released(self) -> None:
        """The stream lock was let go (messages kept for unknown calls are dropped)."""


class Seat:
    """The stream lock as one channel holds it, and the count of what keeps it held."""

    def __init__(self, channel: Seated, store: StoreWorker, home: Path, session_id: str, name: str) -> None:
        self.loop = asyncio.get_running_loop()
        self.active = 0  # calls joining or in flight, and repository look-ups that adopt calls
        self._channel = channel
        self._store = store
        self._home, self._session_id, self._name = home, session_id, name
        self._lock = runtime().stream_lock(home, session_id)
        self._guard = asyncio.Lock()
        self._releasing = False
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def owned(self) -> bool:
        return self._lock.owned_by(self)

    def idle(self) -> bool:
        """Nothing of ours in flight, no stream the server still feeds: another event loop of
        this process may take the lock from us (see `StreamLock`)."""
        return not self._channel.holding and not self.active and self._channel.quiet()

    async def enter(self, ride: bool = True) -> bool:
        """Take the stream lock for one more call: True. False: the holder has the stream, so
        the call is to be left to it (only if `ride`)."""
        async with self._guard:
            return await self.take(ride, then=self.count)

    def count(self) -> None:
        self.active += 1

    def leave(self) -> None:
        self.active -= 1
        self.maybe_release()

    async def take(self, ride: bool, then: Callable[[], None] = lambda: None) -> bool:
        """Own the stream lock (True); or, if `ride`, leave the call to the session's holder
        once it has the stream (False). Another process reading the stream for its own calls
        can't be ridden safely (it leaves when they end, and Gradio drops what is pending when a
        stream is left), so it gets a holder started that takes the stream as soon as it is
        free: from then on calls ride the holder, and none waits for another's call. Another
        event loop of this process hands the stream over when idle."""
        taken, since, spawned_at = False, time.monotonic(), 0.0

        async def taken_or_held() -> bool:
            nonlocal taken, spawned_at
            # once a holder was started for us, leave the free stream to it (for a while)
            if not spawned_at or time.monotonic() - spawned_at > HOLDER_START:
                taken = self._lock.take(self, then)
                if taken:
                    return True
            self._check_not_waiting_on_ourselves()
            if not ride or self._lock.owner_loop() is not None:
                return False
            if await holder_present(self._home, self._session_id):
                return True
            if not spawned_at and time.monotonic() - since > HOLDER_AFTER:  # not for a short call
                await asyncio.to_thread(runtime().holders.spawn, self._home, self._session_id)
                spawned_at = time.monotonic()
            return False

        await wait_until(taken_or_held)
        return taken

    def _check_not_waiting_on_ourselves(self) -> None:
        """The stream is another loop's, with calls in flight, and that loop is blocked in the
        sync API waiting for this very task: waiting would never end."""
        other = self._lock.owner_loop()
        if other is not None and other is not self.loop and runtime().blocked.get(other) is asyncio.current_task():
            raise SessionError(
                f"Session {self._name!r} has calls in flight in this event loop, and the sync API "
                "was called from inside that loop: it would wait for them forever. Await the calls "
                "first, or use gradio_session.aio inside a running loop.")

    def _releasable(self) -> bool:
        return not self.active and not self._channel.reading() and not self._channel.holding and self.owned

    def maybe_release(self) -> None:
        """Release the stream lock once nothing is in flight, after what the calls recorded is
        committed: a free lock tells other processes that a call still `running` is orphaned."""
        if self._releasable() and not self._releasing:
            self._releasing = True
            task = self.loop.create_task(self._release_when_recorded())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _release_when_recorded(self) -> None:
        try:
            await self._store.barrier()
        finally:
            self._releasing = False
            self.release()

    def release(self) -> None:
        if self._releasable():
            self._channel.released()
            self._lock.release(self)
