"""Every place on disk and every environment variable, named in one spot. No I/O.

    <home>/sessions.db                   the repository (SQLite)
    <home>/locks/<session>.lock          held by the process that reads the session's stream
    <home>/locks/<session>.holder.lock   held by the session's background holder while it runs
    <home>/holders/<session>.log         the holder's error log
    <home>/tokens/<session>              a session's secrets (token, password...), when no OS keyring is available (0600)
    <home>/downloads/<session name>/     result files, unless the session or the call names a folder
    <home>/locks/batch-<hash>.lock       held by the process running the batch that writes an output file
    <home>/batches/<batch id>/           the repository of a Dask batch's worker sessions (same machine)
    <home>/run/<key>                     the socket of a CLI server (one per directory and environment),
                                         with <key>.lock, .pid, .log and .last (the last cold `call`)
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "GRADIO_SESSION_HOME"  # the repository folder
HOLDER_IDLE_ENV = "GRADIO_SESSION_HOLDER_IDLE"  # seconds a holder stays with nothing to read
DEBUG_ENV = "GRADIO_SESSION_DEBUG"  # set: the CLI shows tracebacks
SERVER_ENV = "GRADIO_SESSION_SERVER"  # 0: every command runs in its own process, no CLI server
SERVER_IDLE_ENV = "GRADIO_SESSION_SERVER_IDLE"  # seconds a CLI server stays with no command
TOKEN_ENV = "GRADIO_SESSION_TOKEN"  # the token of `new` and `duplicate` when none is given on the command line
MAX_DOWNLOAD_ENV, MAX_BODY_ENV = "GRADIO_SESSION_MAX_DOWNLOAD", "GRADIO_SESSION_MAX_BODY"  # bytes: a result file, an answer
HOLDER_IDLE = 10.0
SERVER_IDLE = 60.0


def home(override: Path | str | None = None) -> Path:
    """`override`, else `$GRADIO_SESSION_HOME`, else the user's data directory for the app."""
    if override is not None:
        return Path(override)
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("gradio-session", appauthor=False))


def database(home: Path) -> Path:
    return home / "sessions.db"


def stream_lock(home: Path, session_id: str) -> Path:
    return home / "locks" / f"{session_id}.lock"


def holder_lock(home: Path, session_id: str) -> Path:
    return home / "locks" / f"{session_id}.holder.lock"


def holder_log(home: Path, session_id: str) -> Path:
    return home / "holders" / f"{session_id}.log"


def token_file(home: Path, session_id: str) -> Path:
    return home / "tokens" / session_id


def batch_lock(home: Path, output: Path) -> Path:
    import hashlib

    return home / "locks" / f"batch-{hashlib.sha256(str(output).encode()).hexdigest()[:16]}.lock"


def batch_home(home: Path, batch_id: str) -> Path:
    return home / "batches" / batch_id


def downloads(home: Path, session_name: str, session_id: str) -> Path:
    """The default folder of a session's result files: named for the session (`owner/name`
    nests), or for its id if the name would not make a folder inside `downloads`."""
    parts = session_name.split("/")
    safe = all(p not in ("", ".", "..") and "\\" not in p for p in parts)
    return home / "downloads" / (session_name if safe else session_id)


def servers(home: Path) -> Path:
    """The folder of the CLI servers' sockets (private to the user: 0700)."""
    return home / "run"


def server_idle() -> float:
    return float(os.environ.get(SERVER_IDLE_ENV, SERVER_IDLE))


def holder_idle() -> float:
    return float(os.environ.get(HOLDER_IDLE_ENV, HOLDER_IDLE))
