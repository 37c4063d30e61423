"""A named session as the async API hands it out: one app, one Gradio session_hash, its calls.

Its connection in the running loop is a `Channel`; its records go through the store worker,
so nothing here blocks the event loop on the repository.
"""

from __future__ import annotations

import asyncio
import os
import time
import warnings
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from functools import cached_property
from pathlib import Path
from typing import Any, get_args

from .. import files, paths
from ..binding import bind, find_endpoint
from ..functions import Api
from ..errors import (
    CallError, CallNotFound, ConnectError, EndpointNotFound, GradioSessionError, MaxCallsReached, ParameterError,
)
from ..models import (
    TERMINAL_STATUSES, AppInfo, CallRecord, CallStatus, Endpoint, FileData, Login, Row, RowResult, SessionRecord,
    UploadRecord,
)
from ..protocol.dialects import dialect_for
from ..store.repository import Repository
from ..store.worker import StoreWorker
from .call import CANCEL_WAIT, AsyncCall
from . import mapping, pipes, spaces
from . import access
from .access import token_of
from .channel import Channel, open_channel
from .locks import holder_present
from .runtime import runtime
from .waiting import wait_until

LIMIT_RECHECK = 1.0  # seconds a session found without max_calls is not asked again
RESET_TRIES, RESET_WAIT = 20, 0.1  # a `/reset` that found no generator yet is tried again, for 2 s


