"""The synchronous API: a thin facade that runs the async core on one private event-loop thread.

One loop for the whole process keeps the connection pool and the session's stream reader
alive between calls, lets many threads call at once, and works inside Jupyter's own loop.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from . import aio
from .core.mapping import OnError
from .core.pipes import Policy
from .core.runtime import runtime
from .files import Progress
from .functions import Api
from .models import AppInfo, CallRecord, Endpoint, Event, FileData, Login, RowResult, SessionRecord, UploadRecord

T = TypeVar("T")


def _run(fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    """Run a coroutine function of the core on the process's private loop and wait for it."""
    return runtime().run_blocking(fn, *args, **kwargs)


def _drained(items: AsyncIterator[T]) -> Iterator[T]:
    """An async generator of the core read item by item on the private loop; closed there too."""
    try:
        while True:
            try:
                yield _run(items.__anext__)
            except StopAsyncIteration:
                return
    finally:
        _run(items.aclose)  # type: ignore[attr-defined]  # an async generator


class Call:
    """A call started by `Session.invoke`: event id, status, events as they come, result."""

    def __init__(self, inner: aio.Call) -> None:
        self._inner = inner

    def __repr__(self) -> str:
        return repr(self._inner)

    @property
    def aio(self) -> aio.Call:
        """The same call in the async API."""
        return self._inner

    @property
    def event_id(self) -> str:
        return self._inner.event_id

    @property
    def endpoint(self) -> str:
        return self._inner.endpoint

    @property
    def status(self) -> str:
        return self._inner.status

    @property
    def done(self) -> bool:
        return self._inner.done

    def history(self) -> list[Event]:
        """The events received (or, following, read) so far, without waiting."""
        return self._inner.history()

    def events(self, *, timeout: float | None = None, max_heartbeats: int | None = None,
               after: int | None = None) -> Iterator[Event]:
        """The call's events, live until it ends: from the first, or those numbered above
        `after`, or from where a wait stopped by `max_heartbeats` heartbeats in a row stopped
        (the call is then `heartbeat_expired`). Cancelled as `timed_out` after `timeout` s."""
        return _drained(self._inner.events(timeout=timeout, max_heartbeats=max_heartbeats, after=after))

    def result(self, *, timeout: float | None = None, download_path: str | Path | None = None,
               download: bool = True, watch: bool = True) -> Any:
        """Wait for the end; the final output list (files downloaded into `download_path`, default
        the session's folder; `download=False` leaves them on the server), or raise the app's
        error (CallTimeout after `timeout` seconds). In a notebook the wait shows the call's
        queue, progress and messages (`watch=False`: nothing shown)."""
        watching = runtime().watching(self._inner) if watch and not self.done else None
        if watching is not None:  # shown from this thread, the one whose cell waits
            try:
                for event in self.events(timeout=timeout):
                    watching.seen(event)
            finally:
                watching.end()
        return _run(self._inner.result, timeout=timeout, download_path=download_path, download=download, watch=False)

    def result_now(self) -> Any:
        """The result if the call completed, without waiting or downloading (see aio)."""
        return self._inner.result_now()

    def cancel(self) -> bool:
        """Stop the call on the server; it ends as `cancelled`. False if it had ended already."""
        return _run(self._inner.cancel)


