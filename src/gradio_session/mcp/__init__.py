"""Sessions as tools for agents: `gradio-session mcp` serves the endpoints of sessions as Model
Context Protocol tools (stdio, or streamable HTTP), through the sessions themselves. A surface
above the public API, as `cli/` is; the MCP SDK (`gradio-session[mcp]`) is imported only here."""

from __future__ import annotations

from typing import Any


def serve(*args: Any, **kwargs: Any) -> Any:
    """See `server.serve`: imported on use, so the package imports without the SDK."""
    from .server import serve as run

    return run(*args, **kwargs)
