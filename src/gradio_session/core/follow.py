"""Following a call that another process reads: its news come from the repository.

The reader records each event with the call's status; the follower polls, quickly at first
(short calls end soon), and now and then checks that somebody still reads the session's stream.
A call left to a holder that is gone gets a new holder (a few times); a call whose reader died
ends `interrupted`.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from .. import paths
from ..errors import StreamError
from ..models import TERMINAL_STATUSES, CallRecord
from .runtime import runtime
from .state import CallState
from .waiting import wait_until

FOLLOW_POLL = 0.05  # seconds between repository reads, at most
READER_CHECK = 0.5  # seconds between looks at the stream lock
BEATS_AT_ONCE = 4  # heartbeats a single look passes on, however many the session counted
HOLDER_STARTS = 3  # holders a follower starts (each died) before its call is interrupted


class Follower:
    """The news source of a call read by another process."""

    def __init__(self, state: CallState, home: Path) -> None:
        self._state = state
        self._home = home
        self._stream = runtime().stream_lock(home, state.session_id)
        self._holders_started = 0
        self._beats: int | None = None  # the session's heartbeat count when we first looked

    async def next(self) -> None:
        """Wait until the repository has new events of the call, or its end."""
        checked = 0.0  # the first quiet look checks the reader too
        repo = self._state.store.repository

        async def news() -> bool:
            nonlocal checked
            state = self._state
            record, new, beats = await state.store.run(repo.call_news, state.session_id, state.event_id,
                                                       len(state.events))
            state.extend(new)
            if record is None or record.status in TERMINAL_STATUSES:
                state.end_from_record(record)
                return True
            if new:
                return True
            if self._beats is not None and beats > self._beats:
                for _ in range(min(beats - self._beats, BEATS_AT_ONCE)):
                    state.heartbeat()
                self._beats = beats
                return True
            self._beats = beats if self._beats is None else self._beats
            if time.monotonic() - checked > READER_CHECK:
                checked = time.monotonic()
                return self._stream.free() and await self._orphaned(record)
            return False

        await wait_until(news, first=0.005, most=FOLLOW_POLL)

    async def _orphaned(self, record: CallRecord) -> bool:
        """Nobody reads the session's stream: a call left to the holder gets one (it left just
        as the call came); a call whose reader died is interrupted. True when it ended."""
        sid, eid = self._state.session_id, self._state.event_id
        if record.reader is None:
            # a new holder, unless the one this process started is still starting
            self._holders_started += await asyncio.to_thread(runtime().holders.spawn, self._home, sid)
            if self._holders_started <= HOLDER_STARTS:
                return False
            why = f"no background holder could read it: see {paths.holder_log(self._home, sid)}"
        else:
            why = "the process that held its stream is gone, and its events with it"
        self._state.fail(StreamError(f"The call {eid} was interrupted: {why}."), "interrupted")
        return True
