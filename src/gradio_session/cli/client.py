"""The `gradio-session` entry point. A `call` goes to the CLI server of this directory when one
runs: a warm process makes the call while this one only relays its output, so a shell script's
calls skip Python's imports. Otherwise the first cold `call` starts a server for the next ones
and runs its own command here meanwhile (see `server.py`).

A server is trusted only when it is this user's (its folder checked, its peer id on the socket),
and it runs a command only after this client confirmed it: a server that does not answer
within ACCEPT seconds (stopped, stuck) is left, and the command runs here, once.

Only the standard library is imported on the served path."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Callable, NoReturn

from .. import private
from ..errors import RepositoryError

if TYPE_CHECKING:
    import socket

SERVED = ("call",)
ACCEPT = 3.0  # seconds a server gets to take a command before it runs here instead
STARTING = 5.0  # seconds a server just started gets to listen before a call runs here instead
# What changes what a call does, so a server runs only commands of its own environment; how the
# output looks (colors, width, tracebacks) is sent with each command instead (REQUEST_ENV).
KEY_ENV_PREFIXES = ("GRADIO_SESSION_", "HF_", "HUGGING_FACE_", "SSL_", "XDG_", "LC_")
KEY_ENV = ("HOME", "LANG", "PYTHONPATH", "PYTHONSAFEPATH", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
           "NO_PROXY", "no_proxy")
REQUEST_ENV = ("TERM", "COLORTERM", "NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES", "GRADIO_SESSION_DEBUG")
NOT_KEY = ("GRADIO_SESSION_DEBUG", "GRADIO_SESSION_SERVER", "GRADIO_SESSION_SERVER_IDLE", "GRADIO_SESSION_TOKEN")
CONTROL, STDOUT, STDERR = 0, 1, 2  # frame kinds, server to client
INTERRUPT, GO = b"i", b"g"  # client to server: Ctrl+C; run the command you accepted


def server_key() -> str:
    """What a server must share with this process to run its commands: the same Python and
    gradio-session, directory, and the environment variables that change what a call does."""
    import hashlib
    import json

    from ..version import __version__

    env = {k: v for k, v in os.environ.items()
           if (k.startswith(KEY_ENV_PREFIXES) or k in KEY_ENV or k.lower().endswith("_proxy")) and k not in NOT_KEY}
    facts = [__version__, sys.executable, os.getcwd(), sorted(env.items())]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:16]


def servable(argv: list[str]) -> bool:
    """Whether a server may run this command: a `call` that does not read this process's stdin."""
    return bool(argv) and argv[0] in SERVED and not any(a == "--map" or a.startswith("--map=") for a in argv)


def _server(argv: list[str]) -> tuple[str, str] | None:
    """(folder, key) of the server for this command, or None when it runs here only;
    RepositoryError when the repository or its servers' folder is not the user's alone."""
    if not servable(argv) or not hasattr(os, "fork"):  # POSIX: Unix sockets, flock
        return None
    from .. import paths

    if os.environ.get(paths.SERVER_ENV, "1").lower() in ("0", "no", "off", "false"):
        return None
    try:
        home = private.folder(paths.home())
        return str(private.folder(paths.servers(home)).absolute()), server_key()
    except OSError:  # no working directory any more: the command says so itself
        return None


def in_folder(folder: str, action: Callable[[], object]) -> object:
    """Run `action()` with `folder` as the working directory, then come back: a socket is named
    relative to its folder, as a full path may pass the 107 bytes a Unix socket name allows."""
    back = os.open(".", os.O_RDONLY)
    try:
        os.chdir(folder)
        return action()
    finally:
        os.fchdir(back)
        os.close(back)


