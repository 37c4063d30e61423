"""The MCP server: the served sessions' endpoints as tools, called through the sessions (their
`session_hash`, so `gr.State` carries over and is shared with the CLI and Python; each call
recorded), with the life of a call told as MCP progress and log messages, a client's
cancellation sent to the app, and calls longer than `tool_timeout` left running and followed
with `gradio_result`, `gradio_cancel` and `gradio_calls`."""

from __future__ import annotations

import asyncio
import json
import warnings
from dataclasses import dataclass
from typing import Any

import anyio
import mcp.types as types
from mcp import MCPDeprecationWarning
from mcp.server import NotificationOptions, Server, ServerRequestContext
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged

import gradio_session as gs
from gradio_session import aio

from ..errors import AppError, CallError, GradioSessionError
from ..models import Endpoint
from . import tools

warnings.filterwarnings("ignore", category=MCPDeprecationWarning)  # log messages: deprecated in 2026-07-28 only
TOOL_TIMEOUT = 50.0  # seconds: some hosts give up on a tool call at 60


@dataclass(frozen=True)
class Target:
    """What a tool name calls: a session's endpoint."""

    session: aio.Session
    endpoint: Endpoint


FOLLOW_TOOLS = {
    "gradio_result": ("The result of a call that outlived its tool call (its event id), waiting up to the "
                      "tool timeout again.", {"event_id": {"type": "string"}, "session": {"type": "string"}},
                      ["event_id"]),
    "gradio_cancel": ("Cancel a running call on the app (its event id).",
                      {"event_id": {"type": "string"}, "session": {"type": "string"}}, ["event_id"]),
    "gradio_calls": ("The session's recorded calls, newest last: event id, endpoint, status.",
                     {"session": {"type": "string"}}, []),
}


class _Server(Server):
    """Says `tools.listChanged` on every transport (the HTTP app asks without options)."""

    def create_initialization_options(self, notification_options: Any = None, *args: Any, **kwargs: Any) -> Any:
        return super().create_initialization_options(notification_options or NotificationOptions(tools_changed=True),
                                                     *args, **kwargs)


NEW_TOOL = ("gradio_new_session", "Make a session on a Gradio app (its URL, or a Space's owner/name) and serve its "
            "endpoints as tools (their names prefixed with the session's).",
            {"app": {"type": "string"}, "name": {"type": "string"}}, ["app"])


