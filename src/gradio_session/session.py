"""The async core: sessions, calls, and the one reader of a session's event stream.

Everything the sync API does runs through here (see `sync.py`). A `Channel` is a session's
connection within one event loop: the pooled HTTP client, the single `/queue/data` reader
that routes messages to calls by event id, and the lock that keeps other processes off the
session's stream while this one reads it (the server has one message queue per session).
"""

from __future__ import annotations

import asyncio
import copy
import os
import time
import uuid
import warnings
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from . import files, holder, protocol, tokens
from .errors import (
    AppError, CallCancelled, CallError, CallNotFound, CallTimeout, ConnectError, GradioSessionError,
    MaxCallsReached, NotAGradioApp, QueueFull, SessionNotFound, StreamError,
)
from .models import (
    TERMINAL_STATUSES, AppInfo, CallRecord, Endpoint, Event, FileData, SessionRecord, UploadRecord,
)
from .repository import Repository, default_home
from .schema import bind, find_endpoint
from .transport import Transport

_repositories: dict[tuple[int, Path], Repository] = {}
_reader_ids: dict[int, str] = {}


def reader_id() -> str:
    """This process's name on the calls whose stream it reads (per pid: forks get their own)."""
    return _reader_ids.setdefault(os.getpid(), f"{os.getpid()}.{uuid.uuid4().hex[:8]}")


def open_repository(home: Path | str | None = None) -> Repository:
    """The process's Repository for a home folder (default: `$GRADIO_SESSION_HOME` or user data)."""
    key = (os.getpid(), Path(home) if home is not None else default_home())
    if key not in _repositories:
        _repositories[key] = Repository(key[1])
    return _repositories[key]


JOINS_IN_FLIGHT = 32
# A call not yet accepted (no event id) may be sent again; one with an event id never is.
JOIN_RETRIES = 3
CANCEL_WAIT = 5.0  # seconds the server gets to end a cancelled call's stream
FOLLOW_POLL = 0.05  # seconds between repository reads (at most) when following another process's call
EARLY_TTL = 30.0  # seconds the holder keeps messages of a call no process has recorded
HOLDER_STARTS = 3  # holders a follower starts (each died) before its call is interrupted

# --- calls ------------------------------------------------------------------------------------


