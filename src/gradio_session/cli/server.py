"""The CLI server: a background process that runs `call` commands for `gradio-session`
processes started in one directory with one environment (see `client.py`).

    python -m gradio_session.cli.server FOLDER KEY

It listens on the Unix socket FOLDER/KEY (the folder is the user's alone). Each connection is one
command: its own thread parses and prints, its coroutines run on one shared event loop, so
connections to an app stay open between commands and calls of one session share its stream.
Output goes back to the client as frames; Ctrl+C in the client, or the client gone, cancels
the command as Ctrl+C does in a process of its own. With no command for
GRADIO_SESSION_SERVER_IDLE seconds (60), the server leaves."""

from __future__ import annotations

import asyncio
import concurrent.futures
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
from pathlib import Path
from typing import Any, TextIO, cast

from .. import paths
from ..core.locks import file_lock
from ..core.runtime import runtime
from . import terminal
from .app import run
from .client import CONTROL, INTERRUPT, STDERR, STDOUT, in_folder
from .terminal import Terminal


def main(folder: str, key: str) -> None:
    """Serve until idle, unless this directory's server runs already (it holds the lock)."""
    lock = file_lock(Path(folder) / (key + ".lock"))
    if not lock.acquire():
        return
    try:
        _Server(folder, key).serve()
    finally:
        lock.release()


class _Server:
    def __init__(self, folder: str, key: str) -> None:
        self.folder, self.key = folder, key
        self.active = 0
        self.guard = threading.Lock()
        self.stale = False  # the directory was replaced: leave once idle

    def serve(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # leave as when idle
        sys.stdout, sys.stderr = _Routed("stdout", sys.stdout), _Routed("stderr", sys.stderr)
        self.loop = runtime().loop()
        pid_file = os.path.join(self.folder, self.key + ".pid")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._listen(sock)
            with open(pid_file, "w") as f:
                f.write(str(os.getpid()))
            self._accept(sock)
        finally:
            sock.close()
            in_folder(self.folder, lambda: _unlink(self.key))
            _unlink(pid_file)

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
            with self.guard:
                self.active += 1
            threading.Thread(target=self._command, args=(conn,), daemon=True).start()

    def _command(self, conn: socket.socket) -> None:
        """One client's command, from its request to its exit status."""
        sender = _Sender(conn)
        try:
            reader = conn.makefile("rb")
            request = json.loads(reader.readline())
            here = os.stat(".")
            if request["cwd"] != [here.st_dev, here.st_ino]:  # the directory is not ours any more
                self.stale = True
                sender.control({"accepted": False})
                return
            sender.control({"accepted": True})
            out_tty, err_tty = request["tty"]
            width = int(request["width"]) if request.get("width") else None
            runner = _Runner(self.loop)
            streams = [cast(TextIO, _Remote(sender, kind, tty)) for kind, tty in ((STDOUT, out_tty), (STDERR, err_tty))]
            term = Terminal(*streams, width=width, run=runner.run, served=True)
            runner.term = term
            threading.Thread(target=_watch, args=(reader, runner), daemon=True).start()
            terminal.use(term)
            sender.control({"exit": run(request["argv"])})
        except Exception as exc:  # a bad request, or a bug: the client hears of it
            sender.data(STDERR, f"Error: the gradio-session server failed: {exc}\n".encode())
            sender.control({"exit": 1})
        finally:
            sender.close()
            conn.close()
            with self.guard:
                self.active -= 1


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
