"""Where a session's token lives between processes: the OS keyring, else a 0600 file.

The SQLite repository only records that a session has a token, never the token itself.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .. import paths

SERVICE = "gradio-session"


def _keyring() -> object | None:
    """The keyring module when a real OS keyring backend is available, else None."""
    try:
        import keyring
        from keyring.backends import fail
    except Exception:  # keyring missing or broken: fall back to the file
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:
        return None
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 0) <= 0:
        return None
    return keyring


def store(home: Path, session_id: str, token: str) -> str:
    """Keep the token for later processes; returns where: "keyring" or "file"."""
    kr = _keyring()
    if kr is not None:
        with contextlib.suppress(Exception):
            kr.set_password(SERVICE, session_id, token)  # type: ignore[attr-defined]
            return "keyring"
    path = paths.token_file(home, session_id)
    folder = path.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token)
    os.chmod(path, 0o600)
    return "file"


def load(home: Path, session_id: str) -> str | None:
    """The stored token of a session, or None."""
    path = paths.token_file(home, session_id)
    if path.exists():
        return path.read_text().strip() or None
    kr = _keyring()
    if kr is not None:
        with contextlib.suppress(Exception):
            return kr.get_password(SERVICE, session_id)  # type: ignore[attr-defined,no-any-return]
    return None


def delete(home: Path, session_id: str) -> None:
    """Forget a session's token wherever it is."""
    with contextlib.suppress(FileNotFoundError):
        paths.token_file(home, session_id).unlink()
    kr = _keyring()
    if kr is not None:
        with contextlib.suppress(Exception):
            kr.delete_password(SERVICE, session_id)  # type: ignore[attr-defined]