class AsyncCall:
    """One call of an endpoint: its event id, status and events as they arrive."""

    def __init__(self, session: AsyncSession, endpoint: Endpoint, event_id: str, inputs: list[Any],
                 started_at: float) -> None:
        self.session = session
        self.endpoint = endpoint.name
        self._endpoint = endpoint
        self.event_id = event_id
        self.inputs = inputs
        self.started_at = started_at
        self.status = "queued"
        self._decoder = protocol.EventDecoder(endpoint)
        self._events: list[Event] = []
        self._changed = asyncio.Event()
        self._done = False
        self._failure: GradioSessionError | None = None
        self._ending: str | None = None  # "cancelled" or "timed_out" once a cancel was sent
        self._local: dict[str, Any] = {}  # the result with its files downloaded, by folder
        self._following = False  # True: another process holds the stream; read the repository
        self._resume = 0  # where the next events() starts after a heartbeat-limited wait
        self._holders_started = 0

    def __repr__(self) -> str:
        return f"<Call {self.endpoint} {self.event_id} {self.status}>"

    @property
    def done(self) -> bool:
        return self._done

    def history(self) -> list[Event]:
        """The events received (or, following, read) so far, without waiting."""
        return list(self._events)

    async def events(self, *, timeout: float | None = None, max_heartbeats: int | None = None,
                     after: int | None = None) -> AsyncIterator[Event]:
        """The call's events in order, live until it ends: from the first, or those numbered
        above `after`, or, after a wait stopped by `max_heartbeats`, from where it stopped.

        `max_heartbeats`: stop waiting after that many heartbeats in a row; the call (still
        running) is marked `heartbeat_expired`. `timeout`: after that many seconds of waiting
        the call is cancelled on the server and ends as `timed_out`."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        i = self._resume if after is None else max(after, 0)
        live_from, beats = len(self._events), 0  # heartbeats count only once we wait
        while True:
            while i < len(self._events):
                event = self._events[i]
                i += 1
                yield event
                beats = beats + 1 if event.name == "heartbeat" and i > live_from else 0
                if max_heartbeats and beats >= max_heartbeats and not self._done:
                    self._resume = i
                    self._expire()
                    return
            if self._done:
                return
            self._changed.clear()
            try:
                await asyncio.wait_for(self._next(), None if deadline is None else deadline - loop.time())
            except asyncio.TimeoutError:
                try:
                    await self._stop("timed_out")
                except GradioSessionError as exc:  # the server could not be told: end it here
                    self._fail(CallTimeout(f"{self._stop_error('timed_out')} ({exc})"), "timed_out")

    def _expire(self) -> None:
        """A heartbeat-limited wait gave up: say so, unless the call ended meanwhile."""
        self.status = "heartbeat_expired"
        self.session.repository.set_call_status(self.session.id, self.event_id, "heartbeat_expired",
                                                if_running=True)

    async def result(self, *, timeout: float | None = None, download_path: str | Path | None = None) -> Any:
        """Wait for the end; the final output list, or raise the app's error (CallTimeout
        after `timeout` seconds, the call cancelled on the server).

        Files in the result are downloaded into `download_path` (default: the session's) and
        their FileData `path` set to the local file; with no folder they keep their URL."""
        async for _ in self.events(timeout=timeout):
            pass
        if self._failure is not None:
            raise self._failure
        last = self._events[-1] if self._events else None
        if last is None or last.name != "complete":
            raise StreamError(f"The call {self.event_id} ended without a result.", event_id=self.event_id)
        if not files.find_files(last.data):
            return last.data
        # read now: another process may have set the session's folder since it was loaded
        folder = download_path or self.session.repository.get_session(self.session.id).download_path
        if not folder:
            return last.data
        key = str(Path(folder).expanduser().resolve())
        if key not in self._local:
            self._local[key] = await self.session._download_files(last.data, Path(key))
        return self._local[key]

    async def cancel(self) -> bool:
        """Stop the call on the server; it ends as `cancelled`. False if it had ended already."""
        return await self._stop("cancelled")

    async def _stop(self, status: str) -> bool:
        if self._done:
            return False
        self._ending = status
        await self.session._post_cancel(self._endpoint, self.event_id)
        try:
            await asyncio.wait_for(self._wait_end(), CANCEL_WAIT)
        except asyncio.TimeoutError:  # the server did not end the stream: end the call here
            self._fail(self._stop_error(status), status)
            self.session._channel()._reap(self)
        if self._following and self.status == "cancelled" and status == "timed_out":
            # the process reading the stream recorded the cancel it saw; it was our timeout
            self.session.repository.set_call_status(self.session.id, self.event_id, status)
            self.status, self._failure = status, self._stop_error(status)
        return self.status == status

    async def _wait_end(self) -> None:
        while not self._done:
            self._changed.clear()
            await self._next()

    async def _next(self) -> None:
        """Wait for news: from the stream reader, or (following) from the repository."""
        if not self._following:
            await self._changed.wait()
            return
        repo, checked, delay = self.session.repository, 0.0, 0.005
        while True:
            # the call's status first: its final event is committed with it, so it is read next
            record = repo.get_call(self.session.id, self.event_id)
            new = repo.events(self.session.id, self.event_id, after=len(self._events))
            self._events.extend(new)
            if record is None or record.status in TERMINAL_STATUSES:
                self._end_from_record(record)
                return
            if new:
                return
            if time.monotonic() - checked > 0.5:
                checked = time.monotonic()
                if holder.lock_free(FileLock(self.session._lock_path(), thread_local=False)):
                    if self._orphaned(record):
                        return
            await asyncio.sleep(delay)
            delay = min(delay * 2, FOLLOW_POLL)  # quick at first: short calls end soon

    def _orphaned(self, record: CallRecord) -> bool:
        """Nobody reads the session's stream: a call left to the holder gets one (it left just
        as the call came); a call whose reader died is interrupted. True when it ended."""
        home, sid = self.session.repository.home, self.session.id
        if record.reader is None:
            self._holders_started += holder.spawn(home, sid)  # not while the last one starts
            if self._holders_started <= HOLDER_STARTS:
                return False
        why = ("no background holder could read it: see " + str(holder.log_path(home, sid))
               if record.reader is None else "the process that held its stream is gone, and its events with it")
        self._fail(StreamError(f"The call {self.event_id} was interrupted: {why}."), "interrupted")
        return True

    def _end_from_record(self, record: CallRecord | None) -> None:
        """A followed call ended in another process: take its outcome from the repository."""
        self._done = True
        self.status = record.status if record else "forgotten"
        last = self._events[-1] if self._events else None
        reason = (record.error if record else None) or f"The call {self.event_id} was forgotten."
        if self.status == "error":
            message = protocol.error_message(last.data) if last and last.name == "error" else reason
            self._failure = AppError(message, endpoint=self.endpoint, event_id=self.event_id)
        elif self.status in ("cancelled", "timed_out"):
            self._failure = self._stop_error(self.status)
        elif self.status != "complete":
            self._failure = StreamError(reason, event_id=self.event_id)

    def _stop_error(self, status: str) -> CallError:
        if status == "timed_out":
            return CallTimeout(f"The call {self.event_id} of {self.endpoint} timed out; it was cancelled "
                               "on the server.", event_id=self.event_id)
        return CallCancelled(f"The call {self.event_id} of {self.endpoint} was cancelled.",
                             event_id=self.event_id)

    # -- fed by the channel --

    def _queue_message(self, msg: dict[str, Any]) -> None:
        try:
            decoded = self._decoder.queue_message(msg)
        except StreamError as exc:
            self._fail(exc)
            return
        if decoded is not None:
            self._add(*decoded)

    def _call_event(self, name: str, raw: str) -> None:
        try:
            self._add(*protocol.EventDecoder.call_event(name, raw))
        except StreamError as exc:
            self._fail(exc)

    def _add(self, name: str, data: Any) -> None:
        if self._done:
            return
        if name == "cancelled":
            name = self._ending or "cancelled"
        event = Event(num=len(self._events) + 1, ts=time.time(), name=name, data=data)
        status = {"started": "running", "generating": "running", "progress": "running",
                  "complete": "complete", "error": "error", "cancelled": "cancelled",
                  "timed_out": "timed_out"}.get(name)
        error = None
        if name in ("cancelled", "timed_out"):
            self._failure = self._stop_error(name)
            error = str(self._failure)
        if name == "error":
            message = protocol.error_message(data)
            self._failure = AppError(message, endpoint=self.endpoint, event_id=self.event_id)
            error = str(self._failure)
        self._events.append(event)
        if status:
            self.status = status
        self._done = name in protocol.TERMINAL_EVENTS
        self.session.repository.add_event(self.session.id, self.event_id, event, status=status,
                                          error=error, finished=self._done)
        self._changed.set()

    def _fail(self, exc: GradioSessionError, status: str = "failed") -> None:
        """The stream died or lied (or a cancel got no answer): the call ends with `status`,
        recorded with the reason."""
        if self._done:
            return
        self._failure = exc
        if isinstance(exc, CallError) and exc.event_id is None:
            exc.event_id = self.event_id
        self.status = status
        self._done = True
        self.session.repository.set_call_status(self.session.id, self.event_id, status,
                                                error=str(exc), finished_at=time.time())
        self._changed.set()


# --- the per-loop connection of a session ----------------------------------------------------


class Channel:
    """A session's connection in one event loop; shared by every AsyncSession of that session.

    While this process reads the session's stream it holds the stream lock; a process that
    finds the lock taken by the session's holder (see `holder.py`) joins its calls anyway and
    leaves them to the holder, following them through the repository."""

    def __init__(self, session: AsyncSession, token: str | None) -> None:
        self.record = session.record
        self.repository = session.repository
        self._session = session  # the owner of calls this channel takes over from other processes
        self.transport = Transport(self.record.app_url, token)
        self._calls: dict[str, AsyncCall] = {}
        # messages of calls not yet known here, with when the first came
        self._early: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._adopted: set[str] = set()  # event ids of calls taken over from other processes
        self._reader: asyncio.Task[None] | None = None
        self._active = 0
        self._guard = asyncio.Lock()
        self._serial = asyncio.Lock()
        # httpcore's pool costs O(waiting x connections) per request: keep the queue short.
        self._sending = asyncio.Semaphore(JOINS_IN_FLIGHT)
        self._flock = FileLock(session._lock_path(), thread_local=False)
        self._holder_lock = FileLock(holder.lock_path(self.repository.home, self.record.id), thread_local=False)
        self.holding = False  # True in the holder: keep the stream lock between calls

    @property
    def busy(self) -> bool:
        """Calls joining or in flight, or messages for calls not yet known here."""
        return bool(self._active or self._early)

    # The stream lock is held while this process has calls joining or in flight, or reads.
    async def _enter(self, ride: bool = True) -> bool:
        """Take the stream lock for one more call: True. False: the holder has the stream, so
        the call is to be left to it (only if `ride`)."""
        async with self._guard:
            if not await self._take_stream(ride):
                return False
            self._active += 1
            return True

    async def _take_stream(self, ride: bool) -> bool:
        """Wait until this process holds the stream lock (True), or, if `ride`, until the
        holder is found to have it (False)."""
        delay = 0.002
        while not self._flock.is_locked:
            try:
                self._flock.acquire(blocking=False)
            except Timeout:
                if ride and holder.alive(self.repository.home, self.record.id):
                    return False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.05)
        return True

    def _leave(self) -> None:
        self._active -= 1
        self._maybe_release()

    def _maybe_release(self) -> None:
        if self._active == 0 and self._reader is None and self._flock.is_locked and not self.holding:
            self._early.clear()
            self._flock.release()

    async def join(self, session: AsyncSession, endpoint: Endpoint, values: list[Any], *,
                   detach: bool = False) -> AsyncCall:
        """Queue a call (`/queue/join`) and route its messages to the returned AsyncCall; with
        `detach` (or when the holder has the stream) the holder reads it and the call follows
        it through the repository."""
        home, sid = self.repository.home, self.record.id
        if detach:
            await holder.ensure(home, sid, self.record.name)
        reading = not detach and await self._enter()
        try:
            body = protocol.join_body(endpoint, values, self.record.session_hash)
            async with self._sending:
                r = await self.transport.request("POST", f"{self.record.api_url}/queue/join", json=body,
                                                 retries=JOIN_RETRIES)
            event_id = _event_id(r, endpoint.name)
            call = session._new_call(endpoint, event_id, values, reader=reader_id() if reading else None)
        except BaseException:
            if reading:
                self._leave()
            raise
        if not reading:
            call._following = True
            if not holder.alive(home, sid):  # it left just before the call was recorded
                holder.spawn(home, sid)
            return call
        self._calls[event_id] = call
        self._replay(event_id)
        self._start_reader()
        return call

    def _start_reader(self) -> None:
        if self._reader is None and self._calls:
            self._reader = asyncio.get_running_loop().create_task(self._read())

    def adopt(self, event_id: str | None = None) -> None:
        """Read the calls other processes joined for the holder (all, or the one of `event_id`):
        this process has the stream, so their messages come here."""
        if not self._flock.is_locked:
            return
        if event_id is None:  # messages of a call nobody records (forgotten meanwhile) expire
            now = time.monotonic()
            for old in [i for i, (first, _) in self._early.items() if now - first > EARLY_TTL]:
                del self._early[old]
        for record in self.repository.claim_call(self.record.id, event_id, reader_id()):
            try:
                endpoint = find_endpoint(self.record.app, record.endpoint)
            except GradioSessionError:
                endpoint = Endpoint(name=record.endpoint)
            call = AsyncCall(self._session, endpoint, record.event_id, record.inputs, record.started_at)
            call.status = record.status
            self._calls[record.event_id] = call
            self._adopted.add(record.event_id)
            self._active += 1
            self._replay(record.event_id)
        self._start_reader()

    def _replay(self, event_id: str) -> None:
        """Route the messages that came before their call was known here."""
        for msg in self._early.pop(event_id, (0.0, []))[1]:
            self._route(msg)

    # -- the holder's side (see holder.py) --

    async def hold(self) -> None:
        """Take the session's stream (waiting for any process reading it), then say so."""
        await self._take_stream(ride=False)
        self.holding = True
        self.hold_again()

    def hold_again(self) -> None:
        self._holder_lock.acquire(timeout=10)  # only other processes' brief checks compete

    def let_go(self) -> None:
        self._holder_lock.release(force=True)

    async def close(self) -> None:
        """Read the calls taken over from other processes to their end, then stop reading and
        release the locks."""
        self.holding = False
        while self._adopted:
            await asyncio.sleep(holder.POLL)
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except BaseException:  # noqa: S110 - the reader records its own end
                pass
        if self._holder_lock.is_locked:
            self._holder_lock.release(force=True)
        self._maybe_release()
        await self.transport.aclose()

    def _route(self, msg: dict[str, Any]) -> None:
        if msg.get("msg") == "heartbeat":
            for call in list(self._calls.values()):
                call._queue_message(msg)
            return
        event_id = msg.get("event_id")
        if not isinstance(event_id, str):
            return
        known = self._calls.get(event_id)
        if known is None:
            self._early.setdefault(event_id, (time.monotonic(), []))[1].append(msg)
            self.adopt(event_id)
            return
        known._queue_message(msg)
        self._reap(known)

    def _reap(self, call: AsyncCall) -> None:
        if call.done and self._calls.pop(call.event_id, None) is not None:
            self._adopted.discard(call.event_id)
            self._leave()
            if call.status in ("cancelled", "timed_out"):
                self._end_siblings(call)

    def _end_siblings(self, cancelled: AsyncCall) -> None:
        """Gradio's /cancel stops every running call of the endpoint in the session, and the
        server says nothing of the others: end them here rather than wait forever."""
        for other in list(self._calls.values()):
            if other.endpoint == cancelled.endpoint and other.status == "running":
                other._fail(CallCancelled(
                    f"The call {other.event_id} of {other.endpoint} was cancelled with {cancelled.event_id}: "
                    "Gradio's cancel stops every running call of an endpoint in a session.",
                    event_id=other.event_id), "cancelled")
                self._reap(other)

    async def _read(self) -> None:
        """The session's one `/queue/data` reader; reconnects while calls are in flight."""
        url = f"{self.record.api_url}/queue/data"
        failures = 0
        try:
            while self._calls:
                try:
                    async with self.transport.sse(url, {"session_hash": self.record.session_hash}) as (
                        status, events,
                    ):
                        if status >= 400:
                            raise StreamError(f"The server refused the event stream (HTTP {status}).")
                        async for _, data in events:
                            msg = protocol.decode_json(data)
                            if not isinstance(msg, dict):
                                raise StreamError(f"Malformed message from the server: {data[:80]!r}")
                            if msg.get("msg") == "process_completed":
                                failures = 0  # progress: a broken stream later is a new fault
                            if msg.get("msg") == "close_stream":
                                break
                            self._route(msg)
                            if msg.get("msg") == "heartbeat" and not self.busy:
                                break  # idle: the server keeps a stream open until it is left
                        else:
                            if self._calls:
                                raise StreamError("The server closed the event stream mid-call.")
                except (StreamError, ConnectError) as exc:
                    failures += 1
                    if failures >= 2 or not self._calls:
                        self._fail_all(StreamError(f"{exc} The call is lost; it is recorded as failed."))
                    else:
                        await asyncio.sleep(0.2)
        except BaseException as exc:  # cancelled or a bug: no call may wait forever
            self._fail_all(StreamError(f"The event reader stopped: {exc!r}"))
            raise
        finally:
            self._reader = None
            self._maybe_release()

    def _fail_all(self, exc: StreamError) -> None:
        for call in list(self._calls.values()):
            call._fail(StreamError(str(exc)))
            self._reap(call)

    async def post_call(self, session: AsyncSession, endpoint: Endpoint, values: list[Any]) -> AsyncCall:
        """The `/call/{api}` fallback for apps without the queue protocol: one call at a time."""
        await self._serial.acquire()
        try:
            await self._enter(ride=False)
        except BaseException:
            self._serial.release()
            raise
        try:
            name = endpoint.name.lstrip("/")
            r = await self.transport.request(
                "POST", f"{self.record.api_url}/call/{name}", retries=JOIN_RETRIES,
                json={"data": values, "session_hash": self.record.session_hash},
            )
            event_id = _event_id(r, endpoint.name)
            call = session._new_call(endpoint, event_id, values, reader_id())
        except BaseException:
            self._leave()
            self._serial.release()
            raise
        asyncio.get_running_loop().create_task(self._follow_call(call, f"{self.record.api_url}/call/{name}/{event_id}"))
        return call

    async def _follow_call(self, call: AsyncCall, url: str) -> None:
        try:
            async with self.transport.sse(url) as (status, events):
                if status >= 400:
                    raise StreamError(f"The server refused the event stream (HTTP {status}).")
                async for name, data in events:
                    call._call_event(name, data)
                    if call.done:
                        break
            if not call.done:
                raise StreamError("The server closed the event stream mid-call.")
        except (StreamError, ConnectError) as exc:
            call._fail(StreamError(f"{exc} The call is lost; it is recorded as failed."))
        except BaseException as exc:
            call._fail(StreamError(f"The event reader stopped: {exc!r}"))
            raise
        finally:
            self._leave()
            self._serial.release()


