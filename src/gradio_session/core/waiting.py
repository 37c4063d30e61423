"""One way to wait for something another process (or the server) will do: poll with backoff."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def wait_until(check: Callable[[], Awaitable[bool]], *, first: float = 0.002, most: float = 0.05,
                     timeout: float | None = None) -> bool:
    """Await `check()` until it is true (True), sleeping `first` seconds, doubling up to `most`,
    between looks; False once `timeout` seconds have passed."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = first
    while not await check():
        if deadline is not None and time.monotonic() >= deadline:
            return False
        await asyncio.sleep(delay)
        delay = min(delay * 2, most)
    return True
