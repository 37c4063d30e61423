"""What one process shares between its sessions, in one object: `runtime()`.

The store worker of each repository folder, this process's reader id, the sessions'
connections per event loop, the way to start background holders (wired by the facades), the
network to use (tests may swap it), and the private event loop behind the sync API. A forked
child gets a runtime of its own: threads and sockets don't cross a fork.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
import uuid
import warnings
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .. import paths
from ..errors import GradioSessionError
from ..store.repository import Repository
from ..store.worker import StoreWorker
from .locks import StreamLock

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")
CLEANUP_WAIT = 3.0  # seconds an interrupted sync call gets to cancel its call on the server


class HolderPort(Protocol):
    """How the core asks for a session's background holder (implemented by `holder`)."""

    def spawn(self, home: Path, session_id: str) -> bool:
        """Start a holder unless one this process started still runs; True when it started one."""

    async def ensure(self, home: Path, session_id: str, name: str) -> None:
        """Start a holder if none runs, and wait until it reads the session's stream."""

    def close(self) -> None:
        """At exit: let the holders this process started run on."""


class Watching(Protocol):
    """How a call someone waits for shows itself while it runs (the notebook's progress bar):
    told each event as it comes, then that the wait ended."""

    def seen(self, event: Any) -> None: ...

    def end(self) -> None: ...


Watch = Callable[[Any], "Watching | None"]  # a call -> its display, or None to show nothing


class Closable(Protocol):
    async def close(self) -> None: ...


class Runtime:
    """The process's shared state; get it with `runtime()`."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.reader_id = f"{self.pid}.{uuid.uuid4().hex[:8]}"  # this process, on the calls it reads
        self.http: httpx.AsyncBaseTransport | None = None  # None: the network
        self._holders: HolderPort | None = None
        self._stores: dict[Path, StoreWorker] = {}
        self._stream_locks: dict[tuple[Path, str], StreamLock] = {}
        self._channels: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Closable]] = (
            weakref.WeakKeyDictionary()
        )
        self._portal: tuple[asyncio.AbstractEventLoop, threading.Thread] | None = None  # the sync API's loop
        self._lock = threading.Lock()
        # loops blocked by a sync call made inside them, and the task of that call
        self.blocked: dict[asyncio.AbstractEventLoop, asyncio.Task[Any] | None] = {}
        self.watch: Watch | None = None  # set in a notebook (`aio.watch_calls`): blocking waits show themselves

    def watching(self, call: Any) -> Watching | None:
        """The display of a call about to be waited for, if one is wanted; a display that fails
        is dropped (with a warning), never the call."""
        if self.watch is None:
            return None
        try:
            shown = self.watch(call)
        except Exception as exc:  # noqa: BLE001 - showing is never worth a call
            warnings.warn(f"gradio-session could not show the call: {exc!r}", RuntimeWarning, stacklevel=3)
            return None
        return None if shown is None else _Guarded(shown)

    def store(self, home: Path | str | None = None) -> StoreWorker:
        """The worker of a repository folder (default: `$GRADIO_SESSION_HOME` or user data)."""
        folder = paths.home(home)
        with self._lock:
            if folder not in self._stores:
                self._stores[folder] = StoreWorker(Repository(folder))
            return self._stores[folder]

    def stores(self) -> list[StoreWorker]:
        """The workers of the repositories this process has used."""
        with self._lock:
            return list(self._stores.values())

    def stream_lock(self, home: Path, session_id: str) -> StreamLock:
        """The process's one lock of a session's stream (shared by its event loops)."""
        with self._lock:
            key = (home, session_id)
            if key not in self._stream_locks:
                self._stream_locks[key] = StreamLock(home, session_id)
            return self._stream_locks[key]

    def channels(self) -> dict[str, Closable]:
        """The sessions' connections in the running event loop, by session id."""
        return self._channels.setdefault(asyncio.get_running_loop(), {})

    async def close_channels(self) -> None:
        """Close every session's connection in the running event loop."""
        for channel in self._channels.pop(asyncio.get_running_loop(), {}).values():
            await channel.close()

    @property
    def holders(self) -> HolderPort:
        if self._holders is None:
            raise GradioSessionError("No background holder is available here: use gradio_session or "
                                     "gradio_session.aio, which provide it.")
        return self._holders

    def use_holders(self, holders: HolderPort) -> None:
        if self._holders is None:
            self._holders = holders

    def loop(self) -> asyncio.AbstractEventLoop:
        """The process's private event loop, on a thread of its own (made on first use)."""
        with self._lock:
            if self._portal is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="gradio-session-loop", daemon=True)
                thread.start()
                self._portal = (loop, thread)
            return self._portal[0]

    def run_blocking(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Run a coroutine function on the process's private loop thread and wait for it: one
        loop for the sync API keeps connections and stream readers alive between calls.
        Interrupted (Ctrl+C), the coroutine is cancelled and gets a moment to clean up: a call
        left behind is cancelled on the server."""
        finished, value = threading.Event(), []
        try:  # the sync API called from inside a running loop blocks that loop meanwhile
            blocked: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            blocked = None

        async def run() -> T:
            if blocked is not None:
                self.blocked[blocked] = asyncio.current_task()
            try:
                value.append(await fn(*args, **kwargs))
                return value[0]
            finally:
                if blocked is not None:
                    self.blocked.pop(blocked, None)
                finished.set()  # the caller wakes now, not once the loop has finished the task

        future = asyncio.run_coroutine_threadsafe(run(), self.loop())
        try:
            finished.wait()
            return value[0] if value else future.result()
        except BaseException:
            if not future.done():
                future.cancel()
                finished.wait(CLEANUP_WAIT)
            raise

    def shutdown(self) -> None:
        """At exit: close the private loop's connections (calls taken over from other
        processes are read to their end first), stop the loop, commit what is queued."""
        if os.getpid() != self.pid:
            return
        with self._lock:
            portal, self._portal = self._portal, None
        if portal is not None:
            loop, thread = portal
            try:
                asyncio.run_coroutine_threadsafe(self.close_channels(), loop).result(CLEANUP_WAIT * 4)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(CLEANUP_WAIT)
        for store in list(self._stores.values()):
            store.close()
        if self._holders is not None:
            self._holders.close()


_current: Runtime | None = None
_current_lock = threading.Lock()


def runtime() -> Runtime:
    """This process's runtime (a new one after a fork)."""
    global _current
    with _current_lock:
        if _current is None or _current.pid != os.getpid():
            _current = Runtime()
            atexit.register(_current.shutdown)
        return _current


class _Guarded:
    """A call's display whose failure stops the display, not the call."""

    def __init__(self, inner: Watching) -> None:
        self._inner: Watching | None = inner

    def seen(self, event: Any) -> None:
        self._do("seen", event)

    def end(self) -> None:
        self._do("end")

    def _do(self, what: str, *args: Any) -> None:
        if self._inner is None:
            return
        try:
            getattr(self._inner, what)(*args)
        except Exception as exc:  # noqa: BLE001
            self._inner = None
            warnings.warn(f"gradio-session stopped showing the call: {exc!r}", RuntimeWarning, stacklevel=3)
