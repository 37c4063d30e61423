"""Calls with a connection of their own, run to their end by the process reading them: Gradio
3.x and 4.0-4.8, and the `/call/{api}` route for apps whose queue protocol no dialect speaks.

A 3.x app's queue speaks WebSocket, one socket per call; 4.0-4.8's gives each call its own
event stream. Neither has a stream per session, and 3.x gives no event id. So the session makes
the event id up and records the call first; then the process reading it (the caller, or the
holder for calls left to it) opens the connection, answers the server's `send_hash` and
`send_data`, and feeds what follows to the call's state. Without the queue (3.x), a call is
one `POST /run/{api}` answered with its result.

Nothing is sent twice: a connection that breaks loses its call (the server drops it). A cancel
closes the connection - the server drops a queued call, stops a generator at its next step,
and finishes a plain function unheard - then posts `/reset`. A cancel from another process is
recorded; the reader looks at its calls' records every CANCEL_POLL s and stops them.

The `/call/{api}` route answers an event id, then streams the call's events from its own URL:
one call at a time per session, read by the caller (never detached, never cancelled).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Protocol

from ..errors import CallError, ConnectError, GradioSessionError, QueueFull, StreamError
from ..models import Endpoint, SessionRecord
from ..protocol.dialects import Gradio3, QueueV0
from ..protocol.messages import join_answer, lost, queue_payload
from ..store.worker import StoreWorker
from ..transport import Response, Socket, Transport
from .call import AsyncCall
from .runtime import runtime
from .seat import Seat
from .state import CallState
from .waiting import Reopens

CANCEL_POLL = 0.5  # seconds between looks at whether another process cancelled a call read here
CONNECT_RETRIES = 3  # a socket that could not be opened carried nothing of the call: try again
RUN_TIMEOUT = 24 * 3600.0  # seconds a `/run` request may wait for its answer (the call runs meanwhile)


def new_event_id() -> str:
    """An event id for a call whose server gives none (recorded before anything is sent)."""
    return f"local-{uuid.uuid4().hex[:16]}"


class Connected(Protocol):
    """What the calls need of their channel (`channel.py`)."""

    record: SessionRecord
    store: StoreWorker
    transport: Transport
    seat: Seat

    @property
    def dialect(self) -> Any: ...

    async def send(self, endpoint: Endpoint, values: list[Any], url: str, body: dict[str, Any]) -> Response: ...

    async def recorded(self, endpoint: Endpoint, event_id: str, values: list[Any], reader: str | None,
                       follow: bool = False, keep: bool = True) -> tuple[AsyncCall, CallState]: ...


class OwnConnections:
    """One channel's calls that have their own connection, by event id."""

    def __init__(self, channel: Connected) -> None:
        self._channel = channel
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._server_ids: dict[str, str] = {}  # our event id -> the server's, where it gives one
        self._serial = asyncio.Lock()  # `/call` route: one call at a time

    def start(self, state: CallState, values: list[Any]) -> None:
        """Open the call's connection and read it to the call's end."""
        self._keep(state, self._run(state, values))

    def _keep(self, state: CallState, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks[state.event_id] = task
        task.add_done_callback(lambda _: (self._tasks.pop(state.event_id, None),
                                          self._server_ids.pop(state.event_id, None)))

    def stop(self, event_id: str) -> bool:
        """Close a call's connection; the call ends as its `ending` says. False: not read here."""
        task = self._tasks.get(event_id)
        if task is None:
            return False
        task.cancel()
        return True

    async def close(self) -> None:
        """Stop every call read here (they end `interrupted`)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, state: CallState, values: list[Any]) -> None:
        watch = asyncio.get_running_loop().create_task(self._watch(state))
        try:
            carrier = self._channel.dialect.carrier
            if carrier == "request":
                await self._over_request(state, values)
            else:
                await self._opened(state, values, self._over_socket if carrier == "socket" else self._over_stream)
            if not state.done:
                state.fail(StreamError(f"The server closed the call's connection before its end. "
                                       f"{lost(state.event_id)}"))
        except asyncio.CancelledError:
            if state.ending is None:
                state.fail(StreamError("This process stopped reading the call (the session was closed, or "
                                       "its event loop ended) before it ended."), "interrupted")
                raise
            await self._reset(state)
            state.add("cancelled", None)
        except (StreamError, ConnectError) as exc:
            state.fail(StreamError(f"{exc} {lost(state.event_id)}"))
        except GradioSessionError as exc:
            state.fail(exc)
        except BaseException as exc:  # a bug: no call may wait forever
            state.fail(StreamError(f"The call's connection stopped: {exc!r}."))
            raise
        finally:
            watch.cancel()

    async def _opened(self, state: CallState, values: list[Any], run: Any) -> None:
        """Run the call over its connection, opened again while the opening reached nothing
        (a refused connect; a WebSocket upgrade carries nothing of the call either)."""
        for attempt in range(CONNECT_RETRIES + 1):
            try:
                return await run(state, values)
            except ConnectError as exc:
                if attempt >= CONNECT_RETRIES or (exc.sent and self._channel.dialect.carrier != "socket"):
                    raise
                await asyncio.sleep(0.1 * 2**attempt)

    async def _over_socket(self, state: CallState, values: list[Any]) -> None:
        dialect: Gradio3 = self._channel.dialect
        async with self._channel.transport.websocket(dialect.socket_url()) as ws:
            await self._converse(ws, state, values)

    async def _converse(self, ws: Socket, state: CallState, values: list[Any]) -> None:
        """The queue's side of one call: the hash, the data when asked, then its messages."""
        dialect: Gradio3 = self._channel.dialect
        endpoint, session_hash = state.endpoint, self._channel.record.session_hash
        while not state.done:
            msg = await ws.receive()
            kind = msg.get("msg") if isinstance(msg, dict) else None
            if kind == "send_hash":
                await ws.send(dialect.hello(endpoint, session_hash))
            elif kind == "send_data":
                await ws.send(dialect.join(endpoint, values, session_hash)[1])
            else:
                self._feed(state, msg)

    async def _over_stream(self, state: CallState, values: list[Any]) -> None:
        """The call's own event stream (4.0-4.8): the data goes by POST when the server asks."""
        dialect: QueueV0 = self._channel.dialect
        endpoint, session_hash, transport = state.endpoint, self._channel.record.session_hash, self._channel.transport
        url, params = dialect.call_stream_of(endpoint, session_hash)
        async with transport.sse(url, params) as (status, events):
            if status >= 400:
                raise StreamError(f"The server refused the call's event stream (HTTP {status}).")
            async for _, data in events:
                msg = queue_payload(data)
                if msg.get("msg") == "send_data":
                    self._server_ids[state.event_id] = server_id = str(msg.get("event_id"))
                    url, body = dialect.join(endpoint, values, session_hash)
                    r = await transport.request("POST", url, json={**body, "event_id": server_id})
                    if r.status >= 400:
                        raise CallError(f"The app refused the call of {endpoint.name} (HTTP {r.status}): "
                                        f"{r.text[:200]}")
                else:
                    self._feed(state, msg)
                if state.done:
                    return

    def _feed(self, state: CallState, msg: Any) -> None:
        kind = msg.get("msg") if isinstance(msg, dict) else None
        if kind == "queue_full":
            raise QueueFull(f"The app's queue is full; try {state.endpoint.name} again later.")
        if kind is None:
            raise StreamError(f"Malformed message from the server: {str(msg)[:80]!r}")
        if kind == "heartbeat":
            state.heartbeat()
        else:
            state.feed({**msg, "event_id": state.event_id})

    async def _over_request(self, state: CallState, values: list[Any]) -> None:
        """A call of an app without the queue: one request, its answer the result."""
        endpoint = state.endpoint
        url, body = self._channel.dialect.call(endpoint, values, self._channel.record.session_hash)
        transport = self._channel.transport
        r = await transport.request("POST", url, json=body, timeout=transport.timeout(read=RUN_TIMEOUT))
        answer = r.json()
        if not isinstance(answer, dict) or ("data" not in answer and "error" not in answer):
            raise CallError(f"The app refused the call of {endpoint.name} (HTTP {r.status}): {r.text[:200]}")
        state.feed({"msg": "process_completed", "output": answer, "success": "data" in answer,
                    "event_id": state.event_id})

    async def post(self, endpoint: Endpoint, values: list[Any], keep: bool = True) -> AsyncCall:
        """A call through the `/call/{api}` route, read by this process to its end."""
        channel = self._channel
        await self._serial.acquire()
        try:
            await channel.seat.enter(ride=False)
        except BaseException:
            self._serial.release()
            raise
        try:
            url, body = channel.dialect.call(endpoint, values, channel.record.session_hash)
            r = await channel.send(endpoint, values, url, body)
            event_id = join_answer(r.status, r.json(), r.text, endpoint.name)
            call, state = await channel.recorded(endpoint, event_id, values, runtime().reader_id, keep=keep)
            call.cancel_if_abandoned = True
        except BaseException:
            channel.seat.leave()
            self._serial.release()
            raise
        self._keep(state, self._follow_call(state, channel.dialect.call_stream(endpoint, call.event_id)))
        return call

    async def _follow_call(self, state: CallState, url: str) -> None:
        """Read a `/call` event stream to the call's end, reopening it as the session's is."""
        reopens, why = Reopens(), ""
        try:
            while not state.done:
                news, ended = False, "The server closed the event stream mid-call."
                try:
                    async with self._channel.transport.sse(url) as (status, events):
                        if status >= 400:
                            raise StreamError(f"The server refused the event stream (HTTP {status}).")
                        async for name, data in events:
                            news = news or name != "heartbeat"
                            state.feed_event(name, data)
                            if state.done:
                                break
                except (StreamError, ConnectError) as exc:
                    ended = str(exc)
                why = ended if news or not why else why
                if not state.done and not await reopens.again(news):
                    state.fail(StreamError(f"{why} {lost(state.event_id)}"))
        except asyncio.CancelledError:
            state.fail(StreamError("This process stopped reading the call before it ended."), "interrupted")
            raise
        except BaseException as exc:
            state.fail(StreamError(f"The event reader stopped: {exc!r}."))
            raise
        finally:
            self._channel.seat.leave()
            self._serial.release()

    async def _reset(self, state: CallState) -> None:
        """Tell the server the endpoint's generator is to start afresh (its socket is closed)."""
        request = self._channel.dialect.cancel(state.endpoint, self._server_ids.get(state.event_id, state.event_id),
                                               self._channel.record.session_hash)
        if request is not None:
            try:
                await asyncio.wait_for(self._channel.transport.request("POST", request[0], json=request[1]), 2.0)
            except (GradioSessionError, asyncio.TimeoutError):
                pass  # the closed socket stopped the call; the reset only tidies the server

    async def _watch(self, state: CallState) -> None:
        """Stop the call when another process recorded its cancel (or forgot it)."""
        store = self._channel.store
        while state.recorded and not state.done:
            await asyncio.sleep(CANCEL_POLL)
            record = await store.run(store.repository.get_call, state.session_id, state.event_id)
            if (record is None or record.status in ("cancelled", "timed_out")) and not state.done:
                state.ending = record.status if record else "cancelled"
                self.stop(state.event_id)
                return
