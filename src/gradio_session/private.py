"""What keeps the repository its user's alone, against other local users: folders checked for
their owner and mode (and their parents for who could swap them), files created 0600 without
following links, the peer of a Unix socket checked, and background processes started so that
the caller's folder is never on their import path.

Standard library only: the CLI client uses it before it imports anything else."""

from __future__ import annotations

import os
import socket
import stat
import struct
import sys
from pathlib import Path

from .errors import RepositoryError

_HINT = "Use a folder of your own: set GRADIO_SESSION_HOME, or fix it with chmod 700."
_checked: set[str] = set()  # folders found private in this process: they stay so (their parents can't be swapped)


def folder(path: Path) -> Path:
    """`path`, created 0700 if missing, once checked: owned by this user and writable by nobody
    else, and no parent that another user could rename it out of (owned by them, or writable by
    others without the sticky bit). Read-only access of others is taken away. RepositoryError,
    naming the folder, when it is not the user's."""
    key = str(path)
    if key in _checked:
        return path
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    except OSError as exc:
        raise RepositoryError(f"Can't create the folder {path}: {exc.strerror or exc}. {_HINT}") from exc
    if not hasattr(os, "geteuid"):  # Windows: a user's profile folders are private
        return path
    me = os.geteuid()
    try:
        _check_parents(path, me)
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            _owned(path, info, me, "a symbolic link")
            info = os.stat(path)
        if not stat.S_ISDIR(info.st_mode):
            raise RepositoryError(f"{path} is not a folder. {_HINT}")
        _owned(path, info, me, "the folder")
        if info.st_mode & 0o022:
            raise RepositoryError(f"The folder {path} is writable by other users "
                                  f"(mode {stat.S_IMODE(info.st_mode):o}): they could read or replace what it holds. {_HINT}")
        if info.st_mode & 0o077:
            _tighten(path, info.st_mode)  # made readable by others by an older gradio-session
    except OSError as exc:
        raise RepositoryError(f"Can't check the folder {path}: {exc.strerror or exc}.") from exc
    _checked.add(key)
    return path


def _owned(path: Path, info: os.stat_result, me: int, what: str) -> None:
    if info.st_uid != me:
        raise RepositoryError(f"{what[0].upper()}{what[1:]} {path} belongs to another user (uid {info.st_uid}), "
                              f"not you (uid {me}). {_HINT}")


def _check_parents(path: Path, me: int) -> None:
    """Each folder above `path`, as written and as its links lead: owned by root or the user, and
    not open to others' renames (writable by group or others only with the sticky bit, as /tmp)."""
    chains = {path.absolute(), Path(os.path.realpath(path))}
    for chain in chains:
        for parent in chain.parents:
            info = os.lstat(parent)
            if info.st_uid not in (0, me):
                raise RepositoryError(f"The folder {parent}, above {path}, belongs to another user "
                                      f"(uid {info.st_uid}): they could swap what it holds. {_HINT}")
            if stat.S_ISDIR(info.st_mode) and info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
                raise RepositoryError(f"The folder {parent}, above {path}, is writable by other users "
                                      f"(mode {stat.S_IMODE(info.st_mode):o}): they could swap what it holds. {_HINT}")


def open_file(path: Path | str, flags: int, mode: int = 0o600) -> int:
    """`os.open` for a file of the repository: 0600 when created, never through a symbolic link
    (another user's link to `~/.bashrc` must not be written through)."""
    nofollow = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        return os.open(path, flags | nofollow, mode)
    except OSError as exc:
        if os.path.islink(path):
            raise RepositoryError(f"{path} is a symbolic link; refusing to open it. Remove it.") from exc
        raise


def _tighten(path: Path | str, mode: int) -> None:
    """Take group's and others' rights away, the user's stay (a read-only folder stays so)."""
    try:
        os.chmod(path, stat.S_IMODE(mode) & 0o700)
    except PermissionError:  # immutable: nobody writes it, and what it held was readable before
        pass


def private_file(path: Path) -> None:
    """Create `path` empty and 0600 if it is missing (SQLite then makes its journal files alike);
    an existing one, and its SQLite journals, lose group's and others' rights."""
    os.close(open_file(path, os.O_RDONLY | os.O_CREAT))
    if not hasattr(os, "geteuid"):
        return
    for name in (str(path), f"{path}-wal", f"{path}-shm", f"{path}-journal"):
        try:
            mode = os.lstat(name).st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISREG(mode) and mode & 0o077:
            _tighten(name, mode)


def held(path: Path | str) -> bool:
    """Whether a process holds the flock of `path` (POSIX), seen by taking a shared lock for an
    instant: many lookers at once never make each other see a holder that isn't there."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:  # no file: nobody ever held it; a link: not a lock of ours
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the shared lock
    return False


def peer_uid(sock: socket.socket) -> int | None:
    """The user id of the process at the other end of a Unix socket; None where the platform
    can't say (then only the socket's private folder guards it)."""
    if hasattr(socket, "SO_PEERCRED"):  # Linux: struct ucred {pid, uid, gid}
        _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
        return int(uid)
    if hasattr(socket, "LOCAL_PEERCRED"):  # BSD, macOS: struct xucred {version, uid, ngroups, groups}
        raw = sock.getsockopt(0, socket.LOCAL_PEERCRED, 76)
        return int(struct.unpack_from("Ii", raw)[1])
    return None


def same_user(sock: socket.socket) -> bool:
    """Whether the other end of a Unix socket runs as this user (always, where it can't be told)."""
    uid = peer_uid(sock)
    return uid is None or uid == os.geteuid()


LAUNCH = ("import sys\n"
          "if sys.path and sys.path[0] in ('', '.'): del sys.path[0]\n"  # the caller's folder
          "from gradio_session.private import without_httpx_cli; without_httpx_cli()\n"
          "import runpy; runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)")


def without_httpx_cli() -> None:
    """Our background processes leave out httpx's command line (the CLI does in `cli/app.py`):
    `import httpx` loads it, with click, rich and pygments, whenever they are installed, as they
    are with us; 6 MB of a holder. `httpx.main` then says it can't run."""
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # None: "not importable"


def python_command(module: str, *args: str) -> list[str]:
    """The command that runs `python -m module args...` without the current folder on the import
    path: a `queue.py` or `json.py` there (a downloaded result, say) never runs as the user."""
    return [sys.executable, "-c", LAUNCH, module, *args]