def _event_id(r: Any, endpoint: str) -> str:
    """The event id from a join/call answer, or the right error for a refusal."""
    body = r.json()
    if r.status in (429, 503) or (isinstance(body, dict) and "queue is full" in str(body).lower()):
        raise QueueFull(f"The app's queue is full (HTTP {r.status}); try {endpoint} again later.")
    if r.status >= 400 or not isinstance(body, dict) or not isinstance(body.get("event_id"), str):
        detail = body.get("detail") if isinstance(body, dict) else r.text[:200]
        raise CallError(f"The app refused the call of {endpoint} (HTTP {r.status}): {detail}")
    return str(body["event_id"])


_channels: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Channel]] = (
    weakref.WeakKeyDictionary()
)


async def close_channels() -> None:
    """Close every session's connection in the running event loop."""
    for channel in _channels.pop(asyncio.get_running_loop(), {}).values():
        await channel.close()


# --- sessions ---------------------------------------------------------------------------------


class AsyncSession:
    """A named session: one app, one Gradio session_hash, its calls recorded in the repository."""

    def __init__(self, record: SessionRecord, repository: Repository) -> None:
        self.record = record
        self.repository = repository

    def __repr__(self) -> str:
        return f"<Session {self.name!r} {self.record.app_url}>"

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def app(self) -> AppInfo:
        return self.record.app

    def endpoint(self, name: str) -> Endpoint:
        """The endpoint called `name` (leading slash optional)."""
        return find_endpoint(self.record.app, name)

    def _channel(self) -> Channel:
        loop = asyncio.get_running_loop()
        channels = _channels.setdefault(loop, {})
        channel = channels.get(self.id)
        if channel is None:
            token = tokens.load(self.repository.home, self.id) if self.record.has_token else None
            channel = Channel(self, token)
            channels[self.id] = channel
        return channel

    async def invoke(self, endpoint: str, *args: Any, **kwargs: Any) -> AsyncCall:
        """Start a call; returns as soon as the server gave it an event id."""
        return await self._start(endpoint, args, kwargs, detach=False)

    async def detach(self, endpoint: str, *args: Any, **kwargs: Any) -> AsyncCall:
        """Start a call that outlives this process: the session's background holder reads it
        and records its events (find it again with `get_call`)."""
        return await self._start(endpoint, args, kwargs, detach=True)

    async def _start(self, endpoint: str, args: tuple[Any, ...], kwargs: dict[str, Any], *,
                     detach: bool) -> AsyncCall:
        ep = self.endpoint(endpoint)
        values = bind(ep, args, kwargs)
        self._make_room()
        values = await self._file_values(ep, values)
        channel = self._channel()
        if self.record.app.uses_queue and ep.fn_index is not None:
            return await channel.join(self, ep, values, detach=detach)
        if detach:
            raise CallError(f"Calls of {ep.name} can't be detached: the app does not speak the queue "
                            "protocol, so no other process can read them.")
        return await channel.post_call(self, ep, values)

    async def call(self, endpoint: str, *args: Any, **kwargs: Any) -> Any:
        """Call an endpoint and wait for its result (the output list)."""
        return await (await self.invoke(endpoint, *args, **kwargs)).result()

    def calls(self, status: str | None = None) -> list[CallRecord]:
        """The session's recorded calls, oldest first (only those of `status` if given)."""
        return self.repository.list_calls(self.id, status)

    async def get_call(self, event_id: str) -> AsyncCall:
        """A call of this session by event id, from any process: its recorded events, then the
        live ones (read from the repository as the process holding the stream records them)."""
        live = self._channel()._calls.get(event_id)
        if live is not None:
            return live
        record = self.get_call_record(event_id)
        try:
            endpoint = self.endpoint(record.endpoint)
        except GradioSessionError:
            endpoint = Endpoint(name=record.endpoint)
        call = AsyncCall(self, endpoint, event_id, record.inputs, record.started_at)
        call._following = True
        call.status = record.status
        call._events = self.repository.events(self.id, event_id)
        if record.status in TERMINAL_STATUSES:
            call._end_from_record(record)
        return call

    def _lock_path(self) -> Path:
        """The file whose lock says which process reads this session's stream."""
        folder = self.repository.home / "locks"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{self.id}.lock"

    def get_call_record(self, event_id: str) -> CallRecord:
        """The recorded call of that event id, or CallNotFound naming this session."""
        record = self.repository.get_call(self.id, event_id)
        if record is None:
            raise CallNotFound(f"No call {event_id!r} in session {self.name!r}. "
                               "List its calls with `gradio-session calls`.")
        return record

    def forget(self, event_id: str | None = None, *, completed: bool = False, all: bool = False,
               force: bool = False, dry_run: bool = False) -> list[str]:
        """Forget recorded calls: one by event id, the finished ones (`completed`) or `all`;
        calls still running only with `force`. Returns the event ids gone (or, dry_run, to go)."""
        if (event_id is not None) + completed + all != 1:
            raise GradioSessionError("Forget one call by event id, or the completed calls, or all calls.")
        if event_id is not None:
            record = self.get_call_record(event_id)
            if record.status not in TERMINAL_STATUSES and not force:
                raise CallError(f"The call {event_id} is still {record.status}: cancel it first, or "
                                "forget it with force.", event_id=event_id)
        statuses = None if force and not completed else TERMINAL_STATUSES
        return self.repository.forget_calls(self.id, event_id=event_id, statuses=statuses, dry_run=dry_run)

    async def cancel(self, event_id: str) -> bool:
        """Cancel a call of this session by event id, from any process; False if it had ended."""
        call = self._channel()._calls.get(event_id)
        if call is not None:
            return await call.cancel()
        record = self.get_call_record(event_id)
        if record.status in TERMINAL_STATUSES:
            return False
        await self._post_cancel(self.endpoint(record.endpoint), event_id)
        # The process reading the session's stream records the end; if none does, record it here.
        lock = FileLock(self._lock_path(), thread_local=False)
        deadline = time.monotonic() + CANCEL_WAIT
        while not holder.lock_free(lock):
            if time.monotonic() > deadline:
                break
            now = self.repository.get_call(self.id, event_id)
            if now is None or now.status in TERMINAL_STATUSES:
                return True
            await asyncio.sleep(0.1)
        self.repository.set_call_status(self.id, event_id, "cancelled", finished_at=time.time(),
                                        error=f"The call {event_id} of {record.endpoint} was cancelled.")
        return True

    async def _post_cancel(self, endpoint: Endpoint, event_id: str) -> None:
        if endpoint.fn_index is None:
            raise CallError(f"Calls of {endpoint.name} can't be cancelled: the app does not speak the "
                            "queue protocol.", event_id=event_id)
        body = {"session_hash": self.record.session_hash, "fn_index": endpoint.fn_index, "event_id": event_id}
        r = await self._channel().transport.request("POST", f"{self.record.api_url}/cancel", json=body)
        if r.status >= 400:
            raise CallError(f"The app refused to cancel {event_id} (HTTP {r.status}): {r.text[:200]}",
                            event_id=event_id)

    async def upload(self, *paths: str | os.PathLike[str] | FileData | dict[str, Any],
                     progress: files.Progress | None = None) -> list[FileData]:
        """Upload local files (streamed, one request) and record them; URLs and FileData pass
        through. Every local file is checked before anything is sent."""
        specs = [files.as_upload(p) for p in paths]
        return [FileData.from_dict(fd) for fd in await self._upload_specs(specs, progress)]

    def uploads(self) -> list[UploadRecord]:
        """The files uploaded through this session, oldest first."""
        return self.repository.list_uploads(self.id)

    async def _upload_specs(self, specs: list[Path | dict[str, Any]],
                            progress: files.Progress | None = None) -> list[dict[str, Any]]:
        """Local Paths -> uploaded FileData dicts (each path once); dicts are kept."""
        local = list(dict.fromkeys(s for s in specs if isinstance(s, Path)))
        done: dict[Path, dict[str, Any]] = {}
        if local:
            sent = await files.upload(self._channel().transport, self.record.api_url, local, progress)
            now = time.time()
            self.repository.add_uploads([
                UploadRecord(self.id, str(p), fd.size or 0, sha, fd.path, now)
                for p, (fd, sha) in zip(local, sent)
            ])
            done = {p: fd.to_dict() for p, (fd, _) in zip(local, sent)}
        return [done[s] if isinstance(s, Path) else s for s in specs]

    async def _file_values(self, ep: Endpoint, values: list[Any]) -> list[Any]:
        """File parameters: local paths are uploaded, URLs and FileData wrapped, before the call."""
        slots: list[tuple[int, bool, int]] = []  # (value index, takes a list, how many files)
        specs: list[Path | dict[str, Any]] = []
        for i, (p, v) in enumerate(zip(ep.parameters, values)):
            if p.file is None or v is None:
                continue
            many = p.file == "many"
            items = list(v) if many and isinstance(v, (list, tuple)) else [v]
            slots.append((i, many, len(items)))
            specs.extend(files.as_upload(x) for x in items)
        if not slots:
            return values
        sent = iter(await self._upload_specs(specs))
        for i, many, count in slots:
            chunk = [next(sent) for _ in range(count)]
            values[i] = chunk if many else chunk[0]
        return values

    async def _download_files(self, data: Any, folder: Path) -> Any:
        """A copy of `data` whose FileData are downloaded into `folder` (path: the local file)."""
        data = copy.deepcopy(data)
        transport = self._channel().transport
        for fd in files.find_files(data):
            url = files.file_url(self.record.api_url, fd)
            name = fd.get("orig_name") or fd["path"].split("?")[0]
            local = await files.download(transport, url, folder, name)
            fd.update(path=str(local), url=fd.get("url") or url)
        return data

    def _new_call(self, endpoint: Endpoint, event_id: str, values: list[Any],
                  reader: str | None) -> AsyncCall:
        call = AsyncCall(self, endpoint, event_id, values, time.time())
        self.repository.add_call(CallRecord(event_id=event_id, session_id=self.id, endpoint=endpoint.name,
                                            inputs=values, status="queued", started_at=call.started_at,
                                            reader=reader))
        return call

    def _make_room(self) -> None:
        """Apply max_calls before a new call: refuse, warn, or forget the oldest finished calls."""
        max_calls, policy = self.repository.call_limit(self.id)
        if not max_calls:
            return
        count = self.repository.count_calls(self.id)
        if count < max_calls:
            return
        over = count - max_calls + 1
        if policy == "warning":
            warnings.warn(f"Session {self.name!r} holds {count} calls (max_calls {max_calls}).",
                          stacklevel=3)
        elif policy == "remove":
            if len(self.repository.forget_calls(self.id, statuses=TERMINAL_STATUSES, limit=over)) < over:
                raise MaxCallsReached(
                    f"Session {self.name!r} is at max_calls ({max_calls}) and its calls are "
                    "still running: none can be forgotten yet."
                )
        else:
            raise MaxCallsReached(
                f"Session {self.name!r} holds {count} calls, its max_calls is {max_calls}. "
                "Forget calls, raise --max-calls, or set --max-calls-policy remove."
            )

    async def aclose(self) -> None:
        """Close this session's connection in the running event loop (pending calls fail).
        Calls this process took over from others are read to their end first: leaving the
        stream would make the server drop them."""
        channel = _channels.get(asyncio.get_running_loop(), {}).pop(self.id, None)
        if channel is not None:
            await channel.close()

    async def __aenter__(self) -> AsyncSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


