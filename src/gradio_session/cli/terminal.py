"""Where a command's output goes and how its coroutines run: this process's own streams and
`asyncio.run`, or - for a command the CLI server runs for a client - the client's streams and
the server's shared event loop."""

from __future__ import annotations

import os
import sys
from collections.abc import Coroutine, Mapping
from contextvars import ContextVar
from typing import Any, Callable, TextIO

from ..paths import DEBUG_ENV


def _run_here(coro: Coroutine[Any, Any, Any]) -> Any:
    import asyncio

    return asyncio.run(coro)


class Terminal:
    """A command's stdout and stderr (their `isatty()` says whether each is a terminal) and its
    width (None: ask the stream). `run` runs one coroutine of the async API to its end; `served`
    says the command runs in the CLI server, whose connections outlive the command; `environ`
    holds the variables of how output looks (colors, tracebacks): the client's, when served."""

    def __init__(self, stdout: TextIO, stderr: TextIO, *, width: int | None = None,
                 run: Callable[[Coroutine[Any, Any, Any]], Any] = _run_here, served: bool = False,
                 environ: Mapping[str, str] | None = None) -> None:
        self.stdout, self.stderr, self.width, self.run, self.served = stdout, stderr, width, run, served
        self.environ: Mapping[str, str] = os.environ if environ is None else environ

    @property
    def debug(self) -> bool:
        """GRADIO_SESSION_DEBUG is set: errors show their traceback."""
        return bool(self.environ.get(DEBUG_ENV))


_current: ContextVar[Terminal | None] = ContextVar("gradio_session_terminal", default=None)


def current() -> Terminal:
    """The terminal of the command running here: the client's in the server, else ours."""
    return _current.get() or Terminal(sys.stdout, sys.stderr)


def active() -> Terminal | None:
    """The terminal a command set here, if any."""
    return _current.get()


def use(terminal: Terminal) -> None:
    """Send this thread's (or task's) command output to `terminal`."""
    _current.set(terminal)
