"""`gradio-session mcp` driven by the official MCP SDK's client (and the MCP Inspector's CLI from
npm, a second reading of the wire) against real Gradio apps, over stdio and streamable HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

import gradio_session as gs
from conftest import APPS, DEMO_APP, AppServer, cli, free_port, gradio_versions, never_written

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def server_command(*args: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "gradio_session", "mcp", *args],
                                 env={k: v for k, v in os.environ.items() if k.startswith(("GRADIO_SESSION_", "PATH",
                                                                                          "PYTHON", "HOME"))})


@asynccontextmanager
async def stdio_client(*args: str, **options: Any) -> AsyncIterator[Client]:
    async with Client(server_command(*args), mode="legacy", **options) as client:  # as today's hosts speak
        yield client


def text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


def test_tools_calls_state_progress_and_errors_over_stdio(demo_app: AppServer) -> None:
    gs.new_session(demo_app.url, name="agent")
    progress: list[tuple[float, float | None, str | None]] = []
    logs: list[Any] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async def on_log(params: Any) -> None:
        logs.append((params.level, params.data))

    async def run() -> None:
        async with stdio_client(logging_callback=on_log) as client:
            listed = {t.name: t for t in (await client.list_tools()).tools}
            assert {"echo", "count", "steps", "choose", "gradio_result", "gradio_cancel", "gradio_calls"} <= set(listed)
            echo = listed["echo"].input_schema
            assert echo["required"] == ["text"] and echo["properties"]["times"]["default"] == 1
            assert echo["properties"]["text"]["title"] == "Text" and "echo" in (listed["echo"].description or "")
            assert echo["properties"]["times"]["type"] == "number"
            items = listed["choose"].input_schema["properties"]["items"]
            assert items["type"] == "array" and items["items"]["enum"] == ["x", "y", "z"]
            assert text(await client.call_tool("echo", {"text": "hi ", "times": 2})) == "hi hi "
            for word, n in (("a", 1), ("b", 2)):  # gr.State carries from one tool call to the next
                assert text(await client.call_tool("count", {"text": word})) == f"{word} (call {n} of this session)"
            r = await client.call_tool("steps", {"n": 3}, progress_callback=on_progress)
            assert text(r) == "3 steps" and not r.is_error
            bad = await client.call_tool("choose", {"flag": True, "items": ["w"]})
            assert bad.is_error and "'items'" in text(bad) and "['x', 'y', 'z']" in text(bad)
            failed = await client.call_tool("fail", {"text": "x"})
            assert failed.is_error and text(failed) == "The app said: cannot process 'x'"
            structured = await client.call_tool("add", {"a": 1, "b": 2.5})
            assert structured.structured_content == {"result": [3.5]} and text(structured) == "3.5"
            # the same session from the shell, while the server holds it: the state is the same tab's
            r = await anyio.to_thread.run_sync(lambda: cli("call", "count", "c", "--session", "agent"))
            assert r.returncode == 0 and r.stdout == "c (call 3 of this session)\n", r.stderr

    asyncio.run(run())
    assert [p for p in progress if p[1] == 3.0] and progress[0][2] == "queued: position 1"
    assert ("info", "stepping 3 times") in logs and ("warning", "all steps done") in logs
    endpoints = [c.endpoint for c in gs.get_session("agent").calls()]
    assert endpoints.count("/count") == 3 and "/steps" in endpoints  # every tool call recorded like any call


def test_files_in_as_base64_and_an_image_out(tmp_path: Path) -> None:
    with AppServer(APPS / "files_app.py") as app:
        gs.new_session(app.url, name="pics")

        async def run() -> Any:
            async with stdio_client() as client:
                data = "data:image/png;base64," + base64.b64encode(PNG).decode()
                return await client.call_tool("image", {"path": data})

        r = asyncio.run(run())
    assert not r.is_error, text(r)
    (image,) = [c for c in r.content if c.type == "image"]
    assert image.mime_type == "image/png" and base64.b64decode(image.data).startswith(b"\x89PNG")
    assert Path(text(r).removeprefix("file: ")).is_file()  # downloaded into the session's folder, said


def test_a_path_an_app_names_is_never_read(tmp_path: Path) -> None:
    """An app's JSON naming a picture on this machine (no FileData, so nothing was downloaded):
    the agent gets the JSON, never the file's bytes."""
    secret = tmp_path / "private.png"
    secret.write_bytes(PNG + b"TOP-SECRET")
    with AppServer(APPS / "display_app.py") as app:
        gs.new_session(app.url, name="claims")

        async def run() -> Any:
            async with stdio_client() as client:
                return await client.call_tool("claim", {"text": str(secret)})

        r = asyncio.run(run())
    assert not r.is_error and [c.type for c in r.content] == ["text"]
    assert json.loads(text(r)) == {"path": str(secret), "orig_name": "photo.png"}
    assert "TOP-SECRET" not in json.dumps(r.model_dump()) and base64.b64encode(PNG).decode() not in json.dumps(r.model_dump())


def test_a_long_call_goes_on_and_is_followed(demo_app: AppServer) -> None:
    gs.new_session(demo_app.url, name="long")

    async def run() -> tuple[Any, Any]:
        async with stdio_client("--tool-timeout", "1") as client:
            first = await client.call_tool("slow", {"seconds": 3})
            event_id = first.structured_content["event_id"]
            calls = await client.call_tool("gradio_calls", {})
            assert any(c["event_id"] == event_id for c in calls.structured_content["calls"])
            later = await client.call_tool("gradio_result", {"event_id": event_id})
            while "still running" in text(later):
                later = await client.call_tool("gradio_result", {"event_id": event_id})
            return first, later

    first, later = asyncio.run(run())
    assert "is still running" in text(first) and text(later) == "slept 3"


