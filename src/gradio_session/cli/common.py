"""What the CLI's commands share: the Typer app, common options, and running the async API."""

from __future__ import annotations

from collections.abc import Coroutine
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Optional, TypeVar, get_args

import typer

from ..models import CallStatus, MaxCallsPolicy
from .output import Output

if TYPE_CHECKING:
    from ..aio import Session as AsyncSession

app = typer.Typer(
    name="gradio-session",
    help="Drive Gradio apps through named, persistent sessions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

T = TypeVar("T")
EXIT_EXPIRED = 75  # EX_TEMPFAIL: the call goes on, try again later
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
SessionOpt = Annotated[Optional[str], typer.Option("--session", "-s", help="Session name (default: the default session).")]


Policy = Enum("Policy", {p: p for p in get_args(MaxCallsPolicy)}, type=str)  # type: ignore[misc]
Status = Enum("Status", {s: s for s in get_args(CallStatus)}, type=str)  # type: ignore[misc]
GLOB = "*?["  # a name holding one of these is a pattern


def _version(value: bool) -> None:
    if value:
        from ..version import __version__

        print(f"gradio-session {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_version,
                                                help="Print the version and exit.")] = False) -> None:
    """Drive Gradio apps through named, persistent sessions."""


def _pick(name: str | None, session: str | None) -> str:
    """The session named by a positional NAME or by --session (not two different ones)."""
    if name is not None and session is not None and name != session:
        raise typer.BadParameter(f"two sessions given: {name!r} and --session {session!r}.",
                                 param_hint="'--session'")
    return name or session or "."


def _session(name: str | None) -> AsyncSession:
    return _run(_get(name))


async def _get(name: str | None) -> AsyncSession:
    from .. import aio

    return await aio.get_session(name or ".")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine of the async API to its end."""
    import asyncio

    return asyncio.run(coro)


def _print_session(s: AsyncSession, json_: bool) -> None:
    """A session with its counts of calls and uploads, as `show` and `set` print it."""
    Output(json_).session(s.record, s.repository.count_calls(s.id), s.repository.count_uploads(s.id))
