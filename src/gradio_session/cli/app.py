"""The `gradio-session` command: one error boundary around Typer commands.

The session machinery (httpx, SQLite) is imported inside the commands, so `--help` stays fast.
"""

from __future__ import annotations

import sys
import warnings
from contextlib import nullcontext
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, Optional

import typer

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

EXIT_EXPIRED = 75  # EX_TEMPFAIL: the call goes on, try again later
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
SessionOpt = Annotated[Optional[str], typer.Option("--session", "-s", help="Session name (default: the default session).")]


class Policy(str, Enum):
    error = "error"
    warning = "warning"
    remove = "remove"


def _session(name: str | None) -> AsyncSession:
    from .. import aio

    return aio.get_session(name or ".")


def _print_session(s: AsyncSession, json_: bool) -> None:
    """A session with its counts of calls and uploads, as `show` and `set` print it."""
    Output(json_).session(s.record, s.repository.count_calls(s.id), s.repository.count_uploads(s.id))


@app.command()
def new(
    app_url: Annotated[str, typer.Argument(metavar="APP", help="URL of the Gradio app.")],
    name: Annotated[Optional[str], typer.Option(help="Session name (default: from the URL).")] = None,
    download_path: Annotated[Optional[str], typer.Option(help="Folder for downloaded files.")] = None,
    force: Annotated[bool, typer.Option(help="Re-create a session of the same name.")] = False,
    token: Annotated[Optional[str], typer.Option(help="Token for the app (kept in the OS keyring or a 0600 file).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Create a session for a Gradio app (probes it first)."""
    import asyncio

    from .. import aio

    out = Output(json_)
    s = asyncio.run(aio.new_session(app_url, name=name, download_path=download_path, force=force, token=token))
    record = s.repository.get_session(s.id)
    if json_:
        out.data(record.to_dict())
    else:
        out.out.print(f"Created session [bold]{record.name}[/] for {record.app_url} "
                      f"(Gradio {record.app.version}, {len(record.app.endpoints)} endpoints)"
                      + (", the default" if record.is_default else "") + ".")


@app.command("list")
def list_(
    pattern: Annotated[str, typer.Argument(help="Glob pattern on names; '.' for the default.")] = "*",
    json_: JsonOpt = False,
) -> None:
    """List sessions (the default one is starred)."""
    from .. import aio

    Output(json_).sessions([s.record for s in aio.list_sessions(pattern)])


@app.command()
def show(
    name: Annotated[str, typer.Argument(help="Session name or id; '.' for the default.")] = ".",
    json_: JsonOpt = False,
) -> None:
    """Show one session."""
    s = _session(name)
    _print_session(s, json_)


@app.command()
def use(name: Annotated[str, typer.Argument(help="Session name or id.")]) -> None:
    """Make a session the default."""
    from .. import aio

    s = aio.set_default(name)
    Output().message(f"{s.name} is now the default session.")


@app.command()
def remove(
    pattern: Annotated[str, typer.Argument(metavar="NAME_OR_PATTERN", help="Name, id or glob pattern.")],
) -> None:
    """Remove sessions with their recorded calls."""
    from .. import aio

    names = aio.remove_session(pattern)
    Output().message(f"Removed {len(names)} session(s): {', '.join(names)}.")


@app.command("set")
def set_(
    name: Annotated[str, typer.Argument(help="Session name; '.' for the default.")] = ".",
    max_calls: Annotated[Optional[int], typer.Option(help="Most calls kept (0: no limit).")] = None,
    max_calls_policy: Annotated[Optional[Policy], typer.Option(help="At max_calls: error, warning or remove the oldest.")] = None,
    download_path: Annotated[Optional[str], typer.Option(help="Folder for downloaded files ('' to unset).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Change a session's options."""
    from .. import aio

    options: dict[str, Any] = {}
    if max_calls is not None:
        if max_calls < 0:
            raise typer.BadParameter("--max-calls can't be negative.")
        options["max_calls"] = max_calls or None
    if max_calls_policy is not None:
        options["max_calls_policy"] = max_calls_policy.value
    if download_path is not None:
        options["download_path"] = download_path or None
    s = aio.set_options(name, **options)
    _print_session(s, json_)


@app.command()
def api(
    endpoint: Annotated[Optional[str], typer.Argument(help="One endpoint (default: all).")] = None,
    session: SessionOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Show the app's endpoints, their parameters and returns."""
    s = _session(session)
    endpoints = [s.endpoint(endpoint)] if endpoint else list(s.app.endpoints.values())
    Output(json_).endpoints(endpoints)


HeartbeatsOpt = Annotated[Optional[int], typer.Option(
    min=1, help=f"Stop waiting after N heartbeats in a row (exit {EXIT_EXPIRED}); the call goes on in the "
                "background: continue with `result EVENT_ID --after K`.")]


@app.command()
def call(
    endpoint: Annotated[str, typer.Argument(help="Endpoint name, with or without the leading '/'.")],
    values: Annotated[Optional[list[str]], typer.Argument(metavar="[VALUE | NAME=VALUE]...", help="Values by position, or by name.")] = None,
    session: SessionOpt = None,
    download_path: Annotated[Optional[str], typer.Option(
        help="Download result files here (default: the session's folder).")] = None,
    timeout: Annotated[Optional[float], typer.Option(
        help="Cancel the call on the server after this many seconds (status timed_out).")] = None,
    detach: Annotated[bool, typer.Option(
        "--detach", help="Print the event id and return; a background process holds the call.")] = False,
    max_heartbeats: HeartbeatsOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Call an endpoint (file values: a path, URL or FileData JSON); events print as they
    arrive, the result last. Ctrl+C cancels the call on the server (exit status 130)."""
    import asyncio

    from .. import split_cli_values

    if detach and (timeout is not None or max_heartbeats is not None):
        raise typer.BadParameter("--detach returns at once: it takes no --timeout or --max-heartbeats.",
                                 param_hint="'--detach'")
    out = Output(json_)
    s = _session(session)
    ep = s.endpoint(endpoint)
    args, kwargs = split_cli_values(ep, values or [])
    # a wait that may give up leaves the call to the holder (apps without the queue have none)
    held = detach or (max_heartbeats is not None and s.can_detach(endpoint))

    async def run() -> tuple[Any, bool]:
        async with s:
            if held:
                await _start_holder(out, s)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                start = s.detach if held else s.invoke
                c = await start(endpoint, *args, **kwargs)
            for w in caught:
                out.warning(str(w.message))
            if detach:
                if json_:
                    out.data({"event_id": c.event_id, "status": c.status})
                else:
                    out.out.print(c.event_id)
                    out.message(f"[dim]Detached. Follow it with: gradio-session result {c.event_id}[/]")
                return None, False
            out.message(f"[dim]event id {c.event_id}[/]")
            values = await _wait(out, c, timeout=timeout, max_heartbeats=max_heartbeats,
                                 download_path=download_path)
            return values, values != c.history()[-1].data  # files were downloaded: new paths

    result, downloaded = asyncio.run(run())
    if not detach:
        out.result(result, downloaded=downloaded)


async def _start_holder(out: Output, s: AsyncSession) -> None:
    """Have the session's background holder read its stream, saying why when that waits."""
    if not await s.holder_running():
        with out.err.status("Starting the session's background holder: it waits until no other "
                            "process reads the session's stream.", spinner="dots") if not out.json else nullcontext():
            await s.start_holder()


async def _wait(out: Output, c: Any, *, timeout: float | None = None, max_heartbeats: int | None = None,
                after: int | None = None, download_path: str | None = None, cancel: bool = True) -> Any:
    """Show a call's events live, then return its result; Ctrl+C cancels it (with `cancel`),
    and a heartbeat-limited wait that expires exits with EXIT_EXPIRED."""
    import asyncio

    try:
        with out.live_call() as show:
            async for event in c.events(timeout=timeout, max_heartbeats=max_heartbeats, after=after):
                show(event)
    except asyncio.CancelledError:  # Ctrl+C: asyncio.run cancels us, then raises KeyboardInterrupt
        if cancel and await c.cancel():
            out.err.print(f"Cancelled the call {c.event_id} on the server.")
        raise
    if c.status == "heartbeat_expired":
        seen = c.history()[-1].num if c.history() else 0
        if out.json:
            out.data({"event": "heartbeat_expired", "event_id": c.event_id, "after": seen})
        out.message(f"No news after {max_heartbeats} heartbeats: the call {c.event_id} goes on in the "
                    f"background. Continue with: gradio-session result {c.event_id} --after {seen}")
        raise typer.Exit(EXIT_EXPIRED)
    return await c.result(download_path=download_path)


@app.command()
def upload(
    paths: Annotated[list[str], typer.Argument(metavar="FILE...", help="Local files (URLs pass through).")],
    session: SessionOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Upload files to the app (recorded in the session); prints their FileData."""
    import asyncio

    out = Output(json_)
    s = _session(session)

    async def run() -> list[Any]:
        async with s:
            with out.progress("Uploading") as progress:
                return [fd.to_dict() for fd in await s.upload(*paths, progress=progress)]

    out.files(asyncio.run(run()))


@app.command()
def uploads(session: SessionOpt = None, json_: JsonOpt = False) -> None:
    """List the files uploaded through a session."""
    Output(json_).uploads(_session(session).uploads())


@app.command()
def calls(
    status: Annotated[Optional[str], typer.Option(help="Only calls of this status (running, complete, cancelled...).")] = None,
    session: SessionOpt = None,
    json_: JsonOpt = False,
) -> None:
    """List the calls recorded in a session, with duration and queue wait."""
    Output(json_).calls(_session(session).calls(status))


@app.command()
def result(
    event_id: Annotated[str, typer.Argument(help="Event id of the call (see `gradio-session calls`).")],
    follow: Annotated[bool, typer.Option("--follow/--no-follow", help="Follow a running call to its end (the default).")] = True,
    after: Annotated[Optional[int], typer.Option(min=0, help="Only events numbered above this one.")] = None,
    max_heartbeats: HeartbeatsOpt = None,
    session: SessionOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Print a call's recorded events and, while it runs in another process, the live ones
    until the end; then its result (exit 1 if it did not complete)."""
    import asyncio

    out = Output(json_)
    s = _session(session)

    async def run() -> Any:
        async with s:
            c = await s.get_call(event_id)
            if not follow and not c.done:
                for event in c.history()[after or 0:]:
                    out.event(event)
                out.message(f"The call {event_id} is still {c.status}.")
                return None
            return await _wait(out, c, max_heartbeats=max_heartbeats, after=after, cancel=False)

    values = asyncio.run(run())
    if values is not None:
        out.result(values)


@app.command()
def cancel(
    event_id: Annotated[str, typer.Argument(help="Event id of the call (see `gradio-session calls`).")],
    session: SessionOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Cancel a running call on the server, from any process; an ended call is left as it is."""
    import asyncio

    out = Output(json_)
    s = _session(session)

    async def run() -> bool:
        async with s:
            return await s.cancel(event_id)

    cancelled = asyncio.run(run())
    status = s.get_call_record(event_id).status
    if json_:
        out.data({"event_id": event_id, "cancelled": cancelled, "status": status})
    elif cancelled:
        out.message(f"Cancelled the call {event_id} (status {status}).")
    else:
        out.message(f"The call {event_id} has already ended ({status}): nothing to cancel.")


@app.command()
def forget(
    event_id: Annotated[Optional[str], typer.Argument(help="Event id of one call to forget.")] = None,
    completed: Annotated[bool, typer.Option("--completed", help="Forget every finished call.")] = False,
    all_: Annotated[bool, typer.Option("--all", help="Forget all calls (running ones only with --force).")] = False,
    force: Annotated[bool, typer.Option(help="Forget calls still running too.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Only list what would be forgotten.")] = False,
    session: SessionOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Forget recorded calls: one by event id, --completed or --all (finished ones unless --force)."""
    out = Output(json_)
    gone = _session(session).forget(event_id, completed=completed, all=all_, force=force, dry_run=dry_run)
    if json_:
        out.data({"dry_run": dry_run, "event_ids": gone})
        return
    for event_id in gone:
        out.out.print(event_id, markup=False)
    out.message(f"{'Would forget' if dry_run else 'Forgot'} {len(gone)} call(s).")


def main() -> NoReturn:
    """Entry point: a known error is one line on stderr and exit 1; a traceback only with
    GRADIO_SESSION_DEBUG=1."""
    from ..errors import GradioSessionError
    from ..paths import debug

    try:
        code = app(standalone_mode=False, prog_name="gradio-session")
    except GradioSessionError as exc:
        if debug():
            raise
        Output().error(str(exc))
        sys.exit(1)
    except KeyboardInterrupt:
        Output().error("Interrupted.")
        sys.exit(130)
    except typer.Abort:
        Output().error("Aborted.")
        sys.exit(1)
    except Exception as exc:  # click's usage errors and exits (Typer may vendor its own click)
        exit_code = getattr(exc, "exit_code", None)
        if not isinstance(exit_code, int):
            raise
        if callable(getattr(exc, "show", None)):
            exc.show()  # type: ignore[attr-defined]
        sys.exit(exit_code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
