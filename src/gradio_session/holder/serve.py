"""What a holder process does: hold the session's stream and read the calls left to it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from .. import paths
from ..core.channel import Channel
from ..core.locks import file_lock
from ..core.waiting import wait_until
from . import POLL  # seconds between looks at the repository for calls to take over


class HolderLock:
    """Held while this holder reads the session: other processes leave their calls to it."""

    def __init__(self, home: Path, session_id: str) -> None:
        self._lock = file_lock(paths.holder_lock(home, session_id))

    async def take(self) -> None:
        """Take it, waiting without blocking the loop (only other processes' brief looks compete)."""
        async def taken() -> bool:
            return self._lock.acquire()

        await wait_until(taken, first=0.0005, most=0.01)

    def release(self) -> None:
        self._lock.release()


async def serve(channel: Channel, lock: HolderLock, idle: float) -> None:
    """Hold the session's stream: take over calls joined for the holder until idle."""
    await channel.hold()
    await lock.take()
    loop = asyncio.get_running_loop()
    quiet_since = loop.time()
    try:
        while True:
            await channel.adopt()
            if channel.busy:
                quiet_since = loop.time()
            elif loop.time() - quiet_since >= idle:
                lock.release()  # from now on, a process joining a call starts a new holder
                await channel.adopt()  # calls joined just before that are still ours
                if not channel.busy:
                    return
                await lock.take()
            await asyncio.sleep(POLL)
    finally:
        lock.release()
        await channel.close()
