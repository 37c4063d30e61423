"""Benchmark: sequential call latency from a plain `pip install .` venv, against the raw clients.

    .venv/bin/python bench/bench_plain.py [--python PLAIN/bin/python] [--calls 200]
        [--baseline OLD/bin/python --runs 3]

The dev venv carries every test and bench dependency, which can hide what a plain install
lacks (httpcore imports `sniffio` on every request; a failed import re-searches `sys.path`
each time). This builds a fresh venv with `pip install .` only (or takes `--python`), starts
the demo app with the dev interpreter, and times, inside one child process of the plain venv,
gradio-session sync, gradio-session aio and the two clients of `raw_client.py` (async, and the
bare sync one) calling `/echo` one at a time, in rounds whose order rotates: each call's wall
time, and each round's CPU time of the process per call (`time.process_time`). Prints medians,
p90s and ratios to the fastest raw client (the floor); writes `bench/results/plain.json`.

`--baseline` is the plain venv of another checkout (`pip install` of a `git worktree` of an
older commit): its child and this one run in turn, `--runs` times each, each against a fresh
app, and a before/after table gives the median over runs of each one's ratio to its own run's
floor. The absolute times drift as the machine and the app do; the ratios within a run do not.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

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

def with_cpu(run, n):
    cpu = time.process_time(); out = run(n)
    return out, (time.process_time() - cpu) / n

runs = {
    "gradio-session sync": lambda n: timed_sync(lambda x: sync_s.call("echo", x, 1), n, "s"),
    "gradio-session aio": lambda n: loop.run_until_complete(timed_async(lambda x: aio_s.call("echo", x, 1), n, "a")),
    "raw httpx async": lambda n: loop.run_until_complete(timed_async(lambda x: raw.call(x, 1), n, "r")),
    "raw httpx sync": lambda n: timed_sync(lambda x: raw_sync.call(x, 1), n, "y"),
}
for run in runs.values():
    run(10)  # warm-up
times = {name: [] for name in runs}
cpu = {name: [] for name in runs}
names = list(runs)
for r in range(max(1, calls // %d)):
    order = names[r %% len(names):] + names[:r %% len(names)]
    for name in order:
        out, per_call = with_cpu(runs[name], %d)
        times[name] += out
        cpu[name].append(per_call)
import importlib.util
print(json.dumps({"times": times, "cpu": cpu, "sniffio": importlib.util.find_spec("sniffio") is not None}))
""" % (ROUND, ROUND)


def plain_venv(where: Path) -> Path:
    """A venv with `pip install .` and nothing else."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    python = where / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(ROOT)], check=True)
    return python


def measure(python: Path, calls: int, home: Path) -> dict[str, Any]:
    """One child of `python`'s venv timing every client against a freshly started demo app."""
    app = App()
    try:
        env = {"GRADIO_SESSION_HOME": str(home), "PATH": "/usr/bin:/bin"}
        out = subprocess.run(
            [str(python), "-c", CHILD, str(ROOT / "bench"), app.url, app.api_url,
             str(app.fn_index("echo")), str(calls)],
            capture_output=True, text=True, env=env, check=False)
    finally:
        app.stop()
    if out.returncode != 0:
        sys.exit(f"the plain-venv client ({python}) failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def floor_of(result: dict[str, Any]) -> float:
    return min(statistics.median(result["times"][name]) for name in ("raw httpx async", "raw httpx sync"))


def table(result: dict[str, Any]) -> str:
    floor = floor_of(result)
    lines = ["| client | median ms | p90 ms | CPU ms per call | ratio to the fastest raw client |",
             "|---|---|---|---|---|"]
    for name, times in result["times"].items():
        med, p90 = statistics.median(times), statistics.quantiles(times, n=10)[-1]
        lines.append(f"| {name} | {med * 1e3:.2f} | {p90 * 1e3:.2f} | "
                     f"{statistics.median(result['cpu'][name]) * 1e3:.2f} | {med / floor:.2f}x |")
    return "\n".join(lines)


def before_after(runs: dict[str, list[dict[str, Any]]]) -> str:
    """Per client: the median over runs of its ratio to the floor of its own run, and of its
    CPU per call, before and after."""
    lines = ["| client | before: ratio | after: ratio | before: CPU ms/call | after: CPU ms/call |",
             "|---|---|---|---|---|"]
    for name in runs["after"][0]["times"]:
        cells = []
        for what in ("ratio", "cpu"):
            for side in ("before", "after"):
                if what == "ratio":
                    values = [statistics.median(r["times"][name]) / floor_of(r) for r in runs[side]]
                    cells.append(f"{statistics.median(values):.2f}x")
                else:
                    values = [statistics.median(r["cpu"][name]) * 1e3 for r in runs[side]]
                    cells.append(f"{statistics.median(values):.2f}")
        lines.append(f"| {name} | {cells[0]} | {cells[1]} | {cells[2]} | {cells[3]} |")
    return "\n".join(lines)


def summary(result: dict[str, Any]) -> dict[str, dict[str, float]]:
    """A run in three numbers per client: median ms, CPU ms per call, ratio to its floor."""
    floor = floor_of(result)
    return {name: {"median_ms": round(statistics.median(times) * 1e3, 3),
                   "cpu_ms": round(statistics.median(result["cpu"][name]) * 1e3, 3),
                   "ratio": round(statistics.median(times) / floor, 3)}
            for name, times in result["times"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--python", help="the interpreter of an existing plain venv")
    parser.add_argument("--calls", type=int, default=200, help="timed calls per client")
    parser.add_argument("--baseline", help="the interpreter of a plain venv of another checkout (before)")
    parser.add_argument("--runs", type=int, default=1, help="runs of each (in turn with --baseline)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        python = Path(args.python) if args.python else plain_venv(Path(tmp) / "venv")
        sides = {"before": Path(args.baseline), "after": python} if args.baseline else {"after": python}
        runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        for i in range(args.runs):
            for side, interpreter in sides.items():
                runs[side].append(measure(interpreter, args.calls, Path(tmp) / f"home-{side}-{i}"))
                print(f"{side}, run {i + 1}:\n{table(runs[side][-1])}\n", flush=True)
    result = runs["after"][-1]
    print(f"sniffio installed in the plain venv: {result['sniffio']}\n")
    if args.baseline:
        print(f"Before/after, medians of {args.runs} interleaved runs each:\n{before_after(runs)}")
    RESULTS.parent.mkdir(exist_ok=True)
    summaries = {side: [summary(r) for r in rs] for side, rs in runs.items()} if args.baseline else None
    RESULTS.write_text(json.dumps({"machine": machine(), "calls": args.calls, **result,
                                   "runs": summaries}, indent=1) + "\n")


if __name__ == "__main__":
    main()
