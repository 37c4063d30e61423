"""`gradio-session mcp`: the sessions' endpoints as tools for agents (Model Context Protocol)."""

from __future__ import annotations

import os

import click

from .common import _run, app

TOKEN_ENV = "GRADIO_SESSION_MCP_TOKEN"


@app.command("mcp")
@click.option("--session", "-s", "sessions", multiple=True, metavar="NAME",
              help="A session to serve (repeatable; default: the default session).")
@click.option("--all", "every", is_flag=True, help="Serve every session.")
@click.option("--http", metavar="HOST:PORT", help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio; "
              f"a host other than this machine needs a bearer token in ${TOKEN_ENV}.")
@click.option("--tool-timeout", type=click.FloatRange(min=1), default=50.0, show_default=True,
              help="Seconds a tool call waits; a longer call goes on, followed with gradio_result.")
@click.option("--allow-new", is_flag=True, help="A tool makes new sessions on any app the agent names (off: the "
              "agent reaches only the sessions served).")
def mcp(sessions: tuple[str, ...], every: bool, http: str | None, tool_timeout: float, allow_new: bool) -> None:
    """Serve sessions as MCP tools for agents (Claude Desktop, VS Code...): one tool per endpoint,
    called through the session (its state, its history). Needs the mcp extra."""
    from ..errors import GradioSessionError

    try:
        from ..mcp.server import serve
    except ImportError as exc:
        raise GradioSessionError(f"`gradio-session mcp` needs the MCP SDK: pip install 'gradio-session[mcp]' "
                                 f"({exc}).") from None
    _run(serve(list(sessions), every=every, http=http, token=os.environ.get(TOKEN_ENV) or None,
               tool_timeout=tool_timeout, allow_new=allow_new))