def test_a_client_cancellation_cancels_the_call(demo_app: AppServer, tmp_path: Path) -> None:
    s = gs.new_session(demo_app.url, name="stop")
    marker = tmp_path / "marker"
    since = time.monotonic()

    async def run() -> None:
        async with stdio_client() as client:
            with anyio.move_on_after(1.5):
                await client.call_tool("marker", {"path": str(marker), "seconds": 3})
            await anyio.sleep(1)  # the server hears the cancellation and cancels the call

    asyncio.run(run())
    never_written(marker, since, 3)
    assert s.calls()[-1].status == "cancelled"


def _http_server(port: int, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "gradio_session", "mcp", "--http", f"127.0.0.1:{port}", *args],
                            env={**os.environ, **(env or {})}, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    import socket

    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the MCP server did not listen")


def test_streamable_http_with_a_token_and_host_checks(demo_app: AppServer) -> None:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    gs.new_session(demo_app.url, name="web")
    port = free_port()
    proc = _http_server(port, env={"GRADIO_SESSION_MCP_TOKEN": "t0ken-xyz"})
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        async def run() -> list[str]:
            async with httpx2.AsyncClient(headers={"Authorization": "Bearer t0ken-xyz"}, timeout=60) as http:
                async with Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
                    assert text(await client.call_tool("echo", {"text": "web"})) == "web"
                    return [t.name for t in (await client.list_tools()).tools]

        assert "echo" in asyncio.run(run())
        import httpx

        hello = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        assert httpx.post(url, json=hello).status_code == 401  # no token
        wrong_host = httpx.post(url, json=hello, headers={"Authorization": "Bearer t0ken-xyz", "Host": "evil.example"})
        assert wrong_host.status_code == 421  # DNS rebinding: the SDK's Host check
    finally:
        proc.kill()
    r = cli("mcp", "--http", f"0.0.0.0:{free_port()}", env={"GRADIO_SESSION_MCP_TOKEN": ""})
    assert r.returncode == 1 and "needs a bearer token" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("version", [v for v in gradio_versions() if v.startswith(("3.", "4.44"))])
def test_older_gradio_as_tools(version: str) -> None:
    with AppServer(DEMO_APP, python=gradio_versions()[version]) as app:
        gs.new_session(app.url, name="old")

        async def run() -> None:
            async with stdio_client() as client:
                assert "echo" in {t.name for t in (await client.list_tools()).tools}
                assert text(await client.call_tool("echo", {"text": "o", "times": 2})) == "oo"
                for word, n in (("a", 1), ("b", 2)):
                    assert text(await client.call_tool("count", {"text": word})) == f"{word} (call {n} of this session)"

        asyncio.run(run())


def test_the_mcp_inspector_reads_the_same_tools(demo_app: AppServer) -> None:
    """A second, independent client: the MCP Inspector's CLI (Node), pinned."""
    npx = shutil.which("npx")
    assert npx, "the tests need Node's npx (the MCP Inspector's CLI)"
    gs.new_session(demo_app.url, name="inspected")
    base = [npx, "-y", "@modelcontextprotocol/inspector@0.15.0", "--cli", sys.executable, "-m", "gradio_session", "mcp"]
    listed = subprocess.run([*base, "--method", "tools/list"], capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stderr
    tools = {t["name"]: t for t in json.loads(listed.stdout)["tools"]}
    assert tools["echo"]["inputSchema"]["required"] == ["text"]
    called = subprocess.run([*base, "--method", "tools/call", "--tool-name", "echo", "--tool-arg", "text=ins",
                             "--tool-arg", "times=2"], capture_output=True, text=True, timeout=300)
    assert called.returncode == 0, called.stderr
    assert json.loads(called.stdout)["content"] == [{"type": "text", "text": "insins"}]


def test_new_sessions_only_when_allowed(demo_app: AppServer) -> None:
    """No tool reaches a new app unless --allow-new; with it, a new session's tools are listed
    and clients are told the list changed."""
    import mcp.types as types

    gs.new_session(demo_app.url, name="first")
    told: list[Any] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            told.append(message)

    async def run() -> tuple[set[str], Any, set[str], set[str]]:
        async with stdio_client() as client:
            plain = {t.name for t in (await client.list_tools()).tools}
            refused = await client.call_tool("gradio_new_session", {"app": demo_app.url})
        async with stdio_client("--allow-new", message_handler=on_message) as client:
            before = {t.name for t in (await client.list_tools()).tools}
            made = await client.call_tool("gradio_new_session", {"app": demo_app.url, "name": "second"})
            assert not made.is_error, text(made)
            await anyio.sleep(0.5)
            after = {t.name for t in (await client.list_tools(cache_mode="refresh")).tools}
        return plain, refused, before, after - before

    plain, refused, before, added = asyncio.run(run())
    assert "gradio_new_session" not in plain and refused.is_error and "No tool named" in text(refused)
    assert "first_echo" in before and "second_echo" in added and told
    assert {s.name for s in gs.list_sessions()} == {"first", "second"}
