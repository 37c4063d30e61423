"""What the CLI's commands share: the click group, common options, shell completion, and
running the async API. Light to import: `--help` loads click and nothing of the HTTP machinery."""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .output import Output, printable
from .terminal import current

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

    from ..aio import Session as AsyncSession

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
EXIT_EXPIRED = 75  # EX_TEMPFAIL: the call goes on, try again later
GLOB = "*?["  # a name holding one of these is a pattern
# a word no shell reads as more than itself (bash's completion inserts it unquoted); not an option
_SHELL_WORD = re.compile(r"[\w.][\w.@%+,:=/-]*")
# The models' Literal values, spelled here so `--help` need not import the models.
POLICIES = ("error", "warning", "remove")
STATUSES = ("queued", "running", "heartbeat_expired", "complete", "error", "failed", "cancelled",
            "timed_out", "interrupted")


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from ..version import __version__

        click.echo(f"gradio-session {__version__}")
        ctx.exit()


class _Formatter(click.HelpFormatter):
    """Help as wide as the terminal (the client's, for a command the CLI server runs), found
    without click's `shutil` (its import pulls in bz2 and lzma: a tenth of `--help`)."""

    def __init__(self, indent_increment: int = 2, width: int | None = None, max_width: int | None = None) -> None:
        if width is None:
            term = current()
            width = max(min(term.width or _columns(term.stdout), max_width or 80) - 2, 50)
        super().__init__(indent_increment, width, max_width)


def _columns(stream: Any) -> int:
    """$COLUMNS, else the stream's terminal's width, else 80 (what `shutil` would say)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return 80


class _Context(click.Context):
    formatter_class = _Formatter


class Command(click.Command):
    context_class = _Context


class Group(click.Group):
    """The commands in the order they are defined (session commands, then calls), not sorted."""

    context_class = _Context
    command_class = Command

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Each command with its whole first paragraph, wrapped rather than cut short."""
        rows = [(name, inspect.cleandoc(cmd.help or "").split("\n\n")[0].replace("\n", " "))
                for name, cmd in self.commands.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(name="gradio-session", cls=Group, no_args_is_help=True,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_version,
              help="Print the version and exit.")
def app() -> None:
    """Drive Gradio apps through named, persistent sessions."""


def _records() -> list[Any]:
    """The recorded sessions, for completion (no network), or none when there is no repository."""
    import asyncio

    from .. import aio, paths

    if not paths.database(paths.home()).exists():
        return []
    return [s.record for s in asyncio.run(aio.list_sessions("*"))]


def complete_sessions(_ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Session names for shell completion."""
    from click.shell_completion import CompletionItem

    try:
        records = _records()
    except Exception:  # completion must never print a traceback into the shell
        return []
    return [CompletionItem(r.name, help=printable(r.app_url)) for r in records
            if r.name.startswith(incomplete) and shell_word(r.name)]


def complete_endpoints(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The endpoint names of the session given so far (or the default one)."""
    from click.shell_completion import CompletionItem

    try:
        wanted = ctx.params.get("session")
        record = next((r for r in _records() if r.name == wanted or (wanted is None and r.is_default)), None)
    except Exception:
        return []
    if record is None:
        return []
    names = [name.lstrip("/") for name in record.app.endpoints]
    return [CompletionItem(n) for n in names if n.startswith(incomplete.lstrip("/")) and shell_word(n)]


def shell_word(name: str) -> bool:
    """Whether a name may be offered for completion: only letters, digits and `_.@%+,:=/-`,
    not starting with `-` (an option) nor any other mark, so it is never code (`$(...)`, a
    backtick, `;`), never split or globbed, never a home (`~`). An app names its endpoints: the
    others are typed by hand."""
    return _SHELL_WORD.fullmatch(name) is not None


def json_option(f: F) -> F:
    return click.option("--json", "json_", is_flag=True, help="Print JSON for scripts.")(f)


def session_option(f: F) -> F:
    return click.option("--session", "-s", metavar="NAME", shell_complete=complete_sessions,
                        help="Session name (default: the default session).")(f)


def session_argument(help: str) -> Callable[[F], F]:  # noqa: A002
    """An optional positional session name (`show NAME`)."""
    return click.argument("name", required=False, shell_complete=complete_sessions, help=help)


def _pick(name: str | None, session: str | None) -> str:
    """The session named by a positional NAME or by --session (not two different ones)."""
    if name is not None and session is not None and name != session:
        raise click.BadParameter(f"two sessions given: {name!r} and --session {session!r}.",
                                 param_hint="'--session'")
    return name or session or "."


def _session(name: str | None) -> AsyncSession:
    return _run(_get(name))


async def _get(name: str | None) -> AsyncSession:
    from .. import aio

    return await aio.get_session(name or ".")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine of the async API to its end (here, or on the CLI server's loop)."""
    return current().run(coro)  # type: ignore[no-any-return]


@asynccontextmanager
async def _using(s: AsyncSession) -> AsyncIterator[AsyncSession]:
    """Use a session for one command: closed after it, except in the CLI server, where its
    connection stays open for the next command (only what it recorded is flushed)."""
    try:
        yield s
    finally:
        await (s.store.flush() if current().served else s.aclose())


def _print_session(s: AsyncSession, json_: bool, *, space_now: dict[str, Any] | None = None) -> None:
    """A session with its counts of calls and uploads and its last login, as `show` and `set` print it."""
    logins = s.repository.logins.recent(s.id, 1)
    Output(json_).session(s.record, s.repository.count_calls(s.id), s.repository.count_uploads(s.id),
                          space_now=space_now, last_login=logins[0] if logins else None)
