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


REOPEN_WAITS = (0.0, 0.5, 1.5)  # seconds before each reopen of a stream that brought no news


class Reopens:
    """When to reopen an event stream that ended with calls pending, and when to give up.

    A stream that brought news of a call is reopened at once (a proxy cut it, or the server
    closed it just as a call was joined). One that brought none is reopened after a growing
    wait; after `len(REOPEN_WAITS)` such reopens the server no longer has the calls."""

    def __init__(self) -> None:
        self.quiet = 0

    async def again(self, news: bool) -> bool:
        """Wait before the next open (True), or False: the calls are lost."""
        self.quiet = 0 if news else self.quiet + 1
        if self.quiet > len(REOPEN_WAITS):
            return False
        if self.quiet:
            await asyncio.sleep(REOPEN_WAITS[self.quiet - 1])
        return True