def _ask_server(folder: str, key: str, argv: list[str]) -> int | None:
    """Run the command in the server: its exit status, or None when no server took it (then
    nothing was done and the command runs here)."""
    import json
    import signal

    conn = _connect(folder, key)
    if conn is None:
        return None
    try:
        here = os.stat(".")
        columns = os.environ.get("COLUMNS", "")
        width = int(columns) if columns.isdigit() else _width()
        request = {"argv": argv, "tty": [sys.stdout.isatty(), sys.stderr.isatty()], "width": width,
                   "cwd": [here.st_dev, here.st_ino], "env": {k: os.environ[k] for k in REQUEST_ENV if k in os.environ}}
        conn.sendall(json.dumps(request).encode() + b"\n")
        reader = conn.makefile("rb")
        first = _frame(reader)
        if first is None or first[0] != CONTROL or not json.loads(first[1]).get("accepted"):
            conn.close()
            return None
        conn.sendall(GO)  # from here on the command is the server's: it never runs here too
        conn.settimeout(None)
    except (OSError, ValueError):  # refused, stopped or stuck (no answer in ACCEPT seconds): never ran
        conn.close()
        return None

    def interrupt(_signum: int, _frame: object) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl+C leaves at once
        try:
            conn.sendall(INTERRUPT)
        except OSError:
            pass

    signal.signal(signal.SIGINT, interrupt)
    try:
        while (frame := _frame(reader)) is not None:
            kind, data = frame
            if kind == CONTROL:
                return int(json.loads(data)["exit"])
            stream = sys.stdout if kind == STDOUT else sys.stderr
            stream.buffer.write(data)
            stream.flush()
    except KeyboardInterrupt:
        return 130
    except OSError:
        pass
    sys.stderr.write("Error: the gradio-session server stopped during the command; see "
                     "`gradio-session calls` for what the call did.\n")
    return 1


def _connect(folder: str, key: str) -> socket.socket | None:
    """A connection to this user's server for the key, waiting for one that is starting (it
    holds its lock, or was started a moment ago); None when there is none."""
    import socket
    import time

    deadline = time.monotonic() + STARTING
    while True:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(ACCEPT)
        try:
            in_folder(folder, lambda: conn.connect(key))
        except (FileNotFoundError, ConnectionRefusedError):
            conn.close()
            if time.monotonic() < deadline and _starting(folder, key):
                time.sleep(0.02)
                continue
            return None
        except OSError:
            conn.close()
            return None
        if not private.same_user(conn):  # another user's socket in our folder: never talk to it
            conn.close()
            return None
        return conn


def _starting(folder: str, key: str) -> bool:
    """A server for the key runs (its lock is held) or was started less than a second ago."""
    import time

    path = os.path.join(folder, key)
    return private.held(path + ".lock") or time.time() - _mtime(path + ".log") < 1.0


def _frame(reader: object) -> tuple[int, bytes] | None:
    """One frame from the server (kind byte, 4-byte length, data); None at the end."""
    head = reader.read(5)  # type: ignore[attr-defined]
    if len(head) < 5:
        return None
    data = reader.read(int.from_bytes(head[1:], "big"))  # type: ignore[attr-defined]
    return head[0], data


def _width() -> int | None:
    for fd in (2, 1):
        try:
            return os.get_terminal_size(fd).columns
        except OSError:
            continue
    return None


def _start_server(folder: str, key: str) -> None:
    """After a cold `call` found no server: start one for the next calls (it leaves after
    GRADIO_SESSION_SERVER_IDLE seconds without any). Not when one runs or starts already."""
    import subprocess
    import time

    log = os.path.join(folder, key + ".log")
    if private.held(os.path.join(folder, key + ".lock")) or time.time() - _mtime(log) < STARTING:
        return
    out = private.open_file(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.utime(out)
        subprocess.Popen(private.python_command("gradio_session.cli.server", folder, key),
                         stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    finally:
        os.close(out)


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def main() -> NoReturn:
    """`gradio-session ARGS...`: through this directory's CLI server when it runs, else here."""
    argv = sys.argv[1:]
    try:
        server = _server(argv)
    except RepositoryError as exc:  # another user's folder, or one others could write
        sys.stderr.write(f"Error: {exc}\n")
        sys.exit(1)
    if server is not None:
        try:
            code = _ask_server(*server, argv)
        except KeyboardInterrupt:  # before a server took the command: nothing was done
            sys.exit(130)
        if code is not None:
            sys.exit(code)
        try:
            _start_server(*server)  # it imports while this command runs here: the next call is served
        except (OSError, RepositoryError):
            pass  # no server: the next call runs here too
    from .app import run

    sys.exit(run(argv))  # Ctrl+C in here is the command's: it says "Interrupted." and gives 130