class Session:
    """A named session on a Gradio app (synchronous). See `gradio_session.aio` for async."""

    def __init__(self, inner: aio.Session) -> None:
        self._inner = inner

    def __repr__(self) -> str:
        return repr(self._inner)

    @property
    def aio(self) -> aio.Session:
        """The same session in the async API (for this process's private loop only)."""
        return self._inner

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def id(self) -> str:
        return self._inner.id

    @property
    def record(self) -> SessionRecord:
        return self._inner.record

    @property
    def app(self) -> AppInfo:
        return self._inner.app

    @cached_property
    def api(self) -> Api:
        """The app's endpoints as typed functions: `s.api.echo("hi")` (see `help(s.api.echo)`)."""
        return Api(self)

    def endpoint(self, name: str) -> Endpoint:
        """The endpoint called `name` (leading slash optional)."""
        return self._inner.endpoint(name)

    def invoke(self, endpoint: str, *args: Any, **kwargs: Any) -> Call:
        """Start a call; returns as soon as the server gave it an event id."""
        return Call(_run(self._inner.invoke, endpoint, *args, **kwargs))

    def detach(self, endpoint: str, *args: Any, **kwargs: Any) -> Call:
        """Start a call that outlives this process: the session's background holder reads it
        and records its events (find it again with `get_call`)."""
        return Call(_run(self._inner.detach, endpoint, *args, **kwargs))

    def call(self, endpoint: str, *args: Any, **kwargs: Any) -> Any:
        """Call an endpoint and wait for its result (the output list)."""
        if runtime().watch is not None:  # in a notebook: the wait shows itself (`Call.result`)
            return self.invoke(endpoint, *args, **kwargs).result()
        return _run(self._inner.call, endpoint, *args, **kwargs)

    def calls(self, status: str | None = None) -> list[CallRecord]:
        """The session's recorded calls, oldest first (only those of `status` if given)."""
        return _run(self._inner.calls, status)

    def get_call(self, event_id: str) -> Call:
        """A call of this session by event id, from any process; its events and result."""
        return Call(_run(self._inner.get_call, event_id))

    def cancel(self, event_id: str) -> bool:
        """Cancel a call of this session by event id, from any process; False if it had ended."""
        return _run(self._inner.cancel, event_id)

    def get_call_record(self, event_id: str) -> CallRecord:
        """The recorded call of that event id (CallNotFound if none), without following it."""
        return _run(self._inner.get_call_record, event_id)

    def forget(self, event_id: str | None = None, *, completed: bool = False, all: bool = False,
               force: bool = False, dry_run: bool = False) -> list[str]:
        """Forget recorded calls: one by event id, the finished ones (`completed`) or `all`;
        calls still running only with `force`. Returns the event ids gone (or, dry_run, to go)."""
        return _run(self._inner.forget, event_id, completed=completed, all=all, force=force, dry_run=dry_run)

    def feed(self, endpoint: str, upstream: Call, mapping: dict[str, int], *,
             values: dict[str, Any] | None = None, policy: Policy = "last") -> Call:
        """Start `endpoint` with the outputs of another call (`mapping`: parameter -> output
        index) and other `values`: from its result (`policy="last"`), or again at each of its
        partial results (`"each"`, the previous downstream call cancelled)."""
        return Call(_run(self._inner.feed, endpoint, upstream._inner, mapping, values=values, policy=policy))

    def map(self, endpoint: str, rows: Iterable[Any], *, concurrency: int = 8, ordered: bool = True,
            on_error: OnError = "record", retries: int = 3, rate: float | None = None,
            download: bool = True) -> Iterator[RowResult]:
        """Run every row through `endpoint`, `concurrency` calls at a time: one RowResult per row
        as they finish (in input order when `ordered`). A row is a dict of named values, a tuple
        of values in order, or the one value. A row's error is its result (`on_error="record"`)
        or ends the map (`"raise"`); transient failures are retried (`retries`), `rate` caps the
        calls per second. `rows` is read lazily; the calls stay out of the call history."""
        return _drained(self._inner.map(endpoint, rows, concurrency=concurrency, ordered=ordered,
                                        on_error=on_error, retries=retries, rate=rate, download=download))

    def refresh(self) -> bool:
        """Read the app's API again (after a redeploy); the session keeps its Gradio session
        hash and its calls. True when the API changed."""
        return _run(self._inner.refresh)

    def login(self, username: str | None = None, password: str | None = None) -> None:
        """Log in to the app now and keep the login for the session (see aio); LoginRefused when refused."""
        _run(self._inner.login, username, password)

    def logout(self) -> None:
        """Forget the session's login: its user name, password and the app's cookies."""
        _run(self._inner.logout)

    def logins(self) -> list[Login]:
        """The session's logins, newest first: who, when, whether the app took it."""
        return _run(self._inner.logins)

    def space_runtime(self) -> dict[str, Any] | None:
        """For a Space's session: its stage, hardware (current and requested) and sleep time, as
        the Hub says now; None for any other app."""
        return _run(self._inner.space_runtime)

    def view_api(self, endpoint: str | None = None, *, print_info: bool = True) -> str | None:
        """The app's endpoints with their parameters, returns and a call to copy: printed (or,
        `print_info=False`, returned)."""
        return self._inner.view_api(endpoint, print_info=print_info)

    def can_detach(self, endpoint: str) -> bool:
        """True when calls of `endpoint` can be left to the background holder."""
        return self._inner.can_detach(endpoint)

    def holder_running(self) -> bool:
        """True when the session's background holder reads its stream."""
        return _run(self._inner.holder_running)

    def start_holder(self) -> None:
        """Start the session's background holder if none runs; wait until it has the stream."""
        _run(self._inner.start_holder)

    def upload(self, *paths: str | os.PathLike[str] | FileData | dict[str, Any],
               progress: Progress | None = None) -> list[FileData]:
        """Upload local files (streamed) and record them; URLs and FileData pass through."""
        return _run(self._inner.upload, *paths, progress=progress)

    def uploads(self) -> list[UploadRecord]:
        """The files uploaded through this session, oldest first."""
        return _run(self._inner.uploads)

    def close(self) -> None:
        """Close the session's connection (the session stays in the repository)."""
        _run(self._inner.aclose)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def new_session(app: str, *, name: str | None = None, download_path: str | None = None,
                force: bool = False, token: str | None = None, home: Path | str | None = None,
                wait_timeout: float | None = None, on_stage: Callable[[str], None] | None = None,
                auth: tuple[str, str] | None = None, headers: dict[str, str] | None = None, proxy: str | None = None,
                ca_bundle: str | None = None, insecure: bool = False) -> Session:
    """Probe a Gradio app and record a new session for it (the first one becomes the default).
    A Hugging Face Space (`owner/name`) is found, woken and waited for first. `auth`, `headers`,
    `proxy`, `ca_bundle`, `insecure`: how the app is reached, kept with the session (see aio)."""
    return Session(_run(aio.new_session, app, name=name, download_path=download_path, force=force,
                        token=token, home=home, wait_timeout=wait_timeout, on_stage=on_stage, auth=auth,
                        headers=headers, proxy=proxy, ca_bundle=ca_bundle, insecure=insecure))


