"""The background holder: a small process that reads a session's event stream for others.

Gradio drops every call of a session whose stream reader leaves, and one session has one
stream. So detached calls, and calls other processes start while one is running, are read by
`python -m gradio_session.holder SESSION_ID`: it takes the session's stream lock, then the
holder lock (held means "the holder reads this session"), records the events of every call
joined for it, and leaves once nothing has run for `GRADIO_SESSION_HOLDER_IDLE` seconds.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout

from .errors import GradioSessionError

if TYPE_CHECKING:
    from .session import Channel

POLL = 0.05  # seconds between looks at the repository for calls to take over
IDLE = 10.0  # default seconds a holder stays with nothing to read

_spawned: dict[str, subprocess.Popen[bytes]] = {}  # session id -> the holder this process started


@atexit.register
def _let_holders_be() -> None:
    """Holders outlive the process that started them by design: drop their handles quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        _spawned.clear()


def lock_path(home: Path, session_id: str) -> Path:
    return home / "locks" / f"{session_id}.holder.lock"


def log_path(home: Path, session_id: str) -> Path:
    return home / "holders" / f"{session_id}.log"


def lock_free(lock: FileLock) -> bool:
    """True when no process holds `lock` (checked by taking it briefly)."""
    try:
        lock.acquire(blocking=False)
    except Timeout:
        return False
    lock.release()
    return True


def alive(home: Path, session_id: str) -> bool:
    """True when a holder reads the session's stream. Checked twice: another process's check
    holds the lock for an instant, the holder all along."""
    lock = FileLock(lock_path(home, session_id), thread_local=False)
    if lock_free(lock):
        return False
    time.sleep(0.0005)  # a check takes microseconds; this runs on every call a holder reads
    return not lock_free(lock)


def spawn(home: Path, session_id: str) -> bool:
    """Start a holder for the session, unless one this process started still runs. True when
    it started one."""
    running = _spawned.get(session_id)
    if running is not None and running.poll() is None:
        return False
    log = log_path(home, session_id)
    log.parent.mkdir(parents=True, exist_ok=True)
    detached: dict[str, object] = (
        {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS}  # type: ignore[attr-defined]
        if sys.platform == "win32" else {"start_new_session": True}
    )
    with open(log, "ab") as err:
        _spawned[session_id] = subprocess.Popen(
            [sys.executable, "-m", "gradio_session.holder", session_id],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, close_fds=True,
            env={**os.environ, "GRADIO_SESSION_HOME": str(home)}, **detached,  # type: ignore[call-overload]
        )
    return True


async def ensure(home: Path, session_id: str, name: str) -> None:
    """Make sure a holder reads the session's stream, starting one if needed and waiting until
    it has the stream (after any process reading it now is done)."""
    if alive(home, session_id):
        return
    spawn(home, session_id)
    while not alive(home, session_id):
        proc = _spawned[session_id]
        if proc.poll() is not None and not alive(home, session_id):
            raise GradioSessionError(
                f"The background holder of session {name!r} stopped (exit {proc.returncode}); "
                f"see {log_path(home, session_id)}."
            )
        await asyncio.sleep(POLL)


async def serve(channel: Channel, idle: float) -> None:
    """Hold the session's stream: take over calls joined for the holder until idle."""
    await channel.hold()
    loop = asyncio.get_running_loop()
    quiet_since = loop.time()
    try:
        while True:
            channel.adopt()
            if channel.busy:
                quiet_since = loop.time()
            elif loop.time() - quiet_since >= idle:
                channel.let_go()  # from now on, a process joining a call starts a new holder
                channel.adopt()  # calls joined just before that are still ours
                if not channel.busy:
                    return
                channel.hold_again()
            await asyncio.sleep(POLL)
    finally:
        await channel.close()


def main(argv: list[str] | None = None) -> int:
    """`python -m gradio_session.holder SESSION_ID`; started by `spawn`, not by people."""
    from .session import get_session

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m gradio_session.holder SESSION_ID", file=sys.stderr)
        return 2
    idle = float(os.environ.get("GRADIO_SESSION_HOLDER_IDLE", IDLE))
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    try:
        session = get_session(args[0])

        async def run() -> None:
            await serve(session._channel(), idle)

        asyncio.run(run())
    except GradioSessionError as exc:
        print(f"{stamp} holder {os.getpid()}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
