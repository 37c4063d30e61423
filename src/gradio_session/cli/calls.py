"""The CLI's commands about calls: call, result, cancel, calls, forget."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .common import (
    EXIT_EXPIRED, STATUSES, _get, _run, _session, _using, app, complete_endpoints, json_option,
    session_option,
)
from .output import Output

if TYPE_CHECKING:
    from ..aio import Session as AsyncSession

F = TypeVar("F", bound=Callable[..., Any])


def download_option(f: F) -> F:
    return click.option("--download/--no-download", default=True, show_default=True,
                        help="Download result files, or keep them on the server (their url).")(f)


def heartbeats_option(f: F) -> F:
    return click.option("--max-heartbeats", type=click.IntRange(min=1), metavar="N",
                        help=f"Stop waiting after N heartbeats in a row (exit {EXIT_EXPIRED}); the call "
                             "goes on in the background: continue with `result EVENT_ID --after K`.")(f)


def event_id_argument(help: str, required: bool = True) -> Callable[[F], F]:  # noqa: A002
    return click.argument("event_id", required=required, help=help)


@app.command(context_settings={"help_option_names": []})  # its own --help: also an endpoint's
@click.argument("endpoint", required=False, shell_complete=complete_endpoints,
                help="Endpoint name, with or without the leading '/'.")
@click.argument("values", nargs=-1, metavar="[VALUE | NAME=VALUE]...", help="Values by position, or by name.")
@session_option
@click.option("--download-path", help="Download result files here (default: the session's folder).")
@download_option
@click.option("--timeout", type=float, metavar="SECONDS",
              help="Cancel the call on the server after this many seconds (status timed_out).")
@click.option("--detach", is_flag=True, help="Print the event id and return; a background process holds the call.")
@click.option("--map", "maps", multiple=True, metavar="NAME=INDEX",
              help="Feed parameter NAME from output INDEX of the call whose JSON events come on stdin "
                   "(`gradio-session call A ... --json | gradio-session call B --map NAME=INDEX`).")
@click.option("--each", is_flag=True, help="With --map: also start the call at each partial result on stdin as it "
                                            "comes (the one started before is cancelled).")
@heartbeats_option
@json_option
@click.option("--help", "-h", "help_", is_flag=True,
              help="Show this message; after an ENDPOINT, its parameters (types, defaults, choices) and returns.")
def call(endpoint: str | None, values: tuple[str, ...], session: str | None, download_path: str | None,
         download: bool, timeout: float | None, detach: bool, maps: tuple[str, ...], each: bool,
         max_heartbeats: int | None, json_: bool, help_: bool) -> None:
    """Call an endpoint (file values: a path, URL or FileData JSON); events print as they
    arrive, the result last. Ctrl+C cancels the call on the server (exit status 130)."""
    from .. import split_cli_values
    from . import feeding

    ctx = click.get_current_context()
    if endpoint is None:
        if help_:
            Output().text(ctx.get_help())
            return
        raise click.UsageError("Missing argument 'ENDPOINT'.", ctx)
    if help_:
        _endpoint_help(_session(session), endpoint)
        return
    if timeout is not None and not timeout > 0:
        raise click.BadParameter(f"{timeout} is not a number of seconds above 0.", param_hint="'--timeout'")
    if detach and (timeout is not None or max_heartbeats is not None):
        raise click.BadParameter("--detach returns at once: it takes no --timeout or --max-heartbeats.",
                                 param_hint="'--detach'")
    out = Output(json_)
    s = _session(session)
    ep = s.endpoint(endpoint)
    args, kwargs = split_cli_values(ep, list(values))
    if each and not maps:
        raise click.BadParameter("--each goes with --map.", param_hint="'--each'")
    mapped = feeding.mapping(maps, ep, args, kwargs) if maps else {}
    # a wait that may give up leaves the call to the holder (apps without the queue have none)
    held = detach or (max_heartbeats is not None and s.can_detach(endpoint))

    async def run() -> tuple[Any, bool]:
        async with _using(s):
            fed, fed_by = await feeding.fed(out, s, endpoint, args, kwargs, mapped, each=each) if mapped else ({}, None)
            if held:
                await _start_holder(out, s)
            c = await (s.detach if held else s.invoke)(endpoint, *args, **kwargs, **fed)
            out.call = {"session": s.name, "event_id": c.event_id}
            if fed_by:
                await s.store.run(s.repository.set_fed_by, s.id, c.event_id, fed_by)
            if detach:
                if json_:
                    out.data({"event_id": c.event_id, "status": c.status})
                else:
                    out.line(c.event_id)
                    out.message(f"Detached. Follow it with: gradio-session result {c.event_id}", dim=True)
                return None, False
            out.message(f"event id {c.event_id}", dim=True)
            values = await _wait(out, c, timeout=timeout, max_heartbeats=max_heartbeats,
                                 download_path=download_path, download=download)
            return values, values != c.history()[-1].data  # files were downloaded: new paths

    result, downloaded = _run(run())
    if not detach:
        out.result(result, downloaded=downloaded)


def _endpoint_help(s: AsyncSession, endpoint: str) -> None:
    """`call ENDPOINT --help`: how to call it here and in Python, and its docstring."""
    from .. import endpoint_help

    ep = s.endpoint(endpoint)
    Output().text(f"Usage: gradio-session call {ep.name.lstrip('/')} [VALUE | NAME=VALUE]... [OPTIONS]  "
                  f"(session {s.name})\nIn Python: s.api.{endpoint_help(ep)}")


async def _start_holder(out: Output, s: AsyncSession) -> None:
    """Have the session's background holder read its stream, saying why when that waits."""
    if not await s.holder_running():
        with out.status("Starting the session's background holder: it waits until no other "
                        "process reads the session's stream."):
            await s.start_holder()