class SessionTools:
    """The tools of the served sessions, rebuilt when an app's API changes. No tool reaches a
    new app unless `allow_new` (an agent told to fetch any URL must not be able to)."""

    def __init__(self, sessions: list[aio.Session], tool_timeout: float, allow_new: bool = False) -> None:
        self.sessions = {s.name: s for s in sessions}
        self.tool_timeout = tool_timeout
        self.allow_new = allow_new
        self.targets: dict[str, Target] = {}
        self.listing: dict[str, types.Tool] = {}
        self._hashes: dict[str, str | None] = {}
        self.bus = InMemorySubscriptionBus()
        self.connections: set[Any] = set()
        self.build()

    def build(self) -> None:
        prefixed = len(self.sessions) > 1 or self.allow_new  # names that stay when sessions come
        self.targets, self.listing = {}, {}
        for s in self.sessions.values():
            self._hashes[s.name] = s.app.api_hash
            for ep in s.app.endpoints.values():
                name = tools.tool_name(ep.name, s.name if prefixed else None)
                self.targets[name] = Target(s, ep)
                self.listing[name] = tools.tool(name, ep, gs.endpoint_help(ep))
        extra = [(name, *spec) for name, spec in FOLLOW_TOOLS.items()] + ([NEW_TOOL] if self.allow_new else [])
        for name, description, properties, required in extra:
            schema = {"type": "object", "properties": properties, "required": required}
            self.listing[name] = types.Tool(name=name, description=description, input_schema=schema)

    async def changed(self) -> None:
        """Rebuild and tell clients when a session's API was re-read with another hash."""
        if all(s.app.api_hash == self._hashes.get(s.name) for s in self.sessions.values()):
            return
        self.build()
        await self.bus.publish(ToolsListChanged())
        for connection in list(self.connections):
            try:
                await connection.send_tool_list_changed()
            except Exception:  # a client gone
                self.connections.discard(connection)

    def server(self) -> Server:
        server = _Server("gradio-session", version=gs.__version__, on_list_tools=self.list_tools,
                         on_call_tool=self.call_tool, on_subscriptions_listen=ListenHandler(self.bus),
                         get_tool_input_schema=lambda n: self.listing[n].input_schema if n in self.listing else None)
        server.add_notification_handler("notifications/initialized", types.NotificationParams, self._initialized)
        # the SDK's OpenTelemetry middleware: spans nobody collects, a tenth of a tool call's time
        server.middleware[:] = [m for m in server.middleware if "Telemetry" not in type(m).__name__]
        return server

    async def _initialized(self, ctx: ServerRequestContext, params: types.NotificationParams) -> None:
        self.connections.add(ctx.session)  # a handshake-era client: told of tool list changes on its connection

    async def list_tools(self, ctx: ServerRequestContext, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=list(self.listing.values()))

    async def call_tool(self, ctx: ServerRequestContext, params: types.CallToolRequestParams) -> types.CallToolResult:
        arguments = dict(params.arguments or {})
        try:
            if params.name in FOLLOW_TOOLS:
                return await self._follow(ctx, params.name, arguments)
            if params.name == NEW_TOOL[0] and self.allow_new:
                return await self._new(str(arguments.get("app")), arguments.get("name"))
            target = self.targets.get(params.name)
            if target is None:
                return tools.error(f"No tool named {params.name!r}: the tools are {', '.join(self.listing)}.")
            return await self._call(ctx, target, arguments)
        except GradioSessionError as exc:
            return tools.error(str(exc))
        finally:
            await self.changed()

    async def _call(self, ctx: ServerRequestContext, target: Target, arguments: dict[str, Any]) -> types.CallToolResult:
        s = target.session
        if tools.carries_data(target.endpoint, arguments):  # base64 files: written to the session's folder
            arguments = tools.files_in(target.endpoint, arguments, await s.download_folder(None))
        call = await s.invoke(target.endpoint.name, **arguments)
        return await self._outcome(ctx, call)

    async def _outcome(self, ctx: ServerRequestContext, call: Any) -> types.CallToolResult:
        """Follow a call to its end, telling its life; left running past the tool timeout."""
        try:
            telling = (ctx.meta or {}).get("progress_token") is not None  # else only log messages are told
            with anyio.move_on_after(self.tool_timeout) as waited:
                async for event in call.events():
                    if telling or event.name == "log":
                        await _tell(ctx, event)
            if waited.cancelled_caught:
                return types.CallToolResult(content=[tools.text_block(
                    f"The call {call.event_id} of {call.endpoint} is still running: it goes on. Ask for its result "
                    f"with gradio_result(event_id={call.event_id!r}), or stop it with gradio_cancel.")],
                    structured_content={"event_id": call.event_id, "status": call.status})
            return await tools.result(await call.result())
        except asyncio.CancelledError:  # the client cancelled the tool call: so is the call
            with anyio.CancelScope(shield=True):
                await call.cancel()
            raise
        except AppError as exc:
            return tools.error(f"The app said: {exc.app_message or exc}")
        except CallError as exc:
            return tools.error(str(exc))

    async def _new(self, app: str, name: str | None) -> types.CallToolResult:
        s = await aio.new_session(app, name=None if name is None else str(name))
        self.sessions[s.name] = s
        self._hashes[s.name] = None  # its tools are new: listed, and clients told
        return types.CallToolResult(content=[tools.text_block(
            f"Session {s.name} on {s.record.app_url}: its endpoints are tools named {tools.tool_name('', s.name)}*.")])

    def _session(self, name: str | None) -> aio.Session:
        if name is None and len(self.sessions) == 1:
            return next(iter(self.sessions.values()))
        if name not in self.sessions:
            raise GradioSessionError(f"Which session? Give `session`: one of {', '.join(self.sessions)}.")
        return self.sessions[name]

    async def _follow(self, ctx: ServerRequestContext, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        s = self._session(arguments.get("session"))
        if name == "gradio_calls":
            calls = [{"event_id": c.event_id, "endpoint": c.endpoint, "status": c.status} for c in await s.calls()]
            return types.CallToolResult(content=[tools.text_block(json.dumps(calls))],
                                        structured_content={"calls": calls})
        call = await s.get_call(str(arguments.get("event_id")))
        if name == "gradio_cancel":
            stopped = await call.cancel()
            return types.CallToolResult(content=[tools.text_block(
                f"The call {call.event_id} was cancelled." if stopped else f"The call {call.event_id} had ended.")])
        return await self._outcome(ctx, call)


async def _tell(ctx: ServerRequestContext, event: Any) -> None:
    """A call's event as the client hears it: queue and progress as progress, logs as log messages."""
    if event.name == "queued" and isinstance(event.data, dict) and event.data.get("rank") is not None:
        await ctx.session.report_progress(0, None, f"queued: position {event.data['rank'] + 1}")
    elif event.name == "progress" and isinstance(event.data, list) and event.data:
        unit = event.data[-1]
        done, total = unit.get("index"), unit.get("length")
        if done is None and unit.get("progress") is not None:
            done, total = unit["progress"], 1.0
        if done is not None:
            await ctx.session.report_progress(float(done), None if total is None else float(total),
                                              unit.get("desc") or None)
    elif event.name == "log" and isinstance(event.data, dict):
        warning = str(event.data.get("level")).lower() == "warning"
        await ctx.session.send_log_message(level="warning" if warning else "info", data=event.data.get("message"), logger="gradio",
                                           related_request_id=ctx.request_id)


async def serve(names: list[str], *, every: bool = False, http: str | None = None, token: str | None = None,
                tool_timeout: float = TOOL_TIMEOUT, allow_new: bool = False) -> None:
    """Serve the sessions named (none: the default; `every`: all of them) over stdio, or over
    streamable HTTP at `http` ("HOST:PORT", path /mcp); `allow_new`: a tool makes new sessions."""
    sessions = await aio.list_sessions() if every else [await aio.get_session(n) for n in names or ["."]]
    if not sessions:
        raise GradioSessionError("No session to serve: create one with `gradio-session new URL`.")
    served = SessionTools(sessions, tool_timeout, allow_new)
    server = served.server()
    try:
        if http is None:
            from mcp.server.stdio import stdio_server

            async with stdio_server() as (read, write):
                await server.run(read, write, server.create_initialization_options())
        else:
            await _serve_http(server, http, token)
    finally:
        for s in served.sessions.values():
            await s.aclose()


async def _serve_http(server: Server, where: str, token: str | None) -> None:
    import uvicorn
    from mcp.server.transport_security import TransportSecuritySettings

    host, _, port = where.rpartition(":")
    if not host or not port.isdigit():
        raise GradioSessionError(f"--http takes HOST:PORT (e.g. 127.0.0.1:8765), not {where!r}.")
    loopback = host in ("127.0.0.1", "localhost", "::1", "[::1]")
    if not loopback and not token:
        raise GradioSessionError(f"Serving on {host} (not this machine only) needs a bearer token: set "
                                 "GRADIO_SESSION_MCP_TOKEN; clients send `Authorization: Bearer TOKEN`.")
    names = ["127.0.0.1", "localhost"] if loopback else [host]
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=[f"{n}:{port}" for n in names],
        allowed_origins=[f"http://{n}:{port}" for n in names] + [f"https://{n}:{port}" for n in names])
    app: Any = server.streamable_http_app(streamable_http_path="/mcp", transport_security=security)
    if token:
        app = _Bearer(app, token)
    config = uvicorn.Config(app, host=host.strip("[]"), port=int(port), log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve()


class _Bearer:
    """Refuses HTTP requests without `Authorization: Bearer TOKEN` (plain ASGI: streams pass)."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        import hmac

        if scope["type"] == "http" and not hmac.compare_digest(
                dict(scope["headers"]).get(b"authorization", b""), self.expected):
            await send({"type": "http.response.start", "status": 401,
                        "headers": [(b"content-type", b"text/plain"), (b"www-authenticate", b"Bearer")]})
            await send({"type": "http.response.body", "body": b"a bearer token is required\n"})
            return
        await self.app(scope, receive, send)
