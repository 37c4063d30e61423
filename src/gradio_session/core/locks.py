"""The file locks that say who reads a session's event stream, checked without blocking.

Gradio keeps one message queue per session, so one process at a time reads a session's
stream: it holds the session's stream lock. The background holder also holds the holder lock
while it runs; other processes look at that lock to know they can leave their calls to it.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

from .. import paths, private
from ..private import held


class _Flock:
    """An exclusive `flock` on a file, taken without blocking: what filelock does on POSIX, at
    a thirtieth of its cost (a call takes and releases the stream lock once)."""

    def __init__(self, path: Path) -> None:
        private.folder(path.parent)
        self._path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take it if no one holds it; False when someone does."""
        assert fcntl is not None
        fd = private.open_file(self._path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing drops the lock


class _PortableLock:
    """The same lock where there is no `flock` (Windows), through filelock."""

    def __init__(self, path: Path) -> None:
        from filelock import FileLock

        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(path, thread_local=False)

    def acquire(self) -> bool:
        from filelock import Timeout

        try:
            self._lock.acquire(blocking=False)
        except Timeout:
            return False
        return True

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release(force=True)


def file_lock(path: Path) -> _Flock | _PortableLock:
    """An exclusive lock on `path` between processes, taken without blocking."""
    return _Flock(path) if fcntl is not None else _PortableLock(path)


def _free(lock: _Flock | _PortableLock) -> bool:
    """True when no process holds `lock` (checked by taking it for an instant)."""
    if not lock.acquire():
        return False
    lock.release()
    return True


class Owner(Protocol):
    """A session's channel in one event loop, as the stream lock sees it."""

    loop: asyncio.AbstractEventLoop

    def idle(self) -> bool:
        """No call of its own in flight or starting, and no stream the server still feeds."""


class StreamLock:
    """The lock of one session's stream in this process, shared by its event loops.

    Between processes it is a file lock; inside the process one channel (one event loop) owns
    it at a time. An idle owner hands it over at once, so two loops of one process never wait
    on each other (a loop blocked in the sync API while its idle channel kept the stream was a
    deadlock). Get it with `runtime().stream_lock(...)`."""

    def __init__(self, home: Path, session_id: str) -> None:
        path = paths.stream_lock(home, session_id)
        self._file = file_lock(path)
        self._guard = threading.Lock()
        self._owner: Owner | None = None

    def owned_by(self, owner: Owner) -> bool:
        return self._owner is owner

    def owner_loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop of this process that has the stream, if one has."""
        owner = self._owner
        return owner.loop if owner is not None else None

    def take(self, owner: Owner, then: Callable[[], None] = lambda: None) -> bool:
        """Own it if nobody in any process does, or if this process's owner is idle; `then`
        runs while the take is still atomic (the owner counts its new call there)."""
        with self._guard:
            if self._owner is None:
                if not self._file.acquire():
                    return False
            elif self._owner is not owner and not self._owner.idle():
                return False
            self._owner = owner
            then()
            return True

    def release(self, owner: Owner) -> None:
        with self._guard:
            if self._owner is owner:
                self._owner = None
                self._file.release()

    def free(self) -> bool:
        """True when no process (this one included) holds it."""
        with self._guard:
            return self._owner is None and _free(self._file)


async def holder_present(home: Path, session_id: str) -> bool:
    """True when the session's background holder runs (it holds its lock exclusively).

    Lookers take a shared lock for an instant, so many processes looking at once never make
    each other see a holder that isn't there. Without `fcntl` (Windows) the lock is looked at
    twice instead: another process's look holds it for an instant, the holder all along."""
    path = paths.holder_lock(home, session_id)
    if fcntl is not None:
        return held(path)
    lock = file_lock(path)
    if _free(lock):
        return False
    await asyncio.sleep(0.0005)
    return not _free(lock)
