"""The background holder: a small process that reads a session's event stream for others.

Gradio drops every call of a session whose stream reader leaves, and one session has one
stream. So detached calls, and calls other processes start while one is running, are read by
`python -m gradio_session.holder SESSION_ID` (`serve.py`): it takes the session's stream lock,
then the holder lock (held means "the holder reads this session"), records the events of every
call joined for it, and leaves once nothing has run for `GRADIO_SESSION_HOLDER_IDLE` seconds.

`HolderProcesses` is how the core starts holders (`core.runtime.HolderPort`); the facades wire it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

from .. import paths, private
from ..core.locks import holder_present
from ..core.waiting import wait_until
from ..errors import GradioSessionError

POLL = 0.05  # seconds between looks: for a starting holder, and in the holder for calls to take over


class HolderProcesses:
    """Starts holder processes and remembers the ones this process started."""

    def __init__(self) -> None:
        self.spawned: dict[str, subprocess.Popen[bytes]] = {}  # session id -> its holder
        self._lock = threading.Lock()  # spawn runs in worker threads

    def spawn(self, home: Path, session_id: str) -> bool:
        """Start a holder for the session, unless one this process started still runs. True
        when it started one."""
        with self._lock:
            return self._spawn(home, session_id)

    def _spawn(self, home: Path, session_id: str) -> bool:
        running = self.spawned.get(session_id)
        if running is not None and running.poll() is None:
            return False
        log = paths.holder_log(home, session_id)
        private.folder(log.parent)
        detached: dict[str, object] = (
            {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS}  # type: ignore[attr-defined]
            if sys.platform == "win32" else {"start_new_session": True}
        )
        err = private.open_file(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            self.spawned[session_id] = subprocess.Popen(
                private.python_command("gradio_session.holder", session_id),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, close_fds=True,
                env={**os.environ, paths.HOME_ENV: str(home)}, **detached,  # type: ignore[call-overload]
            )
        finally:
            os.close(err)
        return True

    async def ensure(self, home: Path, session_id: str, name: str) -> None:
        """Make sure a holder reads the session's stream, starting one if needed and waiting
        until it has the stream (after any process reading it now is done)."""
        if await holder_present(home, session_id):
            return
        await asyncio.to_thread(self.spawn, home, session_id)

        async def started() -> bool:
            if await holder_present(home, session_id):
                return True
            proc = self.spawned[session_id]
            if proc.poll() is not None and not await holder_present(home, session_id):
                raise GradioSessionError(
                    f"The background holder of session {name!r} stopped (exit {proc.returncode}); "
                    f"see {paths.holder_log(home, session_id)}."
                )
            return False

        await wait_until(started, first=POLL, most=POLL)

    def close(self) -> None:
        """Holders outlive the process that started them by design: drop their handles quietly."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            self.spawned.clear()
