"""Where a session's token lives between processes: the OS keyring, else a 0600 file.

The SQLite repository only records that a session has a token, never the token itself.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .. import paths, private
from ..errors import RepositoryError

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
    private.folder(path.parent)
    fd = private.open_file(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "w") as f:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # a file an older release made readable
        f.write(token)
    return "file"


def load(home: Path, session_id: str) -> str | None:
    """The stored token of a session, or None."""
    path = paths.token_file(home, session_id)
    if path.exists():
        private.folder(path.parent)
        with os.fdopen(private.open_file(path, os.O_RDONLY)) as f:
            return f.read().strip() or None
    kr = _keyring()
    if kr is not None:
        try:
            return kr.get_password(SERVICE, session_id)  # type: ignore[attr-defined,no-any-return]
        except Exception as exc:  # locked, no D-Bus...: say so, not a 401 later without the token
            raise RepositoryError(
                f"The OS keyring failed to give this session's token ({type(exc).__name__}: {exc}). Unlock it, "
                f"or give the token again: gradio-session new URL --force --token-stdin.") from exc
    return None


def delete(home: Path, session_id: str) -> None:
    """Forget a session's token wherever it is."""
    with contextlib.suppress(FileNotFoundError):
        paths.token_file(home, session_id).unlink()
    kr = _keyring()
    if kr is not None:
        with contextlib.suppress(Exception):
            kr.delete_password(SERVICE, session_id)  # type: ignore[attr-defined]
