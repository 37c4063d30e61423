"""How a session reaches its app, on the command line: `login` and `logout`, and the options of
`new` and `set` (--login, --header, --proxy, --ca-bundle, --insecure). A password or a header's
value never has to be on the command line: standard input, a hidden prompt, the environment."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from .common import _pick, _print_session, _run, _session, app, json_option, session_argument, session_option
from .output import Output

F = TypeVar("F", bound=Callable[..., Any])
IN_PS = "On the command line it is visible to other users (`ps`) while the command runs"


def reach_options(new: bool) -> Callable[[F], F]:
    """The options of `new` (and `set`, without --login) that say how the app is reached."""

    def decorate(fn: F) -> F:
        options = [
            click.option("--header", "headers", multiple=True, metavar="'NAME: VALUE' | NAME",
                         help="A header sent to the app's own origin with every request (repeatable; kept like a "
                              "token). NAME alone takes the value of the environment variable NAME (dashes as "
                              f"underscores, e.g. X_API_KEY). {IN_PS}: prefer NAME alone." +
                              ("" if new else " Replaces the kept headers; --no-headers forgets them.")),
            click.option("--proxy", metavar="URL", help="The session's own proxy (http://, https://, socks5://: "
                         "the socks extra); default: HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY." +
                         ("" if new else " '' for the environment's.")),
            click.option("--ca-bundle", type=click.Path(dir_okay=False), metavar="FILE",
                         help="CA certificates (PEM) the app's certificate is checked against: a private CA. "
                              "Default: the OS trust store, or SSL_CERT_FILE / REQUESTS_CA_BUNDLE." +
                              ("" if new else " '' for the default.")),
            click.option("--insecure/--secure", default=None,
                         help="Don't check the app's certificate at all (each command says so); --secure checks it."),
        ]
        if new:
            options += [
                click.option("--login", "login_user", metavar="USER",
                             help="Log in to the app (Gradio's login) as USER; the password from --password-stdin, "
                                  "else asked (hidden) on a terminal. Kept for later commands."),
                click.option("--password-stdin", is_flag=True, help="Read the login's password from standard input "
                             "(one line)."),
            ]
        else:
            options.append(click.option("--no-headers", is_flag=True, help="Forget the kept headers."))
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


def reach(headers: tuple[str, ...], proxy: str | None, ca_bundle: str | None, insecure: bool | None,
          no_headers: bool = False) -> dict[str, Any]:
    """The Python API's options from the command line's."""
    from ..errors import ParameterError

    options: dict[str, Any] = {"proxy": proxy, "ca_bundle": ca_bundle, "insecure": insecure}
    if no_headers and headers:
        raise ParameterError("Give --header or --no-headers, not both.")
    if headers or no_headers:
        options["headers"] = [header if ":" in header else (header, _from_env(header)) for header in headers]
    return options


def _from_env(name: str) -> str:
    from ..errors import ParameterError

    variable = name.strip().upper().replace("-", "_")
    if variable not in os.environ:
        raise ParameterError(f"--header {name.strip()}: the environment variable {variable} is not set. Set it to "
                             "the header's value, or give --header 'NAME: VALUE' (visible to other users in `ps`).")
    return os.environ[variable]


def password(option_given: bool, user: str) -> str:
    """The login's password: one line of standard input (--password-stdin), else asked without
    echo on a terminal; never from the command line."""
    from ..errors import ParameterError

    if option_given or not sys.stdin.isatty():
        if not option_given:
            raise ParameterError(f"The password of {user!r}: give it on standard input with --password-stdin "
                                 "(no terminal to ask on).")
        line = sys.stdin.readline().rstrip("\r\n")
    else:
        line = click.prompt(f"Password of {user}", hide_input=True, default="", show_default=False, err=True)
    if not line:
        raise ParameterError(f"No password read for {user!r}: give it on one line of standard input.")
    return str(line)


@app.command()
@click.argument("user", required=False, help="The user to log in as (default: the session's).")
@session_option
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line).")
@json_option
def login(user: str | None, session: str | None, password_stdin: bool, json_: bool) -> None:
    """Log in to the session's app again (a new password, or USER), and keep the login."""
    from ..errors import ParameterError

    s = _session(session)
    user = user or s.record.network.login
    if not user:
        raise ParameterError(f"The session {s.name} has no login yet: gradio-session login USER.")
    _run(s.login(user, password(password_stdin, user)))
    if json_:
        _print_session(s, json_)
    else:
        Output().message(f"Logged in to {s.record.app_url} as {user}: kept for the session {s.name}.")


@app.command()
@session_argument("Session name; '.' for the default.")
@session_option
def logout(name: str | None, session: str | None) -> None:
    """Forget the session's login: its user, password and the app's cookies."""
    s = _session(_pick(name, session))
    user = s.record.network.login
    _run(s.logout())
    Output().message(f"Logged out of {s.name}" + (f": the password of {user} is forgotten." if user else "."))
