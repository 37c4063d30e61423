"""One call's state in this process: its events, status and outcome, each change recorded.

The stream reader (`channel.py`) or the repository follower (`follow.py`) feeds it; the user's
`AsyncCall` (`call.py`) reads it. An event and the status it brings are recorded together, so
another process that sees a final status also sees the final event. The events of a running
call are written a few at a time (at most FLUSH_AFTER late), its end with them in one transaction.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from ..errors import (
    AppError, CallCancelled, CallError, CallTimeout, GradioSessionError, QuotaExceeded, StreamError,
)
from ..models import CallRecord, Endpoint, Event
from ..protocol.messages import TERMINAL_EVENTS, EventDecoder, error_message, quota_retry
from ..store.worker import StoreWorker

FLUSH_AFTER = 0.05  # s a running call's event may wait to be recorded with the ones after it
STATUS_OF = {"started": "running", "generating": "running", "progress": "running", "complete": "complete",
             "error": "error", "cancelled": "cancelled", "timed_out": "timed_out"}


class CallState:
    """Events, status and failure of one call; `when_done` callbacks run as it ends."""

    def __init__(self, store: StoreWorker, session_id: str, endpoint: Endpoint, event_id: str,
                 decoder: EventDecoder, status: str = "queued") -> None:
        self.store = store
        self.session_id = session_id
        self.endpoint = endpoint
        self.event_id = event_id
        self.status = status
        self.events: list[Event] = []
        self.failure: GradioSessionError | None = None
        self.done = False
        self.ending: str | None = None  # "cancelled" or "timed_out" once a cancel was sent
        self.beats = 0  # heartbeats while in flight: counted, not recorded (the session counts them once)
        self.recorded = True  # False: a batch's row, kept in memory only (see `Channel.recorded`)
        self._decoder = decoder
        self._changed = asyncio.Event()
        self._on_done: list[Callable[[], None]] = []
        self._unwritten: list[Callable[[], None]] = []
        self._flushing: asyncio.TimerHandle | None = None

    def when_done(self, fn: Callable[[], None]) -> None:
        self._on_done.append(fn)

    async def changed(self) -> None:
        """Wait for the next change (call right after looking at the state)."""
        self._changed.clear()
        await self._changed.wait()

    # -- errors -------------------------------------------------------------------------------

    def app_error(self, message: str | None) -> AppError:
        quota, retry_after = quota_retry(message)
        if quota and message:
            return QuotaExceeded(message, endpoint=self.endpoint.name, event_id=self.event_id, retry_after=retry_after)
        return AppError(message, endpoint=self.endpoint.name, event_id=self.event_id)

    def stop_error(self, status: str) -> CallError:
        """The error of a call ended by a cancel: ours (`cancelled`) or a timeout's."""
        where = f"The call {self.event_id} of {self.endpoint.name}"
        if status == "timed_out":
            return CallTimeout(f"{where} timed out; it was cancelled on the server.", event_id=self.event_id)
        return CallCancelled(f"{where} was cancelled.", event_id=self.event_id)

    # -- fed by the stream reader ----------------------------------------------------------

    def feed(self, msg: dict[str, Any]) -> None:
        """One `/queue/data` message of this call."""
        try:
            decoded = self._decoder.queue_message(msg)
        except StreamError as exc:
            self.fail(exc)
            return
        if decoded is not None:
            self.add(*decoded)

    def feed_event(self, name: str, raw: str) -> None:
        """One event of the `/call/{api}/{event_id}` stream."""
        try:
            self.add(*EventDecoder.call_event(name, raw))
        except StreamError as exc:
            self.fail(exc)

    def heartbeat(self) -> None:
        """The stream (or, following, the session's count) says the server is alive."""
        if not self.done:
            self.beats += 1
            self._changed.set()

    def add(self, name: str, data: Any) -> None:
        if self.done:
            return
        if name == "heartbeat":  # a `/call` stream's own: counted for the session like the queue's
            self.store.record(self.store.repository.beat, self.session_id)
            self.heartbeat()
            return
        if name == "cancelled":
            name = self.ending or "cancelled"
        event = Event(num=len(self.events) + 1, ts=time.time(), name=name, data=data)
        status = STATUS_OF.get(name)
        error = None
        if name in ("cancelled", "timed_out"):
            self.failure = self.stop_error(name)
        elif name == "error":
            self.failure = self.app_error(error_message(data))
        if self.failure is not None:
            error = str(self.failure)
        self.events.append(event)
        if status:
            self.status = status
        finished = name in TERMINAL_EVENTS
        self._write(self.store.repository.add_event, self.session_id, self.event_id, event,
                    status=status, error=error, finished=finished, soon=not finished)
        self._settle(finished)

    def fail(self, exc: GradioSessionError, status: str = "failed") -> None:
        """The stream died or lied (or a cancel got no answer): the call ends with `status`,
        recorded with the reason."""
        if self.done:
            return
        if isinstance(exc, CallError) and exc.event_id is None:
            exc.event_id = self.event_id
        self.failure, self.status = exc, status
        self._write(self.store.repository.set_call_status, self.session_id, self.event_id, status,
                    error=str(exc), finished_at=time.time())
        self._settle(True)

    def expire(self) -> None:
        """A heartbeat-limited wait gave up: say so, unless the call ended meanwhile."""
        self.status = "heartbeat_expired"
        self._write(self.store.repository.set_call_status, self.session_id, self.event_id,
                    "heartbeat_expired", if_running=True)

    def correct(self, status: str) -> None:
        """Another process recorded a cancel that was our timeout: record the right end."""
        self.status, self.failure = status, self.stop_error(status)
        self._write(self.store.repository.set_call_status, self.session_id, self.event_id, status)

    def begin(self, record: CallRecord) -> None:
        """Record the call itself with its first events (its caller is not told its event id
        meanwhile): a quick call is then one transaction."""
        self._write(self.store.repository.add_call, record, soon=True)

    def _write(self, fn: Callable[..., None], *args: Any, soon: bool = False, **kwargs: Any) -> None:
        """Record a change: now, with those waiting; or (`soon`) within FLUSH_AFTER, so that a
        quick call's events cost one transaction, not one each."""
        if not self.recorded:
            return
        self._unwritten.append(functools.partial(fn, *args, **kwargs))
        if soon and self._flushing is None:
            try:
                self._flushing = asyncio.get_running_loop().call_later(FLUSH_AFTER, self._flush)
            except RuntimeError:  # no loop here: write it now
                soon = False
        if not soon:
            self._flush()

    def _flush(self) -> None:
        if self._flushing is not None:
            self._flushing.cancel()
            self._flushing = None
        writes, self._unwritten = self._unwritten, []
        self.store.record(_in_one_transaction, self.store.repository.batch, writes)

    # -- fed by the repository (another process reads the stream) --------------------------

    def extend(self, events: list[Event]) -> None:
        if events:
            self.events.extend(events)
            self._changed.set()

    def end_from_record(self, record: CallRecord | None) -> None:
        """A followed call ended in another process: take its outcome from the repository."""
        self.status = record.status if record else "forgotten"
        last = self.events[-1] if self.events else None
        reason = (record.error if record else None) or f"The call {self.event_id} was forgotten."
        if self.status == "error":
            self.failure = self.app_error(error_message(last.data) if last and last.name == "error" else reason)
        elif self.status in ("cancelled", "timed_out"):
            self.failure = self.stop_error(self.status)
        elif self.status != "complete":
            self.failure = StreamError(reason, event_id=self.event_id)
        self._settle(True)

    def _settle(self, finished: bool) -> None:
        if finished:
            self.done = True
            for fn in self._on_done:
                fn()
            self._on_done.clear()
        self._changed.set()


def _in_one_transaction(batch: Callable[[], AbstractContextManager[None]], writes: list[Callable[[], None]]) -> None:
    with batch():
        for write in writes:
            write()


def end_siblings(states: list[CallState], cancelled: str, endpoint: str) -> None:
    """Gradio's `/cancel` stops every running call of the endpoint in the session, and the
    server says nothing of the others: end them rather than wait forever."""
    for state in states:
        if state.endpoint.name == endpoint and state.status == "running":
            state.fail(CallCancelled(
                f"The call {state.event_id} of {endpoint} was cancelled with {cancelled}: "
                "Gradio's cancel stops every running call of an endpoint in a session.",
                event_id=state.event_id), "cancelled")
