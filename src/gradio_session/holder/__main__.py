"""`python -m gradio_session.holder SESSION_ID`: started by `HolderProcesses.spawn`, not by people."""

from __future__ import annotations

import asyncio
import os
import sys
import time

from .. import paths
from ..core.channel import open_channel
from ..core.family import get_session
from ..errors import GradioSessionError
from .serve import HolderLock, serve


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m gradio_session.holder SESSION_ID", file=sys.stderr)
        return 2
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    try:
        async def run() -> None:
            session = await get_session(args[0])
            channel = await open_channel(session, session.record, session.store, session.dialect)
            await serve(channel, HolderLock(session.repository.home, session.id), paths.holder_idle())

        asyncio.run(run())
    except GradioSessionError as exc:
        print(f"{stamp} holder {os.getpid()}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
