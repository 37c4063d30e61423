"""The `gradio-session` entry point. A `call` goes to the CLI server of this directory when one
runs: a warm process makes the call while this one only relays its output, so a shell script's
calls skip Python's imports. Otherwise the command runs here, and a second cold `call` within
WINDOW seconds starts a server for the next ones (see `server.py`).

Only the standard library is imported on the served path."""

from __future__ import annotations

import os
import sys
from typing import Callable, NoReturn

SERVED = ("call",)
WINDOW = 30.0  # seconds: a cold `call` this soon after another starts a server
STARTING = 5.0  # seconds a server just started is given to take its lock
KEY_ENV_PREFIXES = ("GRADIO_SESSION_", "HF_", "HUGGING_FACE_", "SSL_", "XDG_", "LC_")
KEY_ENV = ("HOME", "LANG", "TERM", "COLORTERM", "NO_COLOR", "FORCE_COLOR", "PYTHONPATH", "PATH",
           "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NO_PROXY", "no_proxy")
CONTROL, STDOUT, STDERR = 0, 1, 2  # frame kinds, server to client
INTERRUPT = b"i"  # client to server: Ctrl+C


def server_key() -> str:
    """What a server must share with this process to run its commands: the same Python and
    gradio-session, directory, and the environment variables that change what a call does."""
    import hashlib
    import json

    from ..version import __version__

    env = {k: v for k, v in os.environ.items()
           if k.startswith(KEY_ENV_PREFIXES) or k in KEY_ENV or k.lower().endswith("_proxy")}
    facts = [__version__, sys.executable, os.getcwd(), sorted(env.items())]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:16]


def _server(argv: list[str]) -> tuple[str, str] | None:
    """(folder, key) of the server for this command, or None when it runs here only."""
    if not argv or argv[0] not in SERVED or not hasattr(os, "fork"):  # POSIX: Unix sockets, flock
        return None
    if any(arg == "--map" or arg.startswith("--map=") for arg in argv):  # it reads this process's stdin
        return None
    from .. import paths

    if os.environ.get(paths.SERVER_ENV, "1").lower() in ("0", "no", "off", "false"):
        return None
    try:
        return str(paths.servers(paths.home()).absolute()), server_key()
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
    import socket

    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        in_folder(folder, lambda: conn.connect(key))
        here = os.stat(".")
        columns = os.environ.get("COLUMNS", "")
        width = int(columns) if columns.isdigit() else _width()
        request = {"argv": argv, "tty": [sys.stdout.isatty(), sys.stderr.isatty()], "width": width,
                   "cwd": [here.st_dev, here.st_ino]}
        conn.sendall(json.dumps(request).encode() + b"\n")
        reader = conn.makefile("rb")
        first = _frame(reader)
    except OSError:
        conn.close()
        return None
    if first is None or first[0] != CONTROL or not json.loads(first[1]).get("accepted"):
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
    """After a cold `call`: start this directory's server if the previous cold call was recent
    (a script calling in a loop), so a lone call leaves no process behind. Not when one runs
    (its lock is taken) or was started moments ago (it is still importing)."""
    import time

    os.makedirs(folder, mode=0o700, exist_ok=True)
    stamp, log = (os.path.join(folder, key + suffix) for suffix in (".last", ".log"))
    now = time.time()
    recent = now - _mtime(stamp) < WINDOW
    with open(stamp, "a"):
        os.utime(stamp)
    if not recent or now - _mtime(log) < STARTING:
        return
    from ..core.locks import held  # asyncio is loaded by now: the command ran here

    if held(os.path.join(folder, key + ".lock")):
        return
    import subprocess

    with open(log, "ab") as out:
        os.utime(log)
        subprocess.Popen([sys.executable, "-m", "gradio_session.cli.server", folder, key],
                         stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def main() -> NoReturn:
    """`gradio-session ARGS...`: through this directory's CLI server when it runs, else here."""
    argv = sys.argv[1:]
    server = _server(argv)
    if server is not None:
        try:
            code = _ask_server(*server, argv)
        except KeyboardInterrupt:  # before a server took the command: nothing was done
            sys.exit(130)
        if code is not None:
            sys.exit(code)
    from .app import run

    code = run(argv)  # Ctrl+C in here is the command's: it says "Interrupted." and gives 130
    if server is not None:
        try:
            _start_server(*server)
        except OSError:
            pass  # no server: the next call runs here too
    sys.exit(code)