# --- the session family: create, find, set, remove ----------------------------------------------


async def probe(transport: Transport, app_url: str) -> tuple[str, AppInfo]:
    """Find an app's API root and read its API: `/config` first, then `/info`."""
    config: dict[str, Any] | None = None
    r = await transport.request("GET", f"{app_url}/config")
    if r.status in (401, 403):
        raise NotAGradioApp(f"{app_url} refused access (HTTP {r.status}): give a token with --token.", url=app_url)
    if r.status == 200 and protocol.looks_like_config(r.json()):
        config = r.json()
        roots = [protocol.api_root(app_url, config)]
    else:
        roots = [f"{app_url}/gradio_api", app_url]
    for root in roots:
        r = await transport.request("GET", f"{root}/info")
        info = r.json()
        if r.status == 200 and protocol.looks_like_info(info):
            return root, protocol.parse_app(info, config)
    raise NotAGradioApp(
        f"{app_url} does not look like a Gradio app (no Gradio configuration or API description "
        f"found; last answer HTTP {r.status}). Check the URL.", url=app_url,
    )


async def new_session(app: str, *, name: str | None = None, download_path: str | None = None,
                      force: bool = False, token: str | None = None,
                      home: Path | str | None = None) -> AsyncSession:
    """Probe a Gradio app and record a new session for it; nothing is recorded on failure."""
    repo = open_repository(home)
    app_url = protocol.normalize_app_url(app)
    transport = Transport(app_url, token)
    try:
        api_url, info = await probe(transport, app_url)
    finally:
        await transport.aclose()
    name = name or protocol.derive_name(app_url)
    try:
        old: SessionRecord | None = repo.get_session(name) if force else None
    except SessionNotFound:
        old = None
    record = SessionRecord(
        id=uuid.uuid4().hex[:12], name=name, app_url=app_url, api_url=api_url,
        session_hash=uuid.uuid4().hex[:12], created_at=time.time(), app=info,
        download_path=str(Path(download_path).expanduser().resolve()) if download_path else None,
        has_token=bool(token),
    )
    record = repo.create_session(record, force=force)
    if old is not None and old.name == name:
        tokens.delete(repo.home, old.id)
    if token:
        try:
            tokens.store(repo.home, record.id, token)
        except OSError as exc:
            repo.remove_sessions(record.id)
            raise GradioSessionError(f"Could not store the token safely: {exc}") from exc
    return AsyncSession(record, repo)


