"""A session's connection in one event loop: the HTTP pool, the one stream reader, the stream lock.

The server keeps one message queue per session, so one reader per session routes every
`/queue/data` message to its call by event id. While this process has calls in flight it holds
the session's stream lock. A process that finds the lock held by the session's holder joins its
calls anyway and leaves them to the holder, following them through the repository; the holder
(or any reader) takes over such calls as their messages reach it (`adopt`). Calls with a
connection of their own (`sockets.py`) are recorded here and run there.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from ..binding import endpoint_or_bare
from ..errors import CallMayHaveStarted, ConnectError, StreamError
from ..models import TERMINAL_STATUSES, CallRecord, Endpoint, Event, SessionRecord
from ..protocol.dialects import Dialect, dialect_for
from ..protocol.messages import join_answer, lost, queue_payload
from ..store.worker import StoreWorker
from ..transport import Response, Transport
from .call import AsyncCall, CallOwner
from .follow import Follower
from .locks import holder_present
from .seat import Seat
from .probe import reread, running_app_id
from .access import refreshed, transport_for, warn_insecure
from .sockets import OwnConnections, new_event_id
from .runtime import runtime
from .state import CallState, end_siblings
from .waiting import Reopens, wait_until

STARTING = 8  # calls of a session being started (bound, uploaded, joined) at once, per loop
JOIN_RETRIES = 3  # a call not yet accepted (no event id) may be sent again; one with an event id never is
ADOPT_WAITS = (0.0, 0.05, 0.2, 0.5, 1.0, 2.0)  # seconds before each try to adopt an unknown call
EARLY_TTL = 30.0  # seconds a reader keeps messages of a call no process has recorded
APP_CHECK = 5.0  # seconds between looks at whether the app restarted (one small request)
YIELD_EVERY = 16  # messages the reader routes before it lets other tasks run
IDLE_POLL = 0.05  # seconds between looks while closing waits for calls taken over


class Channel:
    """A session's connection in one event loop; shared by every handle of that session."""

    def __init__(self, owner: CallOwner, record: SessionRecord, store: StoreWorker, dialect: Dialect,
                 transport: Transport) -> None:
        self.record = record
        self.store = store
        self.dialect = dialect
        self.transport = transport
        self.holding = False  # True in the holder: keep the stream lock between calls
        self._owner = owner  # the session of calls taken over from other processes
        self._home = store.repository.home
        self.seat = Seat(self, store, self._home, record.id, record.name)
        self.own = OwnConnections(self)  # calls with a connection of their own (3.x, 4.0-4.8, `/call`)
        self._calls: dict[str, tuple[AsyncCall, CallState]] = {}  # calls whose messages this reader routes
        self._early: dict[str, tuple[float, list[dict[str, Any]]]] = {}  # unknown calls: first seen, messages
        self._adopted: set[str] = set()  # event ids of calls taken over from other processes
        self._adopting: set[str] = set()
        self._expected: set[str] = set()  # calls of this process answered but not yet recorded
        self._tasks: set[asyncio.Task[None]] = set()
        self._reader: asyncio.Task[None] | None = None
        self._drained = False  # the open stream's last call ended: the server ends it now
        self._closing = False
        self._app_checked_until = 0.0  # monotonic time of the next look at the app's id
        self._app_lock = asyncio.Lock()
        # calls being started at once: bounds the work a burst of calls puts on the loop at a
        # time, and httpcore's pool, which costs O(waiting x connections) per request
        self.starting = asyncio.Semaphore(STARTING)

    # -- the app's API: read again when the app restarted with another one -----------------

    async def check_app(self) -> None:
        """At most every APP_CHECK s, before a call: has the app restarted (a new Gradio app
        id)? Then its API is read again, so no call goes to an endpoint that moved."""
        if time.monotonic() < self._app_checked_until:
            return
        async with self._app_lock:
            if time.monotonic() < self._app_checked_until:
                return
            app_id = await running_app_id(self.transport, self.record.api_url)
            self._app_checked_until = time.monotonic() + APP_CHECK
            if app_id is not None and app_id != self.record.app.app_id:
                await self.reread_api()

    async def reread_api(self) -> bool:
        """Read the app's API again and record it (see `probe.reread`); True when it changed."""
        self.record, changed = await reread(self.transport, self.store, self.record)
        self.dialect = dialect_for(self.record.app, self.record.api_url)
        self._app_checked_until = time.monotonic() + APP_CHECK
        return changed

    @property
    def busy(self) -> bool:
        """Calls joining or in flight, or messages for calls not yet known here."""
        return bool(self.seat.active or self._early)

    def live(self, event_id: str) -> AsyncCall | None:
        """The call of that event id if this channel reads it."""
        tracked = self._calls.get(event_id)
        return tracked[0] if tracked else None

    # -- what the seat on the stream needs to know (see `seat.py`) -------------------------

    def quiet(self) -> bool:
        return not self._expected and not self._early and (self._reader is None or self._drained)

    def reading(self) -> bool:
        return self._reader is not None

    def released(self) -> None:
        self._early.clear()

    # -- calls ----------------------------------------------------------------------------

    def _new_call(self, endpoint: Endpoint, event_id: str, inputs: list[Any], started_at: float,
                  status: str = "queued", follow: bool = False) -> tuple[AsyncCall, CallState]:
        state = CallState(self.store, self.record.id, endpoint, event_id, self.dialect.decoder(endpoint), status)
        follower = Follower(state, self._home) if follow else None
        return AsyncCall(self._owner, state, inputs, started_at, follower), state

    async def recorded(self, endpoint: Endpoint, event_id: str, values: list[Any], reader: str | None,
                       follow: bool = False, keep: bool = True, told: bool = True) -> tuple[AsyncCall, CallState]:
        """The call the server accepted, recorded before anyone is told its event id (unless not
        `keep`: a batch's row, read here only, its output the record). A call read here whose
        caller is not `told` (it waits for the result) is recorded with its first events."""
        call, state = self._new_call(endpoint, event_id, values, time.time(), follow=follow)
        state.recorded = keep
        if keep:
            record = CallRecord(event_id=event_id, session_id=self.record.id, endpoint=endpoint.name,
                                inputs=values, status="queued", started_at=call.started_at, reader=reader)
            if told or reader is None:
                await self.store.run(self.store.repository.add_call, record)
            else:
                state.begin(record)
        return call, state

    async def send(self, endpoint: Endpoint, values: list[Any], url: str, body: dict[str, Any]) -> Response:
        """Send a call: again while it can't have reached the app; never once it may have. An
        answer lost after the request went out is recorded (under a local id) and raised."""
        try:
            return await self.transport.request("POST", url, json=body, retries=JOIN_RETRIES)
        except ConnectError as exc:
            if not exc.sent:
                raise
            local_id, now = f"unanswered-{uuid.uuid4().hex[:12]}", time.time()
            error = CallMayHaveStarted(
                f"The call of {endpoint.name} reached the app, but the connection died before it "
                f"answered ({exc}): the call may have started. It was not sent again; it is recorded "
                f"as {local_id}.", event_id=local_id)
            await self.store.run(self.store.repository.add_call, CallRecord(
                event_id=local_id, session_id=self.record.id, endpoint=endpoint.name, inputs=values,
                status="failed", started_at=now, finished_at=now, error=str(error)))
            raise error from exc

    def followed(self, record: CallRecord, events: list[Event]) -> AsyncCall:
        """A handle on a call another process reads (or read): its recorded `events`, then
        news from the repository."""
        call, state = self._new_call(endpoint_or_bare(self.record.app, record.endpoint), record.event_id,
                                     record.inputs, record.started_at, record.status, follow=True)
        state.extend(events)
        if record.status in TERMINAL_STATUSES:
            state.end_from_record(record)
        return call

    def _track(self, call: AsyncCall, state: CallState) -> None:
        """Route this call's messages here until it ends."""
        self._calls[call.event_id] = (call, state)
        self._expected.discard(call.event_id)
        state.when_done(lambda: self._ended(call))
        if self.dialect.own_connection:
            return self.own.start(state, call.inputs)
        self._replay(call.event_id)
        self._start_reader()

    def _expect(self, event_id: str) -> None:
        """A call of ours was accepted: read the stream now (its messages wait in `_early`)."""
        self._expected.add(event_id)
        self._start_reader()

    def _start_reader(self) -> None:
        self._reader = self._reader or asyncio.get_running_loop().create_task(self._read())

    async def join(self, endpoint: Endpoint, values: list[Any], *, detach: bool = False,
                   keep: bool = True, told: bool = True) -> AsyncCall:
        """Queue a call and route its messages to the returned AsyncCall; with `detach` (or when
        the holder has the stream) the holder reads it and the call follows the repository."""
        sid = self.record.id
        if detach:
            await runtime().holders.ensure(self._home, sid, self.record.name)
        reading = not detach and await self.seat.enter()
        keep = keep or not reading  # the holder reads it: only through the repository can it be followed
        try:
            if self.dialect.own_connection:  # its reader sends it, once it is recorded
                event_id = new_event_id()
            else:
                url, body = self.dialect.join(endpoint, values, self.record.session_hash)
                r = await self.send(endpoint, values, url, body)
                event_id = join_answer(r.status, r.json(), r.text, endpoint.name)
            if reading and not self.dialect.own_connection:
                self._expect(event_id)
            try:
                call, state = await self.recorded(endpoint, event_id, values, runtime().reader_id if reading
                                                  else None, follow=not reading, keep=keep, told=told)
            except BaseException:
                self._expected.discard(event_id)
                raise
            call.cancel_if_abandoned = not detach
        except BaseException:
            if reading:
                self.seat.leave()
            raise
        if not reading:
            if not await holder_present(self._home, sid):  # it left just before the call was recorded
                await asyncio.to_thread(runtime().holders.spawn, self._home, sid)
            return call
        self._track(call, state)
        return call

    async def adopt(self, event_id: str | None = None) -> None:
        """Read the calls other processes joined for the holder (all, or the one of `event_id`):
        this process has the stream, so their messages come here."""
        if not self.seat.owned:
            return
        if event_id is None:  # messages of a call nobody records (forgotten meanwhile) expire
            now = time.monotonic()
            for old in [i for i, (first, _) in self._early.items() if now - first > EARLY_TTL]:
                del self._early[old]
        self.seat.count()  # keep the stream while the repository answers
        try:
            claimed = await self.store.run(self.store.repository.claim_call, self.record.id, event_id,
                                           runtime().reader_id)
            for record in claimed:
                endpoint = endpoint_or_bare(self.record.app, record.endpoint)
                call, state = self._new_call(endpoint, record.event_id, record.inputs, record.started_at,
                                             record.status)
                self._adopted.add(record.event_id)
                self.seat.count()
                self._track(call, state)
        finally:
            self.seat.leave()

    def _replay(self, event_id: str) -> None:
        """Route the messages that came before their call was known here."""
        for msg in self._early.pop(event_id, (0.0, []))[1]:
            self._route(msg)

    def _ended(self, call: AsyncCall) -> None:
        if self._calls.pop(call.event_id, None) is None:
            return
        self._adopted.discard(call.event_id)
        self.seat.leave()
        if call.status in ("cancelled", "timed_out") and self.dialect.cancels_endpoint:
            end_siblings([state for _, state in self._calls.values()], call.event_id, call.endpoint)

    async def _end_cancelled(self) -> None:
        """Calls another process cancelled, on a Gradio that says nothing of a cancel: end them."""
        for _, state in [tracked for tracked in self._calls.values() if tracked[1].recorded]:
            record = await self.store.run(self.store.repository.get_call, self.record.id, state.event_id)
            if record is None or record.status in ("cancelled", "timed_out"):
                state.fail(state.stop_error(record.status if record else "cancelled"),
                           record.status if record else "cancelled")

    # -- the holder's side (see the holder package) ----------------------------------------

    async def hold(self) -> None:
        """Take the session's stream for good (waiting for any process reading it)."""
        await self.seat.take(ride=False)
        self.holding = True

    async def close(self) -> None:
        """Read the calls taken over from other processes to their end (leaving the stream
        would make the server drop them), then stop reading, release the lock, commit."""
        self.holding = False

        async def none_adopted() -> bool:  # nor any being adopted: their messages came here
            return not self._adopted and not self._adopting
        await wait_until(none_adopted, first=IDLE_POLL, most=IDLE_POLL)
        self._closing = True
        await self.own.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)  # it records its own end
        await self.transport.aclose()
        await self.store.flush()
        self.seat.release()

    # -- reading ----------------------------------------------------------------------------

    def _route(self, msg: dict[str, Any]) -> None:
        if msg.get("msg") == "heartbeat":
            if self._calls:
                self.store.record(self.store.repository.beat, self.record.id)
            for _, state in list(self._calls.values()):
                state.heartbeat()
            if self._calls and not self.dialect.confirms_cancel:
                self._spawn(self._end_cancelled())
            return
        event_id = msg.get("event_id")
        if not isinstance(event_id, str):
            return
        tracked = self._calls.get(event_id)
        if tracked is not None:
            tracked[1].feed(msg)
            return
        self._early.setdefault(event_id, (time.monotonic(), []))[1].append(msg)
        if event_id not in self._adopting and event_id not in self._expected:  # another process's call?
            self._adopting.add(event_id)
            self._spawn(self._adopt_one(event_id))

    async def _adopt_one(self, event_id: str) -> None:
        """Adopt the call of an unknown event id; its process records it just after the join
        is answered, which may be after its messages (all of them, for a quick call) came."""
        try:
            for wait in ADOPT_WAITS:
                await asyncio.sleep(wait)
                if event_id not in self._early:
                    return  # adopted meanwhile, or expired
                await self.adopt(event_id)
        finally:
            self._adopting.discard(event_id)

    async def _adopted_all(self) -> bool:
        return not self._adopting

    def _spawn(self, coro: Any) -> None:
        self._tasks.add(task := asyncio.get_running_loop().create_task(coro))
        task.add_done_callback(self._tasks.discard)

    @asynccontextmanager
    async def _stream_of(self, url: str, params: dict[str, str] | None = None
                         ) -> AsyncIterator[AsyncIterator[tuple[str, str]]]:
        """An event stream of the app, or StreamError when the server refuses it."""
        async with self.transport.sse(url, params) as (status, events):
            if status >= 400:
                raise StreamError(f"The server refused the event stream (HTTP {status}).")
            yield events

    async def _read(self) -> None:
        """The session's one `/queue/data` reader; reopens the stream while calls are in flight.

        A stream that ends (closed, torn, malformed, refused) is reopened; when reopens bring
        no news, the server no longer has the calls and they fail as lost (see `Reopens`)."""
        url, params = self.dialect.stream(self.record.session_hash)
        reopens, routed, why = Reopens(), 0, ""
        try:
            while self._calls or self._expected:
                news, ended = False, "The server closed the event stream mid-call."
                try:
                    async with self._stream_of(url, params) as events:
                        self._drained = False
                        async for _, data in events:
                            routed += 1
                            if routed % YIELD_EVERY == 0:
                                await asyncio.sleep(0)  # a burst of buffered messages: let others run
                            msg = queue_payload(data)
                            kind = msg.get("msg")
                            if kind == "close_stream":  # the body ends next: read on to its end,
                                continue  # so that the connection goes back to the pool
                            news = news or (kind != "heartbeat" and "event_id" in msg)
                            self._route(msg)
                            if kind == "process_completed" and not self.busy and not self._expected:
                                self._drained = True  # Gradio ends a stream with no call left
                                await asyncio.sleep(0)  # its caller first: closing the stream can wait
                            if kind == "heartbeat" and not self.busy:
                                break  # idle: the server keeps a stream open until it is left
                except (StreamError, ConnectError) as exc:
                    ended = str(exc)
                why = ended if news or not why else why  # the fault, not the reopens after it
                # calls of other processes, recorded any moment now, may end from what we have
                await wait_until(self._adopted_all, first=0.01, most=0.1)
                if (self._calls or self._expected) and not await reopens.again(news):
                    self._fail_all(why)
        except asyncio.CancelledError:  # the session closed, or its event loop ended
            self._fail_all("This process stopped reading the session's stream (the session was closed, "
                           "or its event loop ended) before the call ended.", status="interrupted")
            raise
        except BaseException as exc:  # a bug: no call may wait forever
            self._fail_all(f"The event reader stopped: {exc!r}.", status="failed")
            raise
        finally:
            self._reader = None
            if not self._closing:  # closing releases the lock itself, after the last commit
                self.seat.maybe_release()

    def _fail_all(self, why: str, *, status: str | None = None) -> None:
        """End every call in flight: lost (the server no longer has them), or with `status`."""
        for _, state in list(self._calls.values()):
            if status is None:
                state.fail(StreamError(f"{why} {lost(state.event_id)}"))
            else:
                state.fail(StreamError(why), status)


async def open_channel(owner: CallOwner, record: SessionRecord, store: StoreWorker, dialect: Dialect) -> Channel:
    """The session's channel in the running event loop, made on first use (its secrets are read
    from the keyring or file store off the loop)."""
    channels = runtime().channels()
    if record.id not in channels:
        transport = await transport_for(record, store)
        if record.id in channels:  # another task made it meanwhile
            await transport.aclose()
        else:
            warn_insecure(record.name, record.network)
            channels[record.id] = Channel(owner, record, store, dialect, transport)
    else:
        await refreshed(channels[record.id], record)
    return cast(Channel, channels[record.id])
