"""Benchmark: one MCP tool call through `gradio-session mcp` against a direct `s.call` on the same
endpoint, and against Gradio's own MCP server (`launch(mcp_server=True)`) on the same app.

    .venv/bin/python bench/bench_mcp.py [--calls 200] [--gradio-mcp PYTHON]

Gradio's MCP server needs the 1.x MCP SDK (`gradio[mcp]`), ours the 2.x one: the demo app with
`mcp_server=True` runs from a venv of its own (built once in `.venv-gradio-mcp/`, or `--gradio-mcp`).
Both clients are the official SDK's (2.x, speaking the handshake era as today's hosts do), in
this process: sequential `/echo` calls in rounds of 20 whose order rotates. Prints medians and
ratios to the direct call; writes `bench/results/mcp.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench_calls import App, free_port, machine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "mcp.json"
ROUND = 20
GRADIO_MCP_VENV = ROOT / ".venv-gradio-mcp"


def gradio_mcp_python(given: str | None) -> str:
    if given:
        return given
    python = GRADIO_MCP_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(GRADIO_MCP_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "gradio[mcp]==6.31.0"], check=True)
    return str(python)


def gradio_mcp_app(python: str) -> tuple[subprocess.Popen[bytes], str]:
    """The demo app with Gradio's MCP server; its MCP URL once it answers."""
    port = free_port()
    code = ("from gradio_session.demo import demo\n"
            f"demo.queue(default_concurrency_limit=None).launch(server_name='127.0.0.1', server_port={port}, "
            "mcp_server=True, quiet=True)")
    proc = subprocess.Popen([python, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(ROOT / "src"), "GRADIO_ANALYTICS_ENABLED": "False"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/config", timeout=2).status_code == 200:
                return proc, f"http://127.0.0.1:{port}/gradio_api/mcp/"
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("Gradio's MCP app did not start")


async def timed(calls: int, app: App, gradio_mcp: str) -> dict[str, list[float]]:
    from mcp import Client, StdioServerParameters

    import gradio_session as gs
    from gradio_session import aio

    gs.new_session(app.url, name="bench-sync")
    direct = await aio.new_session(app.url, name="bench-aio")
    ours = StdioServerParameters(command=sys.executable, args=["-m", "gradio_session", "mcp", "--session", "bench-sync"],
                                 env=dict(os.environ))
    async with Client(ours, mode="legacy") as mine, Client(gradio_mcp, mode="legacy") as theirs:
        runs = {
            "s.call (aio, direct)": lambda x: direct.call("echo", x, 1),
            "gradio-session mcp (stdio)": lambda x: mine.call_tool("echo", {"text": x, "times": 1}),
            "Gradio's MCP server (HTTP)": lambda x: theirs.call_tool("echo", {"text": x, "times": 1}),
        }
        for name, run in runs.items():  # warm-up, and each proves it works
            out = await run("w")
            assert out == ["w"] or [c.text for c in out.content] == ["w"], (name, out)
        times: dict[str, list[float]] = {name: [] for name in runs}
        names = list(runs)
        for r in range(max(1, calls // ROUND)):
            for name in names[r % len(names):] + names[:r % len(names)]:
                for i in range(ROUND):
                    t = time.perf_counter()
                    await runs[name](f"c{i}")
                    times[name].append(time.perf_counter() - t)
    await direct.aclose()
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--gradio-mcp", help="A Python with gradio[mcp]==6.31.0 (default: built in .venv-gradio-mcp)")
    options = parser.parse_args()
    python = gradio_mcp_python(options.gradio_mcp)
    home = tempfile.mkdtemp(prefix="gs-bench-mcp-")
    os.environ["GRADIO_SESSION_HOME"] = home
    app = App()
    theirs, url = gradio_mcp_app(python)
    try:
        times = asyncio.run(timed(options.calls, app, url))
    finally:
        app.stop()
        theirs.kill()
        shutil.rmtree(home, ignore_errors=True)
    medians = {name: statistics.median(t) * 1000 for name, t in times.items()}
    base = medians["s.call (aio, direct)"]
    print(f"Sequential /echo, {options.calls} calls each, median ms:")
    for name, ms in medians.items():
        print(f"  {name:<30}{ms:>8.2f}{ms / base:>8.2f}x")
    RESULTS.write_text(json.dumps({"machine": machine(), "calls": options.calls, "median_ms": medians}, indent=2) + "\n")


if __name__ == "__main__":
    main()