async def _wait(out: Output, c: Any, *, timeout: float | None = None, max_heartbeats: int | None = None,
                after: int | None = None, download_path: str | None = None, download: bool = True,
                cancel: bool = True) -> Any:
    """Show a call's events live, then return its result; Ctrl+C cancels it (with `cancel`),
    and a heartbeat-limited wait that expires exits with EXIT_EXPIRED."""
    import asyncio

    try:
        with out.live_call() as show:
            async for event in c.events(timeout=timeout, max_heartbeats=max_heartbeats, after=after):
                show(event)
    except asyncio.CancelledError:  # Ctrl+C: asyncio.run cancels us, then raises KeyboardInterrupt
        if cancel and (await c.cancel() or c.status == "cancelled"):  # the wait cancels it itself
            out.notice(f"Cancelled the call {c.event_id} on the server.")
        raise
    if c.status == "heartbeat_expired":
        seen = c.history()[-1].num if c.history() else 0
        if out.json:
            out.data({"event": "heartbeat_expired", "event_id": c.event_id, "after": seen})
        out.message(f"No news after {max_heartbeats} heartbeats: the call {c.event_id} goes on in the "
                    f"background. Continue with: gradio-session result {c.event_id} --after {seen}")
        raise click.exceptions.Exit(EXIT_EXPIRED)
    return await c.result(download_path=download_path, download=download)


@app.command()
@click.option("--status", type=click.Choice(STATUSES), help="Only calls of this status.")
@session_option
@json_option
def calls(status: str | None, session: str | None, json_: bool) -> None:
    """List the calls recorded in a session, with duration and queue wait."""
    async def run() -> Any:
        return await (await _get(session)).calls(status)

    Output(json_).calls(_run(run()))


@app.command()
@event_id_argument("Event id of the call (see `gradio-session calls`).")
@click.option("--follow/--no-follow", default=True, show_default=True,
              help="Follow a running call to its end; --no-follow prints only what is recorded, and exits 1 "
                   "while the call runs.")
@click.option("--after", type=click.IntRange(min=0), metavar="K", help="Only events numbered above this one.")
@heartbeats_option
@download_option
@session_option
@json_option
def result(event_id: str, follow: bool, after: int | None, max_heartbeats: int | None, download: bool,
           session: str | None, json_: bool) -> None:
    """Print a call's recorded events and, while it runs in another process, the live ones
    until the end; then its result (exit 1 if it did not complete, or has not yet)."""
    out = Output(json_)
    s = _session(session)

    async def run() -> Any:
        async with _using(s):
            c = await s.get_call(event_id)
            out.call = {"session": s.name, "event_id": c.event_id}
            if not follow and not c.done:
                for event in c.history()[after or 0:]:
                    out.event(event)
                out.message(f"The call {event_id} is still {c.status}: follow it to its end without --no-follow.")
                raise click.exceptions.Exit(1)
            return await _wait(out, c, max_heartbeats=max_heartbeats, after=after, download=download, cancel=False)

    values = _run(run())
    if values is not None:
        out.result(values)


@app.command()
@event_id_argument("Event id of the call (see `gradio-session calls`).")
@session_option
@json_option
def cancel(event_id: str, session: str | None, json_: bool) -> None:
    """Cancel a running call on the server, from any process; an ended call is left as it is."""
    out = Output(json_)
    s = _session(session)

    async def run() -> tuple[bool, str]:
        async with _using(s):
            return await s.cancel(event_id), (await s.get_call_record(event_id)).status

    cancelled, status = _run(run())
    if json_:
        out.data({"event_id": event_id, "cancelled": cancelled, "status": status})
    elif cancelled:
        out.message(f"Cancelled the call {event_id} (status {status}).")
    else:
        out.message(f"The call {event_id} has already ended ({status}): nothing to cancel.")


@app.command()
@event_id_argument("Event id of one call to forget.", required=False)
@click.option("--completed", is_flag=True, help="Forget every finished call.")
@click.option("--all", "all_", is_flag=True, help="Forget all calls (running ones only with --force).")
@click.option("--force/--no-force", help="Forget calls still running too.")
@click.option("--dry-run/--no-dry-run", help="Only list what would be forgotten.")
@session_option
@json_option
def forget(event_id: str | None, completed: bool, all_: bool, force: bool, dry_run: bool, session: str | None,
           json_: bool) -> None:
    """Forget recorded calls: one by event id, --completed or --all (finished ones unless --force)."""
    out = Output(json_)
    async def run() -> list[str]:
        return await (await _get(session)).forget(event_id, completed=completed, all=all_, force=force,
                                                  dry_run=dry_run)

    gone = _run(run())
    if json_:
        out.data({"dry_run": dry_run, "event_ids": gone})
        return
    for event_id in gone:
        out.line(event_id)
    out.message(f"{'Would forget' if dry_run else 'Forgot'} {len(gone)} call(s).")
