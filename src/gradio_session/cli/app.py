"""The `gradio-session` command: one error boundary around Typer commands.

The session machinery (httpx, SQLite) is imported inside the commands, so `--help` stays fast.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, NoReturn, Optional

import typer

from .common import GLOB, JsonOpt, Policy, SessionOpt, _get, _pick, _print_session, _run, _session, app
from .output import Output

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
    from .. import aio

    out = Output(json_)
    s = _run(aio.new_session(app_url, name=name, download_path=download_path, force=force, token=token))
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

    Output(json_).sessions([s.record for s in _run(aio.list_sessions(pattern))])


@app.command()
def show(
    name: Annotated[Optional[str], typer.Argument(help="Session name or id; '.' for the default.")] = None,
    session: SessionOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Show one session."""
    _print_session(_session(_pick(name, session)), json_)


@app.command()
def use(name: Annotated[str, typer.Argument(help="Session name or id.")]) -> None:
    """Make a session the default."""
    from .. import aio

    s = _run(aio.set_default(name))
    Output().message(f"{s.name} is now the default session.")


@app.command()
def remove(
    pattern: Annotated[str, typer.Argument(metavar="NAME_OR_PATTERN", help="Name, id, '.' for the default, or a glob pattern.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Remove every session a pattern matches without asking.")] = False,
) -> None:
    """Remove sessions with their recorded calls (a pattern matching several asks first)."""
    from .. import aio
    from ..errors import SessionError, SessionNotFound

    async def run() -> list[str]:
        if not any(c in GLOB for c in pattern):
            return await aio.remove_session(pattern)
        matches = [s.record for s in await aio.list_sessions(pattern)]
        if not matches:
            raise SessionNotFound(f"No session matches {pattern!r}.")
        listing = f"{pattern!r} matches {len(matches)} sessions: {', '.join(r.name for r in matches)}"
        if len(matches) > 1 and not yes:
            if not sys.stdin.isatty():
                raise SessionError(f"{listing}. Remove them all with --yes, or name one.")
            if not typer.confirm(f"{listing}.\nRemove them with their calls?", err=True):
                raise typer.Abort()
        return [name for r in matches for name in await aio.remove_session(r.id)]

    names = _run(run())
    Output().message(f"Removed {len(names)} session(s): {', '.join(names)}.")


@app.command("set")
def set_(
    name: Annotated[Optional[str], typer.Argument(help="Session name; '.' for the default.")] = None,
    max_calls: Annotated[Optional[int], typer.Option(help="Most calls kept (0: no limit).")] = None,
    max_calls_policy: Annotated[Optional[Policy], typer.Option(help="At max_calls: error, warning or remove the oldest.")] = None,
    download_path: Annotated[Optional[str], typer.Option(help="Folder for downloaded files ('' to unset).")] = None,
    session: SessionOpt = None,
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
    s = _run(aio.set_options(_pick(name, session), **options))
    _print_session(s, json_)


@app.command()
def api(
    endpoint: Annotated[Optional[str], typer.Argument(help="One endpoint (default: all).")] = None,
    session: SessionOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Show the app's endpoints, their parameters and returns, and a call to copy."""
    s = _session(session)
    if json_:
        Output(json_).endpoints([s.endpoint(endpoint)] if endpoint else list(s.app.endpoints.values()))
    else:
        Output().text(s.view_api(endpoint, print_info=False) or "")


@app.command()
def upload(
    paths: Annotated[list[str], typer.Argument(metavar="FILE...", help="Local files (URLs pass through).")],
    session: SessionOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Upload files to the app (recorded in the session); prints their FileData."""
    out = Output(json_)
    s = _session(session)

    async def run() -> list[Any]:
        async with s:
            with out.progress("Uploading") as progress:
                return [fd.to_dict() for fd in await s.upload(*paths, progress=progress)]

    out.files(_run(run()))


@app.command()
def uploads(session: SessionOpt = None, json_: JsonOpt = False) -> None:
    """List the files uploaded through a session."""
    async def run() -> Any:
        return await (await _get(session)).uploads()

    Output(json_).uploads(_run(run()))


@app.command()
def refresh(
    name: Annotated[Optional[str], typer.Argument(help="Session name; '.' for the default.")] = None,
    session: SessionOpt = None,
) -> None:
    """Read the app's API again (after a redeploy); the session keeps its hash and calls."""
    async def run() -> tuple[bool, int]:
        async with await _get(_pick(name, session)) as s:
            return await s.refresh(), len(s.app.endpoints)

    changed, count = _run(run())
    Output().message(f"The app's API {'changed' if changed else 'is unchanged'}: {count} endpoints.")


from . import calls  # noqa: E402 - the commands about calls, registered after these

COMMAND_MODULES = (calls,)


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
            Output().dash_hint(exc, sys.argv[1:])
        sys.exit(exit_code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
