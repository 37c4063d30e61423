"""The `gradio-session` command: the session commands, and one error boundary around them all.

The session machinery (httpx, SQLite) is imported inside the commands, so `--help` stays fast.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any, NoReturn

import click

# httpx imports its own command line (click, Rich, pygments) whenever they are installed; this
# process never runs it, and skipping it saves a quarter of a one-shot call's imports.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

from .common import (
    GLOB, POLICIES, _get, _pick, _print_session, _run, _session, _using, app, complete_endpoints,
    complete_sessions, json_option, session_argument, session_option,
)
from .access import IN_PS, password, reach, reach_options
from .output import Output
from .terminal import current

def _token_from(token: str | None, token_stdin: bool) -> str | None:
    """The token: --token, else one line of standard input (--token-stdin), else
    $GRADIO_SESSION_TOKEN; None for the default (huggingface_hub's, for a Space)."""
    from ..errors import ParameterError
    from ..paths import TOKEN_ENV

    if token is not None and token_stdin:
        raise ParameterError("Give the token once: --token or --token-stdin.")
    return _stdin_line("--token-stdin") if token_stdin else token or os.environ.get(TOKEN_ENV) or None


def _stdin_line(option: str) -> str:
    """One line of standard input, stripped; asked without echo when stdin is a terminal."""
    from ..errors import ParameterError

    if sys.stdin.isatty():
        line = click.prompt(f"Value for {option}", hide_input=True, default="", show_default=False, err=True)
    else:
        line = sys.stdin.readline()
    if not line.strip():
        raise ParameterError(f"{option} read nothing from standard input: give the value there, on one line.")
    return str(line).strip()


def _secrets_from(given: tuple[str, ...], from_stdin: str | None) -> dict[str, str]:
    """--secret KEY=VALUE, --secret KEY (the value of the environment variable KEY) and
    --secret-stdin KEY (one line of standard input). No value is ever repeated in an error."""
    from ..errors import ParameterError

    secrets = {}
    for secret in given:
        key, eq, value = secret.partition("=")
        if not key:
            raise ParameterError("Give each --secret as KEY (its value from the environment variable KEY) "
                                 "or KEY=VALUE.")
        if not eq and key not in os.environ:
            raise ParameterError(f"--secret {key}: the environment variable {key} is not set. Set it, or pass "
                                 f"--secret-stdin {key}, or --secret KEY=VALUE (visible to other users in `ps`).")
        secrets[key] = value if eq else os.environ[key]
    if from_stdin is not None:
        if not from_stdin or "=" in from_stdin:
            raise ParameterError("Give --secret-stdin a KEY only: its value is read from standard input.")
        secrets[from_stdin] = _stdin_line(f"--secret-stdin {from_stdin}")
    return secrets


@app.command()
@click.argument("app_url", metavar="APP", help="URL of the Gradio app, or a Hugging Face Space (owner/name).")
@click.option("--name", help="Session name (default: from the URL, or the Space's id).")
@click.option("--download-path", help="Folder for downloaded files.")
@click.option("--force/--no-force", help="Re-create a session of the same name.")
@click.option("--token", metavar="TOKEN", help="Token for the app (kept in the OS keyring or a 0600 file); default: "
              "GRADIO_SESSION_TOKEN, else for a Space huggingface_hub's (HF_TOKEN, or `hf auth login`). "
              f"{IN_PS}: prefer --token-stdin or GRADIO_SESSION_TOKEN.")
@click.option("--token-stdin", is_flag=True, help="Read the token from standard input (one line), out of `ps`'s sight.")
@click.option("--wait-timeout", type=float, help="Seconds a Space gets to wake up or build (default 300).")
@reach_options(new=True)
@json_option
def new(app_url: str, name: str | None, download_path: str | None, force: bool, token: str | None,
        token_stdin: bool, wait_timeout: float | None, login_user: str | None, password_stdin: bool,
        headers: tuple[str, ...], proxy: str | None, ca_bundle: str | None, insecure: bool | None,
        json_: bool) -> None:
    """Create a session for a Gradio app or a Hugging Face Space (probes it first). An app behind
    a login: --login USER (or http://USER:PASSWORD@host)."""
    from .. import aio
    from ..errors import ParameterError

    out = Output(json_)
    if token_stdin and password_stdin:
        raise ParameterError("Standard input gives one value: use --token-stdin or --password-stdin, and "
                             "GRADIO_SESSION_TOKEN for the token.")
    token = _token_from(token, token_stdin)
    auth = (login_user, password(password_stdin, login_user)) if login_user else None
    options = reach(headers, proxy, ca_bundle, insecure)
    with out.stages("The Space") as on_stage:
        s = _run(aio.new_session(app_url, name=name, download_path=download_path, force=force, token=token,
                                 wait_timeout=wait_timeout, on_stage=on_stage, auth=auth,
                                 **{**options, "insecure": bool(insecure)}))
    record = s.repository.get_session(s.id)
    if json_:
        out.data(record.to_dict())
    else:
        out.line(f"Created session {record.name} for {record.app_url} (Gradio {record.app.version}, "
                 f"{len(record.app.endpoints)} endpoints)" + (", the default" if record.is_default else "") + ".")


@app.command()
@click.argument("space", help="The Hugging Face Space to copy (owner/name).")
@click.option("--to", "to", help="The copy's id, NAMESPACE/NAME (default: your account, the same name).")
@click.option("--hardware", help="Hardware for the copy (e.g. cpu-basic, t4-small).")
@click.option("--private/--public", default=None, help="The copy's visibility (default: the Hub's).")
@click.option("--sleep-time", type=int, help="Seconds of inactivity before the copy sleeps (paid hardware).")
@click.option("--secret", "secrets", multiple=True, metavar="KEY[=VALUE]",
              help="A secret of the copy (repeatable): KEY alone takes the value of the environment variable KEY. "
                   "A VALUE is visible to other users (`ps`) while the command runs.")
@click.option("--secret-stdin", metavar="KEY", help="A secret of the copy whose value is read from standard input "
              "(one line).")
@click.option("--name", help="Session name (default: the copy's id).")
@click.option("--token", metavar="TOKEN", help="Hugging Face token (default: GRADIO_SESSION_TOKEN, else "
              f"huggingface_hub's: HF_TOKEN, or `hf auth login`). {IN_PS}: prefer --token-stdin or an "
              "environment variable.")
@click.option("--token-stdin", is_flag=True, help="Read the token from standard input (one line), out of `ps`'s sight.")
@click.option("--wait-timeout", type=float, help="Seconds the copy gets to build and start (default 300).")
@json_option
def duplicate(space: str, to: str | None, hardware: str | None, private: bool | None, sleep_time: int | None,
              secrets: tuple[str, ...], secret_stdin: str | None, name: str | None, token: str | None,
              token_stdin: bool, wait_timeout: float | None, json_: bool) -> None:
    """Duplicate a Hugging Face Space into your account, wait for it to run, make a session on it."""
    from .. import aio
    from ..errors import ParameterError

    out = Output(json_)
    if token_stdin and secret_stdin is not None:
        raise ParameterError("Standard input gives one value: use --token-stdin or --secret-stdin, and an "
                             "environment variable for the other (GRADIO_SESSION_TOKEN, or --secret KEY).")
    token, values = _token_from(token, token_stdin), _secrets_from(secrets, secret_stdin)
    with out.stages("The copy") as on_stage:
        s = _run(aio.duplicate_space(space, to, hardware=hardware, private=private, sleep_time=sleep_time,
                                     secrets=values or None, name=name,
                                     token=token, wait_timeout=wait_timeout, on_stage=on_stage))
    record = s.repository.get_session(s.id)
    if json_:
        out.data(record.to_dict())
    else:
        out.line(f"Duplicated {space} as {record.space}; created session {record.name} for {record.app_url}.")


@app.command("list")
@click.argument("pattern", default="*", required=False, help="Glob pattern on names; '.' for the default.")
@json_option
def list_(pattern: str, json_: bool) -> None:
    """List sessions (the default one is starred)."""
    from .. import aio

    Output(json_).sessions([s.record for s in _run(aio.list_sessions(pattern))])


@app.command()
@session_argument("Session name or id; '.' for the default.")
@session_option
@json_option
def show(name: str | None, session: str | None, json_: bool) -> None:
    """Show one session (for a Space, also its stage and hardware as the Hub says now)."""
    from ..errors import GradioSessionError

    s = _session(_pick(name, session))
    now: dict[str, Any] | None = None
    if s.record.space is not None:
        try:
            now = _run(s.space_runtime())
        except GradioSessionError as exc:
            now = {"error": str(exc)}
    _print_session(s, json_, space_now=now)


@app.command()
@click.argument("name", shell_complete=complete_sessions, help="Session name or id.")
def use(name: str) -> None:
    """Make a session the default."""
    from .. import aio

    s = _run(aio.set_default(name))
    Output().message(f"{s.name} is now the default session.")


@app.command()
@click.argument("pattern", metavar="NAME_OR_PATTERN", shell_complete=complete_sessions,
          help="Name, id, '.' for the default, or a glob pattern.")
@click.option("--yes", "-y", is_flag=True, help="Remove every session a pattern matches without asking.")
def remove(pattern: str, yes: bool) -> None:
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
            if not click.confirm(f"{listing}.\nRemove them with their calls?", err=True):
                raise click.Abort()
        return [name for r in matches for name in await aio.remove_session(r.id)]

    names = _run(run())
    Output().message(f"Removed {len(names)} session(s): {', '.join(names)}.")


@app.command("set")
@session_argument("Session name; '.' for the default.")
@click.option("--max-calls", type=click.IntRange(min=0), help="Most calls kept (0: no limit).")
@click.option("--max-calls-policy", type=click.Choice(POLICIES),
              help="At max_calls: error, warning or remove the oldest.")
@click.option("--download-path", help="Folder for downloaded files ('' to unset).")
@reach_options(new=False)
@session_option
@json_option
def set_(name: str | None, max_calls: int | None, max_calls_policy: str | None, download_path: str | None,
         headers: tuple[str, ...], proxy: str | None, ca_bundle: str | None, insecure: bool | None,
         no_headers: bool, session: str | None, json_: bool) -> None:
    """Change a session's options, or how it reaches its app (headers, proxy, certificates)."""
    from .. import aio

    options: dict[str, Any] = reach(headers, proxy, ca_bundle, insecure, no_headers)
    if max_calls is not None:
        options["max_calls"] = max_calls or None
    if max_calls_policy is not None:
        options["max_calls_policy"] = max_calls_policy
    if download_path is not None:
        options["download_path"] = download_path or None
    s = _run(aio.set_options(_pick(name, session), **options))
    _print_session(s, json_)


@app.command()
@click.argument("endpoint", required=False, shell_complete=complete_endpoints, help="One endpoint (default: all).")
@session_option
@json_option
def api(endpoint: str | None, session: str | None, json_: bool) -> None:
    """Show the app's endpoints, their parameters and returns, and a call to copy."""
    s = _session(session)
    if json_:
        Output(json_).endpoints([s.endpoint(endpoint)] if endpoint else list(s.app.endpoints.values()))
    else:
        Output().text(s.view_api(endpoint, print_info=False) or "")


@app.command()
@session_option
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the module here (default: stdout).")
@click.option("--class-name", help="The class's name (default: from the session's name).")
def codegen(session: str | None, output: str | None, class_name: str | None) -> None:
    """Write the app's endpoints as a typed Python module (for IDEs and type checkers); reads the
    app's API first."""
    from ..codegen import module_source

    s = _session(session)
    _run(s.refresh())
    source = module_source(s.name, s.record.app_url, s.app, class_name)
    if output is None:
        Output().text(source.rstrip("\n"))
        return
    from pathlib import Path

    Path(output).write_text(source)
    Output().message(f"Wrote {output}: {len(s.app.endpoints)} endpoints of {s.name}.")


@app.command()
@click.argument("paths", nargs=-1, required=True, metavar="FILE...", type=click.Path(),
          help="Local files (URLs pass through).")
@session_option
@json_option
def upload(paths: tuple[str, ...], session: str | None, json_: bool) -> None:
    """Upload files to the app (recorded in the session); prints their FileData."""
    out = Output(json_)
    s = _session(session)

    async def run() -> list[Any]:
        async with _using(s):
            with out.progress("Uploading") as progress:
                return [fd.to_dict() for fd in await s.upload(*paths, progress=progress)]

    out.files(_run(run()))


@app.command()
@session_option
@json_option
def uploads(session: str | None, json_: bool) -> None:
    """List the files uploaded through a session."""
    async def run() -> Any:
        return await (await _get(session)).uploads()

    Output(json_).uploads(_run(run()))


@app.command()
@session_argument("Session name; '.' for the default.")
@session_option
def refresh(name: str | None, session: str | None) -> None:
    """Read the app's API again (after a redeploy); the session keeps its hash and calls."""
    async def run() -> tuple[bool, int]:
        async with _using(await _get(_pick(name, session))) as s:
            return await s.refresh(), len(s.app.endpoints)

    changed, count = _run(run())
    Output().message(f"The app's API {'changed' if changed else 'is unchanged'}: {count} endpoints.")


from . import access, calls  # noqa: E402 - login and logout, the commands about calls, registered after these
from . import agents, batching  # noqa: E402,I001 - then `mcp` and those about batches

COMMAND_MODULES = (access, calls, agents, batching)


def run(argv: list[str]) -> int:
    """Run one command line; the exit status. A known error is one line on stderr and status 1
    (a traceback only with GRADIO_SESSION_DEBUG=1); warnings are one line each."""
    from ..errors import GradioSessionError

    warnings.simplefilter("always", UserWarning)  # each call's warning, not the first one's only
    warnings.showwarning = _show_warning
    try:
        code = app.main(argv, standalone_mode=False, prog_name="gradio-session")
    except GradioSessionError as exc:
        if current().debug:  # the traceback, written here: the same whether the CLI server ran the command or not
            import traceback

            current().stderr.write(traceback.format_exc())
            return 1
        Output().error(str(exc))
        return 1
    except click.Abort as exc:  # click turns Ctrl+C into Abort
        interrupted = isinstance(exc.__cause__, KeyboardInterrupt)
        Output().error("Interrupted." if interrupted else "Aborted.")
        return 130 if interrupted else 1
    except click.ClickException as exc:  # usage errors: click's message, exit 2
        exc.show(current().stderr)
        if isinstance(exc, click.NoSuchOption):
            Output().dash_hint(exc, argv)
        return exc.exit_code
    return code if isinstance(code, int) else 0


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    Output().warning(str(message))


def main() -> NoReturn:
    """The command run in this process (see `client.main` for the entry point)."""
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
