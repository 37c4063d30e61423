"""Where a session's secrets live between processes: the OS keyring, else a 0600 file.

Its token, login password, header values, proxy credentials and the app's cookies, as one JSON
document. The SQLite repository only records that a session has secrets, never a secret.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from .. import paths, private
from ..errors import RepositoryError
from ..models import Secrets

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


def store(home: Path, session_id: str, secrets: Secrets) -> str:
    """Keep the secrets for later processes (replacing those kept); returns where: "keyring" or "file"."""
    text = json.dumps(secrets.to_dict())
    kr = _keyring()
    if kr is not None:
        with contextlib.suppress(Exception):
            kr.set_password(SERVICE, session_id, text)  # type: ignore[attr-defined]
            return "keyring"
    path = paths.token_file(home, session_id)
    private.folder(path.parent)
    fd = private.open_file(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "w") as f:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # a file an older release made readable
        f.write(text)
    return "file"


def load(home: Path, session_id: str) -> Secrets:
    """The kept secrets of a session (none kept: empty)."""
    path = paths.token_file(home, session_id)
    text: str | None = None
    if path.exists():
        private.folder(path.parent)
        with os.fdopen(private.open_file(path, os.O_RDONLY)) as f:
            text = f.read().strip()
    elif (kr := _keyring()) is not None:
        try:
            text = kr.get_password(SERVICE, session_id)  # type: ignore[attr-defined]
        except Exception as exc:  # locked, no D-Bus...: say so, not a 401 later without the token
            raise RepositoryError(
                f"The OS keyring failed to give this session's secrets ({type(exc).__name__}: {exc}). Unlock "
                f"it, or give them again: gradio-session new URL --force ...") from exc
    if not text:
        return Secrets()
    if not text.startswith("{"):  # kept by an older release: the token alone
        return Secrets(token=text)
    return Secrets.from_dict(json.loads(text))


def delete(home: Path, session_id: str) -> None:
    """Forget a session's secrets wherever they are."""
    with contextlib.suppress(FileNotFoundError):
        paths.token_file(home, session_id).unlink()
    kr = _keyring()
    if kr is not None:
        with contextlib.suppress(Exception):
            kr.delete_password(SERVICE, session_id)  # type: ignore[attr-defined]
