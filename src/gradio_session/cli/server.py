"""The CLI server: a background process that runs `call` commands for `gradio-session`
processes started in one directory with one environment (see `client.py`).

    python -m gradio_session.cli.server FOLDER KEY   (started without the caller's folder on its import path)

It listens on the Unix socket FOLDER/KEY (the folder is the user's alone; each client's user id
is checked too). Each connection is one command: its own thread parses and prints, its
coroutines run on one shared event loop, so connections to an app stay open between commands
and calls of one session share its stream. A connection sends one request line (at most
MAX_REQUEST bytes, within REQUEST_WAIT seconds), is told whether it is taken, and the command
runs when the client confirms. Output goes back as frames; Ctrl+C in the client, or the client
gone, cancels the command as Ctrl+C does in a process of its own. With no command for
GRADIO_SESSION_SERVER_IDLE seconds (60), the server leaves, and takes its files with it."""

from __future__ import annotations

import io
import json
import os
import queue
import signal
import socket
import sys
import threading
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TextIO, cast

from .. import paths, private
from . import terminal
from .client import CONTROL, GO, INTERRUPT, STDERR, STDOUT, in_folder, servable
from .terminal import Terminal

if TYPE_CHECKING:
    import asyncio

MAX_REQUEST = 1 << 20  # bytes of a request line
REQUEST_WAIT = 5.0  # seconds a connection gets to send its request, and to confirm it
STALE = 3600.0  # seconds after which another key's files, with no server, are swept away
SUFFIXES = (".lock", ".pid", ".log", ".last", "")


def main(folder: str, key: str) -> None:
    """Serve until idle, unless this directory's server runs already (it holds the lock). The
    lock is taken before the heavy imports, so a client knows at once that a server starts."""
    lock = _take_lock(os.path.join(folder, key + ".lock"))
    if lock is None:
        return
    try:
        _sweep(folder, key)
        _Server(folder, key).serve()
    finally:
        _clean(folder, key)
        os.close(lock)  # after the lock file is gone: a server starting now makes a new one


def _take_lock(path: str) -> int | None:
    """The flock of `path`, held; None when another server has it. A lock file swept away
    between open and flock is taken again from a new file."""
    import fcntl

    for _ in range(3):
        fd = private.open_file(path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)
    return None


def _clean(folder: str, key: str) -> None:
    """A leaving server's files: its socket, pid, stamp and lock; its log if it holds nothing."""
    base = os.path.join(folder, key)
    for suffix in (".pid", ".last", ""):
        _unlink(base + suffix)
    try:
        if os.path.getsize(base + ".log") == 0:
            _unlink(base + ".log")
    except OSError:
        pass
    _unlink(base + ".lock")


def _sweep(folder: str, key: str) -> None:
    """Files of servers of other keys that left long ago without their cleanup (killed)."""
    now = time.time()
    keys = {name.split(".")[0] for name in os.listdir(folder)} - {key}
    for other in keys:
        base = os.path.join(folder, other)
        if private.held(base + ".lock"):
            continue
        for suffix in SUFFIXES:
            try:
                if now - os.lstat(base + suffix).st_mtime > STALE:
                    _unlink(base + suffix)
            except OSError:
                pass


