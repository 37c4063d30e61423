"""The CLI's commands about calls: call, result, cancel, calls, forget."""

from __future__ import annotations

import warnings
from contextlib import nullcontext
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from .common import EXIT_EXPIRED, JsonOpt, SessionOpt, Status, _get, _run, _session, app
from .output import Output

if TYPE_CHECKING:
    from ..aio import Session as AsyncSession


DownloadOpt = Annotated[bool, typer.Option(
    "--download/--no-download", help="Download result files (the default), or keep them on the server (their url).")]
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
    download: DownloadOpt = True,
    timeout: Annotated[Optional[float], typer.Option(
        help="Cancel the call on the server after this many seconds (status timed_out).")] = None,
    detach: Annotated[bool, typer.Option(
        "--detach", help="Print the event id and return; a background process holds the call.")] = False,
    max_heartbeats: HeartbeatsOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Call an endpoint (file values: a path, URL or FileData JSON); events print as they
    arrive, the result last. Ctrl+C cancels the call on the server (exit status 130)."""
    from .. import split_cli_values

    if timeout is not None and not timeout > 0:
        raise typer.BadParameter(f"{timeout} is not a number of seconds above 0.", param_hint="'--timeout'")
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
                                 download_path=download_path, download=download)
            return values, values != c.history()[-1].data  # files were downloaded: new paths

    result, downloaded = _run(run())
    if not detach:
        out.result(result, downloaded=downloaded)


async def _start_holder(out: Output, s: AsyncSession) -> None:
    """Have the session's background holder read its stream, saying why when that waits."""
    if not await s.holder_running():
        with out.err.status("Starting the session's background holder: it waits until no other "
                            "process reads the session's stream.", spinner="dots") if not out.json else nullcontext():
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
            out.err.print(f"Cancelled the call {c.event_id} on the server.")
        raise
    if c.status == "heartbeat_expired":
        seen = c.history()[-1].num if c.history() else 0
        if out.json:
            out.data({"event": "heartbeat_expired", "event_id": c.event_id, "after": seen})
        out.message(f"No news after {max_heartbeats} heartbeats: the call {c.event_id} goes on in the "
                    f"background. Continue with: gradio-session result {c.event_id} --after {seen}")
        raise typer.Exit(EXIT_EXPIRED)
    return await c.result(download_path=download_path, download=download)


@app.command()
def calls(
    status: Annotated[Optional[Status], typer.Option(help="Only calls of this status.")] = None,
    session: SessionOpt = None,
    json_: JsonOpt = False,
) -> None:
    """List the calls recorded in a session, with duration and queue wait."""
    async def run() -> Any:
        return await (await _get(session)).calls(status.value if status else None)

    Output(json_).calls(_run(run()))


@app.command()
def result(
    event_id: Annotated[str, typer.Argument(help="Event id of the call (see `gradio-session calls`).")],
    follow: Annotated[bool, typer.Option("--follow/--no-follow", help="Follow a running call to its end (the default); "
                                         "--no-follow prints only what is recorded, and exits 1 while the call runs.")] = True,
    after: Annotated[Optional[int], typer.Option(min=0, help="Only events numbered above this one.")] = None,
    max_heartbeats: HeartbeatsOpt = None,
    download: DownloadOpt = True,
    session: SessionOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Print a call's recorded events and, while it runs in another process, the live ones
    until the end; then its result (exit 1 if it did not complete, or has not yet)."""
    out = Output(json_)
    s = _session(session)

    async def run() -> Any:
        async with s:
            c = await s.get_call(event_id)
            if not follow and not c.done:
                for event in c.history()[after or 0:]:
                    out.event(event)
                out.message(f"The call {event_id} is still {c.status}: follow it to its end without --no-follow.")
                raise typer.Exit(1)
            return await _wait(out, c, max_heartbeats=max_heartbeats, after=after, download=download, cancel=False)

    values = _run(run())
    if values is not None:
        out.result(values)


@app.command()
def cancel(
    event_id: Annotated[str, typer.Argument(help="Event id of the call (see `gradio-session calls`).")],
    session: SessionOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Cancel a running call on the server, from any process; an ended call is left as it is."""
    out = Output(json_)
    s = _session(session)

    async def run() -> tuple[bool, str]:
        async with s:
            return await s.cancel(event_id), (await s.get_call_record(event_id)).status

    cancelled, status = _run(run())
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
    async def run() -> list[str]:
        return await (await _get(session)).forget(event_id, completed=completed, all=all_, force=force,
                                                  dry_run=dry_run)

    gone = _run(run())
    if json_:
        out.data({"dry_run": dry_run, "event_ids": gone})
        return
    for event_id in gone:
        out.out.print(event_id, markup=False)
    out.message(f"{'Would forget' if dry_run else 'Forgot'} {len(gone)} call(s).")