class AsyncSession:
    """A named session: one app, one Gradio session_hash, its calls recorded in the repository."""

    def __init__(self, record: SessionRecord, store: StoreWorker) -> None:
        self.record = record
        self.store = store
        self.dialect = dialect_for(record.app, record.api_url)
        self._unlimited_until = 0.0  # monotonic time until which max_calls is known unset

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

    @property
    def repository(self) -> Repository:
        return self.store.repository

    @cached_property
    def api(self) -> Api:
        """The app's endpoints as typed functions: `s.api.echo("hi")` (see `help(s.api.echo)`)."""
        return Api(self)

    def endpoint(self, name: str) -> Endpoint:
        """The endpoint called `name` (leading slash optional)."""
        return find_endpoint(self.record.app, name)

    def view_api(self, endpoint: str | None = None, *, print_info: bool = True) -> str | None:
        """The app's endpoints with their parameters, returns and a call to copy, as
        `gradio-session api` shows them: printed (or, `print_info=False`, returned)."""
        from ..describe import api_text

        text = api_text(self.app, self.name, endpoint)
        if not print_info:
            return text
        print(text)
        return None

    def can_detach(self, endpoint: str) -> bool:
        """True when calls of `endpoint` can be left to the background holder (the app speaks
        the queue protocol: another process can read them)."""
        return self.dialect.detachable(self.endpoint(endpoint))

    async def _channel(self) -> Channel:
        return await open_channel(self, self.record, self.store, self.dialect)

    # -- calls ----------------------------------------------------------------------------

    async def invoke(self, endpoint: str, *args: Any, **kwargs: Any) -> AsyncCall:
        """Start a call; returns as soon as the server gave it an event id."""
        return await self._start(endpoint, args, kwargs, detach=False)

    async def detach(self, endpoint: str, *args: Any, **kwargs: Any) -> AsyncCall:
        """Start a call that outlives this process: the session's background holder reads it
        and records its events (find it again with `get_call`)."""
        return await self._start(endpoint, args, kwargs, detach=True)

    async def _start(self, endpoint: str, args: tuple[Any, ...], kwargs: dict[str, Any], *,
                     detach: bool, keep: bool = True, told: bool = True) -> AsyncCall:
        """Start a call (not `keep`: a batch's row, not recorded, read by this process only; not
        `told`: its caller waits for the result, so it is recorded with its first events)."""
        try:
            return await self._start_once(endpoint, args, kwargs, detach=detach, keep=keep, told=told)
        except (ConnectError, CallError) as exc:  # QueueFull is a CallError
            if not await self._woken(exc):
                raise
            return await self._start_once(endpoint, args, kwargs, detach=detach, keep=keep, told=told)

    async def _woken(self, failure: GradioSessionError) -> bool:
        """A Space's app that did not take the call: woken if it fell asleep (`spaces.woken`)."""
        return self.record.space is not None and \
            await spaces.woken(self.record.space, await token_of(self.record, self.repository.home), failure)

    async def login(self, username: str | None = None, password: str | None = None) -> None:
        """Log in to the app now (Gradio's login: a new password, or another user) and keep it
        for every process of the session; LoginRefused, and nothing changed, when refused."""
        if password is None:
            raise ParameterError("login() needs the password: s.login('alice', password).")
        self.record = await access.login(self.record, self.store, username, password)

    async def logout(self) -> None:
        """Forget the session's login: its user name, password and the cookies the app set."""
        self.record = await access.logout(self.record, self.store)

    async def logins(self) -> list[Login]:
        """The session's logins to its app, newest first: who, when, whether the app took it."""
        return await self.store.run(self.repository.logins.recent, self.id)

    async def space_runtime(self) -> dict[str, Any] | None:
        """For a Space's session: its stage, hardware (current and requested) and sleep time, as
        the Hub says now; None for any other app."""
        if self.record.space is None:
            return None
        token = await token_of(self.record, self.repository.home)
        return await asyncio.to_thread(spaces.runtime_of, self.record.space, token)

    async def _start_once(self, endpoint: str, args: tuple[Any, ...], kwargs: dict[str, Any], *,
                          detach: bool, keep: bool, told: bool) -> AsyncCall:
        channel = await self._channel()
        await channel.check_app()
        self._follow_api(channel)
        try:
            ep = self.endpoint(endpoint)
        except EndpointNotFound:
            if not await self.refresh():  # redeployed with it since we last looked?
                raise
            ep = self.endpoint(endpoint)
        values = bind(ep, args, kwargs)
        if detach and not self.dialect.detachable(ep):
            raise CallError(f"Calls of {ep.name} can't be detached: the app does not speak the queue "
                            "protocol, so no other process can read them.")
        async with channel.starting:
            await self._make_room()
            values = await self._file_values(ep, values)
            if self.dialect.queued(ep) or self.dialect.own_connection:
                return await channel.join(ep, values, detach=detach, keep=keep, told=told)
            return await channel.own.post(ep, values, keep)

    async def feed(self, endpoint: str, upstream: AsyncCall, mapping: dict[str, int], *,
                   values: dict[str, Any] | None = None, policy: pipes.Policy = "last") -> AsyncCall:
        """Start `endpoint` with the outputs of another call (`mapping`: parameter -> output
        index) and other `values`: from its result (`policy="last"`), or again at each of its
        partial results (`"each"`, the previous downstream call cancelled). See `core/pipes.py`."""
        return await pipes.feed(self, endpoint, upstream, mapping, values, policy)

    async def map(self, endpoint: str, rows: Iterable[Any] | AsyncIterable[Any], *, concurrency: int = 8,
                  ordered: bool = True, on_error: mapping.OnError = "record", retries: int = 3,
                  rate: float | None = None, download: bool = True) -> AsyncIterator[RowResult]:
        """Run every row through `endpoint`, `concurrency` calls at a time: one RowResult per row
        as they finish (in input order when `ordered`). A row is a dict of named values, a tuple
        of values in order, or the one value. A row's error is its result (`on_error="record"`)
        or ends the map (`"raise"`); transient failures are retried (`retries`), `rate` caps the
        calls per second. The input is read lazily and the calls stay out of the call history."""
        async for result in mapping.map_rows([self], endpoint, rows, concurrency=concurrency, ordered=ordered,
                                             on_error=on_error, retries=retries, rate=rate, download=download):
            yield result

    async def batch_call(self, endpoint: str, row: Row) -> AsyncCall:
        """Start the call of one row of a batch or map: read here only and not recorded (the
        rows are the record), so the call history stays the user's own calls."""
        return await self._start(endpoint, row.args, row.kwargs, detach=False, keep=False)

    async def refresh(self) -> bool:
        """Read the app's API again (after a redeploy); the session keeps its Gradio session
        hash and its calls. True when the API changed."""
        channel = await self._channel()
        changed = await channel.reread_api()
        self._follow_api(channel)
        return changed

    def _follow_api(self, channel: Channel) -> None:
        """Take the API the channel last read (another handle may have read it again)."""
        self.record, self.dialect = channel.record, channel.dialect

    async def call(self, endpoint: str, *args: Any, **kwargs: Any) -> Any:
        """Call an endpoint and wait for its result (the output list)."""
        return await (await self._start(endpoint, args, kwargs, detach=False, told=False)).result()

    async def calls(self, status: str | None = None) -> list[CallRecord]:
        """The session's recorded calls, oldest first (only those of `status` if given).
        Calls left `queued`/`running` by a reader that is gone are recorded `interrupted` first."""
        if status is not None and status not in get_args(CallStatus):
            raise ParameterError(f"No call status {status!r}: use one of {', '.join(get_args(CallStatus))}.")
        records = await self.store.run(self.repository.list_calls, self.id)
        orphans = [r for r in records if r.reader is not None and r.status not in TERMINAL_STATUSES]
        if orphans and runtime().stream_lock(self.repository.home, self.id).free():
            for r in orphans:  # nobody reads the stream: their process died or left them
                await self.store.run(
                    self.repository.set_call_status, self.id, r.event_id, "interrupted", finished_at=time.time(),
                    error=f"The call {r.event_id} was interrupted: the process that read its stream is gone.",
                    if_running=True)
            records = await self.store.run(self.repository.list_calls, self.id)
        return [r for r in records if status is None or r.status == status]

    async def get_call(self, event_id: str) -> AsyncCall:
        """A call of this session by event id, from any process: its recorded events, then the
        live ones (read from the repository as the process holding the stream records them)."""
        channel = await self._channel()
        live = channel.live(event_id)
        if live is not None:
            return live
        record, events, _ = await self.store.run(self.repository.call_news, self.id, event_id, 0)
        if record is None:
            raise self._no_call(event_id)
        return channel.followed(record, events)

    async def get_call_record(self, event_id: str) -> CallRecord:
        """The recorded call of that event id, or CallNotFound naming this session."""
        record = await self.store.run(self.repository.get_call, self.id, event_id)
        if record is None:
            raise self._no_call(event_id)
        return record

    def _no_call(self, event_id: str) -> CallNotFound:
        return CallNotFound(f"No call {event_id!r} in session {self.name!r}. "
                            "List its calls with `gradio-session calls`.")

    async def forget(self, event_id: str | None = None, *, completed: bool = False, all: bool = False,
                     force: bool = False, dry_run: bool = False) -> list[str]:
        """Forget recorded calls: one by event id, the finished ones (`completed`) or `all`;
        calls still running only with `force`. Returns the event ids gone (or, dry_run, to go)."""
        if (event_id is not None) + completed + all != 1:
            raise GradioSessionError("Forget one call by event id, or the completed calls, or all calls.")
        if event_id is not None:
            record = await self.get_call_record(event_id)
            if record.status not in TERMINAL_STATUSES and not force:
                raise CallError(f"The call {event_id} is still {record.status}: cancel it first, or "
                                "forget it with force.", event_id=event_id)
        statuses = None if force and not completed else TERMINAL_STATUSES
        return await self.store.run(self.repository.forget_calls, self.id, event_id=event_id, statuses=statuses,
                                    dry_run=dry_run)

    async def cancel(self, event_id: str) -> bool:
        """Cancel a call of this session by event id, from any process; False if it had ended."""
        live = (await self._channel()).live(event_id)
        if live is not None:
            return await live.cancel()
        record = await self.store.run(self.repository.get_call, self.id, event_id)
        if record is None:
            raise self._no_call(event_id)
        if record.status in TERMINAL_STATUSES:
            return False
        # The process reading the session's stream records the end; if none does, or the server
        # won't say (the reader then sees it recorded), record it here.
        confirmed = await self.post_cancel(self.endpoint(record.endpoint), event_id)
        stream, unread = runtime().stream_lock(self.repository.home, self.id), False

        async def settled() -> bool:
            nonlocal unread
            if stream.free():
                unread = True
                return True
            now = await self.store.run(self.repository.get_call, self.id, event_id)
            return now is None or now.status in TERMINAL_STATUSES

        if confirmed and await wait_until(settled, first=0.1, most=0.1, timeout=CANCEL_WAIT) and not unread:
            return True
        await self.store.run(self.repository.set_call_status, self.id, event_id, "cancelled",
                             finished_at=time.time(), if_running=True,
                             error=f"The call {event_id} of {record.endpoint} was cancelled.")
        return True

    async def post_cancel(self, endpoint: Endpoint, event_id: str) -> bool:
        """Ask the server to stop a call. True: its end arrives on its stream; False: the server
        says nothing, the call is to be ended here (the process reading it sees it recorded)."""
        request = self.dialect.cancel(endpoint, event_id, self.record.session_hash)
        if request is None:
            raise CallError(f"Calls of {endpoint.name} can't be cancelled: the app does not speak the "
                            "queue protocol (a plain request can't be stopped).", event_id=event_id)
        if self.dialect.own_connection:  # the reader closes the call's connection
            if not (await self._channel()).own.stop(event_id):  # another process's: it looks for this
                await self.store.run(self.repository.set_call_status, self.id, event_id, "cancelled",
                                     finished_at=time.time(), if_running=True,
                                     error=f"The call {event_id} of {endpoint.name} was cancelled.")
            return True
        url, body = request
        transport = (await self._channel()).transport
        for _ in range(RESET_TRIES):  # `/reset` finds a generator only once it has yielded
            r = await transport.request("POST", url, json=body)
            if r.status >= 400:
                raise CallError(f"The app refused to cancel {event_id} (HTTP {r.status}): {r.text[:200]}",
                                event_id=event_id)
            if self.dialect.cancel_taken(r.json()):
                break
            await asyncio.sleep(RESET_WAIT)
        return self.dialect.confirms_cancel

    async def _make_room(self) -> None:
        """Apply max_calls before a new call: refuse, warn, or forget the oldest finished calls.
        A session without a limit is looked at again after LIMIT_RECHECK s, not before each call."""
        if time.monotonic() < self._unlimited_until:
            return
        max_calls, policy, count = await self.store.run(self.repository.call_limit, self.id)
        if not max_calls:
            self._unlimited_until = time.monotonic() + LIMIT_RECHECK
        if not max_calls or count < max_calls:
            return
        over = count - max_calls + 1
        if policy == "warning":
            warnings.warn(f"Session {self.name!r} holds {count} calls (max_calls {max_calls}).", stacklevel=3)
        elif policy == "remove":
            gone = await self.store.run(self.repository.forget_calls, self.id, statuses=TERMINAL_STATUSES,
                                        limit=over)
            if len(gone) < over:
                raise MaxCallsReached(f"Session {self.name!r} is at max_calls ({max_calls}) and its calls "
                                      "are still running: none can be forgotten yet.")
        else:
            raise MaxCallsReached(f"Session {self.name!r} holds {count} calls, its max_calls is {max_calls}. "
                                  "Forget calls, raise --max-calls, or set --max-calls-policy remove.")

    # -- the background holder -----------------------------------------------------------

    async def holder_running(self) -> bool:
        """True when the session's background holder reads its stream."""
        return await holder_present(self.repository.home, self.id)

    async def start_holder(self) -> None:
        """Start the session's background holder if none runs, and wait until it has the
        stream (after any process reading it now is done)."""
        await runtime().holders.ensure(self.repository.home, self.id, self.name)

    # -- files ----------------------------------------------------------------------------

    async def upload(self, *paths: str | os.PathLike[str] | FileData | dict[str, Any],
                     progress: files.Progress | None = None) -> list[FileData]:
        """Upload local files (streamed, one request) and record them; URLs and FileData pass
        through. Every local file is checked before anything is sent."""
        specs = await self._as_uploads(list(paths))
        return [FileData.from_dict(fd) for fd in await self._upload_specs(specs, progress)]

    async def uploads(self) -> list[UploadRecord]:
        """The files uploaded through this session, oldest first."""
        return await self.store.run(self.repository.list_uploads, self.id)

    async def _as_uploads(self, values: list[Any]) -> list[Path | dict[str, Any]]:
        """`files.as_upload` of each value: a FileData dict is a local file only when this
        repository recorded its download (any other path from an app is the app's)."""
        keys = [key for key in map(files.download_key, values) if key is not None]
        known = await self.store.run(self.repository.downloaded, keys) if keys else set()
        return [files.as_upload(v, known) for v in values]

    async def _upload_specs(self, specs: list[Path | dict[str, Any]],
                            progress: files.Progress | None = None) -> list[dict[str, Any]]:
        """Local Paths -> uploaded FileData dicts (each path once); dicts are kept."""
        local = list(dict.fromkeys(s for s in specs if isinstance(s, Path)))
        done: dict[Path, dict[str, Any]] = {}
        if local:
            sent = await files.upload((await self._channel()).transport, self.dialect, local, progress)
            now = time.time()
            await self.store.run(self.repository.add_uploads, [
                UploadRecord(self.id, str(p), fd.size or 0, sha, fd.path, now) for p, (fd, sha) in zip(local, sent)
            ])
            done = {p: fd.to_dict() for p, (fd, _) in zip(local, sent)}
        return [done[s] if isinstance(s, Path) else s for s in specs]

    async def _file_values(self, ep: Endpoint, values: list[Any]) -> list[Any]:
        """File parameters: local paths are uploaded, URLs and FileData wrapped, before the call."""
        slots: list[tuple[int, bool, int]] = []  # (value index, takes a list, how many files)
        items: list[Any] = []
        for i, (p, v) in enumerate(zip(ep.parameters, values)):
            if p.file is None or v is None:
                continue
            many = p.file == "many"
            given = list(v) if many and isinstance(v, (list, tuple)) else [v]
            slots.append((i, many, len(given)))
            items.extend(given)
        if not slots:
            return values
        sent = iter(await self._upload_specs(await self._as_uploads(items)))
        for i, many, count in slots:
            chunk = [next(sent) for _ in range(count)]
            values[i] = chunk if many else chunk[0]
        return values

    async def download_folder(self, download_path: str | Path | None) -> Path:
        """Where a result's files go: `download_path`, else the session's folder as recorded
        now (another process may have set it), else `<home>/downloads/<session name>`."""
        if not download_path:
            download_path = (await self.store.run(self.repository.get_session, self.id)).download_path
        if not download_path:
            return paths.downloads(self.repository.home, self.name, self.id).resolve()
        return Path(download_path).expanduser().resolve()

    async def download(self, data: Any, folder: Path) -> Any:
        """A copy of `data` whose files are downloaded into `folder`, recorded (one write) before
        anyone sees their paths: only recorded downloads go back to an app as local files."""
        local, done = await files.download_all((await self._channel()).transport, self.dialect, data, folder)
        if done:
            await self.store.run(self.repository.add_downloads, self.id, done, time.time())
        return local

    async def aclose(self) -> None:
        """Close this session's connection in the running event loop (pending calls fail).
        Calls this process took over from others are read to their end first: leaving the
        stream would make the server drop them."""
        channel = runtime().channels().pop(self.id, None)
        if channel is not None:
            await channel.close()  # flushes the store too
        else:
            await self.store.flush()

    async def close(self) -> None:
        """The same as `aclose()`."""
        await self.aclose()

    async def __aenter__(self) -> AsyncSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
