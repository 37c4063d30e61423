"""Benchmark: sequential call latency from a plain `pip install .` venv, against the raw client.

    .venv/bin/python bench/bench_plain.py [--python PLAIN/bin/python] [--calls 200]

The dev venv carries every test and bench dependency, which can hide what a plain install
lacks (httpcore imports `sniffio` on every request; a failed import re-searches `sys.path`
each time). This builds a fresh venv with `pip install .` only (or takes `--python`), starts
the demo app with the dev interpreter, and times, inside one child process of the plain venv,
gradio-session sync, gradio-session aio and the two clients of `raw_client.py` (async, and the
bare sync one) calling `/echo` one at a time, in rounds whose order rotates. Prints medians,
p90s and ratios to the fastest raw client (the floor); writes `bench/results/plain.json`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_calls import App, machine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "plain.json"
ROUND = 20

CHILD = r"""
import asyncio, json, sys, time
sys.path.insert(0, sys.argv[1])
from raw_client import RawQueueClient, RawSyncClient
import gradio_session as gs
from gradio_session import aio

url, api_url, fn_index, calls = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
loop = asyncio.new_event_loop()
raw = RawQueueClient(api_url, fn_index)
raw_sync = RawSyncClient(api_url, fn_index)
sync_s = gs.new_session(url, name="plain-sync")
aio_s = loop.run_until_complete(aio.new_session(url, name="plain-aio"))

def timed_sync(call, n, tag):
    out = []
    for i in range(n):
        t = time.perf_counter(); assert call(f"{tag}{i}") == [f"{tag}{i}"]
        out.append(time.perf_counter() - t)
    return out

async def timed_async(call, n, tag):
    out = []
    for i in range(n):
        t = time.perf_counter(); assert await call(f"{tag}{i}") == [f"{tag}{i}"]
        out.append(time.perf_counter() - t)
    return out

runs = {
    "gradio-session sync": lambda n: timed_sync(lambda x: sync_s.call("echo", x, 1), n, "s"),
    "gradio-session aio": lambda n: loop.run_until_complete(timed_async(lambda x: aio_s.call("echo", x, 1), n, "a")),
    "raw httpx async": lambda n: loop.run_until_complete(timed_async(lambda x: raw.call(x, 1), n, "r")),
    "raw httpx sync": lambda n: timed_sync(lambda x: raw_sync.call(x, 1), n, "y"),
}
for run in runs.values():
    run(10)  # warm-up
times = {name: [] for name in runs}
names = list(runs)
for r in range(max(1, calls // %d)):
    order = names[r %% len(names):] + names[:r %% len(names)]
    for name in order:
        times[name] += runs[name](%d)
import importlib.util
print(json.dumps({"times": times, "sniffio": importlib.util.find_spec("sniffio") is not None}))
""" % (ROUND, ROUND)


def plain_venv(where: Path) -> Path:
    """A venv with `pip install .` and nothing else."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    python = where / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(ROOT)], check=True)
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--python", help="the interpreter of an existing plain venv")
    parser.add_argument("--calls", type=int, default=200, help="timed calls per client")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        python = Path(args.python) if args.python else plain_venv(Path(tmp) / "venv")
        app = App()
        try:
            env = {"GRADIO_SESSION_HOME": str(Path(tmp) / "home"), "PATH": "/usr/bin:/bin"}
            out = subprocess.run(
                [str(python), "-c", CHILD, str(ROOT / "bench"), app.url, app.api_url,
                 str(app.fn_index("echo")), str(args.calls)],
                capture_output=True, text=True, env=env, check=False)
        finally:
            app.stop()
    if out.returncode != 0:
        sys.exit(f"the plain-venv client failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    floor = min(statistics.median(result["times"][name]) for name in ("raw httpx async", "raw httpx sync"))
    print(f"sniffio installed in the plain venv: {result['sniffio']}\n")
    print("| client | median ms | p90 ms | ratio to the fastest raw client |\n|---|---|---|---|")
    for name, times in result["times"].items():
        med, p90 = statistics.median(times), statistics.quantiles(times, n=10)[-1]
        print(f"| {name} | {med * 1e3:.2f} | {p90 * 1e3:.2f} | {med / floor:.2f}x |")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": machine(), "calls": args.calls, **result}, indent=1) + "\n")


if __name__ == "__main__":
    main()