def duplicate_space(space: str, to: str | None = None, *, hardware: str | None = None,
                    private: bool | None = None, sleep_time: int | None = None,
                    secrets: dict[str, str] | None = None, name: str | None = None, token: str | None = None,
                    home: Path | str | None = None, wait_timeout: float | None = None,
                    on_stage: Callable[[str], None] | None = None) -> Session:
    """Duplicate a Hugging Face Space into your account (or `to`), wait for it, make a session on it."""
    return Session(_run(aio.duplicate_space, space, to, hardware=hardware, private=private, sleep_time=sleep_time,
                        secrets=secrets, name=name, token=token, home=home, wait_timeout=wait_timeout,
                        on_stage=on_stage))


def get_session(name: str = ".", *, home: Path | str | None = None) -> Session:
    """A session by name, id, or `.` for the default."""
    return Session(_run(aio.get_session, name, home=home))


def list_sessions(pattern: str = "*", *, home: Path | str | None = None) -> list[Session]:
    """Sessions whose name matches a glob pattern (`*` for all)."""
    return [Session(s) for s in _run(aio.list_sessions, pattern, home=home)]


def set_default(session: Session | str, *, home: Path | str | None = None) -> Session:
    """Make a session the default one."""
    ref = session if isinstance(session, str) else session.id
    return Session(_run(aio.set_default, ref, home=home))


def set_options(session: Session | str = ".", *, home: Path | str | None = None,
                **options: Any) -> Session:
    """Change `max_calls`, `max_calls_policy` or `download_path` of a session."""
    ref = session if isinstance(session, str) else session.id
    return Session(_run(aio.set_options, ref, home=home, **options))


def remove_session(name_or_pattern: str | None = None, *, pattern: str | None = None,
                   home: Path | str | None = None) -> list[str]:
    """Remove one session by name or id (or, with `pattern=`, every session matching a glob),
    with its calls and token; returns the names removed."""
    return _run(aio.remove_session, name_or_pattern, pattern=pattern, home=home)


def local_file(value: Any, *, home: Path | str | None = None) -> Path | None:
    """The local copy of a file in a result (a FileData dict) that a session of the repository
    `home` downloaded (default: any this process uses); None for any other value (see aio)."""
    return _run(aio.local_file, value, home=home)