class _Server:
    def __init__(self, folder: str, key: str) -> None:
        self.folder, self.key = folder, key
        self.active = 0
        self.guard = threading.Lock()
        self.stale = False  # the directory was replaced: leave once idle

    def serve(self) -> None:
        from ..core.runtime import runtime  # the heavy imports, once the lock is ours
        from .app import run

        self.run = run
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # leave as when idle
        sys.stdout, sys.stderr = _Routed("stdout", sys.stdout), _Routed("stderr", sys.stderr)
        self.loop = runtime().loop()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._listen(sock)
            pid = private.open_file(os.path.join(self.folder, self.key + ".pid"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            with os.fdopen(pid, "w") as f:
                f.write(str(os.getpid()))
            self._accept(sock)
        finally:
            sock.close()

    def _listen(self, sock: socket.socket) -> None:
        def bind() -> None:
            _unlink(self.key)  # a socket left by a server that died
            sock.bind(self.key)

        old_mask = os.umask(0o077)  # the socket: the user's alone
        try:
            in_folder(self.folder, bind)
        finally:
            os.umask(old_mask)
        sock.listen(64)

    def _accept(self, sock: socket.socket) -> None:
        """A thread per connection, until no command came or ran for the idle time."""
        idle = paths.server_idle()
        sock.settimeout(min(idle, 1.0))
        quiet_since = time.monotonic()
        while True:
            try:
                conn, _ = sock.accept()
            except socket.timeout:
                with self.guard:
                    busy = self.active > 0
                if busy:
                    quiet_since = time.monotonic()
                elif self.stale or time.monotonic() - quiet_since >= idle:
                    return
                continue
            quiet_since = time.monotonic()
            if not private.same_user(conn):  # only the user's own processes reach the folder; root too
                conn.close()
                continue
            with self.guard:
                self.active += 1
            threading.Thread(target=self._command, args=(conn,), daemon=True).start()

    def _command(self, conn: socket.socket) -> None:
        """One client's command, from its request to its exit status."""
        sender = _Sender(conn)
        try:
            conn.settimeout(REQUEST_WAIT)
            reader = conn.makefile("rb")
            try:
                request = _request(reader.readline(MAX_REQUEST + 1))
            except OSError:  # it sent nothing in time
                return
            if request is None:
                return
            here = os.stat(".")
            if request["cwd"] != [here.st_dev, here.st_ino]:  # the directory is not ours any more
                self.stale = True
            if self.stale or not servable(request["argv"]):
                sender.control({"accepted": False})
                return
            sender.control({"accepted": True})
            try:
                go = reader.read(1)
            except OSError:
                return
            if go != GO:  # the client gave up waiting, and runs the command itself
                return
            conn.settimeout(None)
            self._run(request, sender, reader)
        except Exception:  # a bug: the client hears of it, as from a process of its own
            import traceback

            sender.data(STDERR, traceback.format_exc().encode())
            sender.control({"exit": 1})
        finally:
            sender.close()
            conn.close()
            with self.guard:
                self.active -= 1

    def _run(self, request: dict[str, Any], sender: _Sender, reader: Any) -> None:
        out_tty, err_tty = request["tty"]
        width = int(request["width"]) if request.get("width") else None
        runner = _Runner(self.loop)
        streams = [cast(TextIO, _Remote(sender, kind, tty)) for kind, tty in ((STDOUT, out_tty), (STDERR, err_tty))]
        term = Terminal(*streams, width=width, run=runner.run, served=True, environ=request["env"])
        runner.term = term
        threading.Thread(target=_watch, args=(reader, runner), daemon=True).start()
        terminal.use(term)
        sender.control({"exit": self.run(request["argv"])})


def _request(line: bytes) -> dict[str, Any] | None:
    """The client's request, if it is one: a whole line of JSON with the fields a command needs."""
    if not line.endswith(b"\n"):
        return None  # too long, or the client stopped sending
    try:
        request = json.loads(line)
    except ValueError:
        return None
    if not isinstance(request, dict):
        return None
    argv, env, tty = request.get("argv"), request.get("env"), request.get("tty")
    if not (isinstance(argv, list) and all(isinstance(a, str) for a in argv) and isinstance(env, dict)
            and all(isinstance(v, str) for v in env.values()) and isinstance(tty, list) and len(tty) == 2
            and isinstance(request.get("cwd"), list)):
        return None
    return request


def _watch(reader: Any, runner: _Runner) -> None:
    """Ctrl+C from the client, or the client gone: interrupt its command."""
    try:
        got = reader.read(1)
    except OSError:
        got = b""
    if got in (INTERRUPT, b""):
        runner.interrupt()


class _Runner:
    """Runs a command's coroutines on the shared loop; an interrupt cancels the one running,
    which cleans up (cancels its call on the server) before the command sees KeyboardInterrupt."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.term: Terminal | None = None
        self.task: asyncio.Task[Any] | None = None
        self.interrupted = False

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        import asyncio
        import concurrent.futures

        async def main() -> Any:
            if self.term is not None:
                terminal.use(self.term)  # the task's own context: warnings printed in it go to the client
            self.task = asyncio.current_task()
            if self.interrupted:
                coro.close()
                raise asyncio.CancelledError
            return await coro

        if self.interrupted:
            coro.close()
            raise KeyboardInterrupt
        future = asyncio.run_coroutine_threadsafe(main(), self.loop)
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            raise KeyboardInterrupt from None
        finally:
            self.task = None

    def interrupt(self) -> None:
        self.interrupted = True
        task = self.task
        if task is not None:
            self.loop.call_soon_threadsafe(task.cancel)


class _Sender:
    """Frames to the client from any thread, sent by a thread of its own: a client slow to read
    never blocks the shared loop."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.frames: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._send, daemon=True)
        self.thread.start()

    def data(self, kind: int, data: bytes) -> None:
        self.frames.put(bytes([kind]) + len(data).to_bytes(4, "big") + data)

    def control(self, message: dict[str, Any]) -> None:
        self.data(CONTROL, json.dumps(message).encode())

    def close(self) -> None:
        self.frames.put(None)
        self.thread.join()

    def _send(self) -> None:
        while (frame := self.frames.get()) is not None:
            try:
                self.conn.sendall(frame)
            except OSError:
                pass  # the client left: the rest is dropped


class _Remote(io.TextIOBase):
    """The client's stdout or stderr, as a text stream."""

    def __init__(self, sender: _Sender, kind: int, tty: bool) -> None:
        self.sender, self.kind, self.tty = sender, kind, tty

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # click probes for a binary stream by writing b""
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if text:
            self.sender.data(self.kind, text.encode("utf-8", "replace"))
        return len(text)

    def isatty(self) -> bool:
        return self.tty


class _Routed(io.TextIOBase):
    """sys.stdout or sys.stderr: the client's stream when written from a command (click's own
    help and messages print there), else the server's log."""

    def __init__(self, name: str, own: Any) -> None:
        self.name, self.own = name, own

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def _target(self) -> Any:
        term = terminal.active()
        return getattr(term, self.name) if term is not None else self.own

    def write(self, text: str) -> int:
        return int(self._target().write(text))

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        return bool(self._target().isatty())


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
