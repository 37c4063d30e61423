"""The file locks that say who reads a session's event stream, checked without blocking.

Gradio keeps one message queue per session, so one process at a time reads a session's
stream: it holds the session's stream lock. The background holder also holds the holder lock
while it runs; other processes look at that lock to know they can leave their calls to it.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

from filelock import FileLock, Timeout

from .. import paths


def _lock(path: Path) -> FileLock:
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(path, thread_local=False)


def _free(lock: FileLock) -> bool:
    """True when no process holds `lock` (checked by taking it for an instant)."""
    try:
        lock.acquire(blocking=False)
    except Timeout:
        return False
    lock.release()
    return True


class StreamLock:
    """The lock of one session's stream, as this process sees it."""

    def __init__(self, home: Path, session_id: str) -> None:
        self._lock = _lock(paths.stream_lock(home, session_id))

    @property
    def held(self) -> bool:
        """True while this process holds it."""
        return self._lock.is_locked

    def try_take(self) -> bool:
        """Take it if nobody holds it; True when this process holds it now."""
        if not self._lock.is_locked:
            try:
                self._lock.acquire(blocking=False)
            except Timeout:
                return False
        return True

    def release(self) -> None:
        self._lock.release()

    def free(self) -> bool:
        """True when no process (this one included) holds it."""
        return not self._lock.is_locked and _free(self._lock)


async def holder_present(home: Path, session_id: str) -> bool:
    """True when the session's background holder runs (it holds its lock exclusively).

    Lookers take a shared lock for an instant, so many processes looking at once never make
    each other see a holder that isn't there. Without `fcntl` (Windows) the lock is looked at
    twice instead: another process's look holds it for an instant, the holder all along."""
    path = paths.holder_lock(home, session_id)
    if fcntl is not None:
        try:
            fd = os.open(path, os.O_RDONLY)  # no file: no holder ever ran
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing drops the shared lock
        return False
    lock = _lock(path)
    if _free(lock):
        return False
    await asyncio.sleep(0.0005)
    return not _free(lock)