def get_session(name: str = ".", *, home: Path | str | None = None) -> AsyncSession:
    """A session by name, id, or `.` for the default."""
    repo = open_repository(home)
    return AsyncSession(repo.get_session(name), repo)


def list_sessions(pattern: str = "*", *, home: Path | str | None = None) -> list[AsyncSession]:
    """Sessions whose name matches a glob pattern (`*` for all)."""
    repo = open_repository(home)
    return [AsyncSession(r, repo) for r in repo.list_sessions(pattern)]


def set_default(session: AsyncSession | str, *, home: Path | str | None = None) -> AsyncSession:
    """Make a session the default one."""
    repo = open_repository(home)
    ref = session if isinstance(session, str) else session.id
    return AsyncSession(repo.set_default(ref), repo)


def set_options(session: AsyncSession | str = ".", *, home: Path | str | None = None,
                **options: Any) -> AsyncSession:
    """Change max_calls, max_calls_policy or download_path of a session."""
    repo = open_repository(home)
    if options.get("max_calls_policy") not in (None, "error", "warning", "remove"):
        raise GradioSessionError("max_calls_policy must be one of: error, warning, remove.")
    if options.get("download_path"):
        options["download_path"] = str(Path(options["download_path"]).expanduser().resolve())
    ref = session if isinstance(session, str) else session.id
    return AsyncSession(repo.update_session(ref, **options), repo)


def remove_session(name_or_pattern: str, *, home: Path | str | None = None) -> list[str]:
    """Remove sessions by name, id or glob pattern, with their calls and token; their names."""
    repo = open_repository(home)
    removed = repo.remove_sessions(name_or_pattern)
    for r in removed:
        if r.has_token:
            tokens.delete(repo.home, r.id)
    return [r.name for r in removed]
