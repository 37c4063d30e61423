"""Benchmark: a call through an HTTP proxy (proxy.py, as the tests run it) against the same call
direct, for gradio-session, the bare sync raw client (`raw_client.py`) and gradio_client.

    .venv/bin/python bench/bench_proxy.py [--calls 200]

One demo app, one proxy.py; sequential `/echo` calls in rounds of 20 whose order rotates, all
in this process. Prints medians and what the proxy adds to each client (median via proxy over
median direct), and each client's ratio to the raw client on the same path; writes
`bench/results/proxy.json`. The proxy is a Python process on the same two cores: its cost is
mostly its own CPU, the same for every client, so the ratios to raw are what to read.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench_calls import App, machine
from raw_client import RawSyncClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from netfix import HttpProxy  # noqa: E402 - the tests' proxy.py fixture

RESULTS = ROOT / "bench" / "results" / "proxy.json"
ROUND = 20


def clients(app: App, proxy: str) -> dict[str, Callable[[str], Any]]:
    import gradio_client

    import gradio_session as gs

    made: dict[str, Callable[[str], Any]] = {}
    for path, via in (("direct", None), ("via proxy", proxy)):
        s = gs.new_session(app.url, name=f"bench-{path.replace(' ', '-')}", proxy=via, force=True)
        made[f"gradio-session, {path}"] = lambda x, s=s: s.call("echo", x, 1)
        raw = RawSyncClient(app.api_url, app.fn_index("echo"))
        raw.client = httpx.Client(timeout=60, proxy=via)
        made[f"raw httpx sync, {path}"] = lambda x, raw=raw: raw.call(x, 1)
        gc = gradio_client.Client(app.url, verbose=False, httpx_kwargs={"proxy": via} if via else None,
                                  download_files=False)
        made[f"gradio_client, {path}"] = lambda x, gc=gc: gc.predict(x, 1, api_name="/echo")
    return made


def run(calls: int) -> dict[str, Any]:
    home = tempfile.mkdtemp(prefix="gs-bench-proxy-")
    os.environ["GRADIO_SESSION_HOME"] = home  # sessions of this run only, removed at its end
    try:
        return _timed(calls)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _timed(calls: int) -> dict[str, Any]:
    with HttpProxy() as proxy:
        app = App()
        try:
            made = clients(app, proxy.url)
            for name, call in made.items():  # warm-up, and each client proves it works on its path
                for i in range(5):
                    out = call(f"w{i}")
                    assert out in ([f"w{i}"], f"w{i}"), (name, out)
            times: dict[str, list[float]] = {name: [] for name in made}
            names = list(made)
            for r in range(max(1, calls // ROUND)):
                for name in names[r % len(names):] + names[:r % len(names)]:
                    for i in range(ROUND):
                        t = time.perf_counter()
                        made[name](f"c{i}")
                        times[name].append(time.perf_counter() - t)
            through = len([q for q in proxy.requests() if q.target == f"127.0.0.1:{app.port}"])
        finally:
            app.stop()
    medians = {name: statistics.median(t) * 1000 for name, t in times.items()}
    return {"machine": machine(), "calls": calls, "median_ms": medians, "proxy_requests": through}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    result = run(parser.parse_args().calls)
    m = result["median_ms"]
    print(f"Sequential /echo, {result['calls']} calls per client and path, median ms "
          f"(the proxy forwarded {result['proxy_requests']} requests):")
    print(f"{'client':<18}{'direct':>9}{'via proxy':>11}{'proxy adds':>12}{'vs raw direct':>15}{'vs raw proxy':>14}")
    for client in ("gradio-session", "raw httpx sync", "gradio_client"):
        direct, via = m[f"{client}, direct"], m[f"{client}, via proxy"]
        print(f"{client:<18}{direct:>9.2f}{via:>11.2f}{via / direct:>11.2f}x"
              f"{direct / m['raw httpx sync, direct']:>14.2f}x{via / m['raw httpx sync, via proxy']:>13.2f}x")
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
