"""Benchmark: how long the event loop stalls while 1000 calls run at once through one session.

    .venv/bin/python bench/bench_loop.py [--runs 3] [--calls 1000] [--baseline-src DIR]

A probe task sleeps 1 ms at a time on the loop that runs the calls and records how late each
wake-up is: any blocking work on the loop (SQLite writes, lock waits, sleeps) shows up as lag.
Each run gets a freshly started demo app and a new repository folder, and measures in a child
process, so `--baseline-src` (the `src` folder of another checkout, e.g. a `git worktree` of an
older commit) is measured in the same run, interleaved, for a before/after table. Prints the
table on stdout and writes the numbers to `bench/results/loop.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results" / "loop.json"
PROBE_S = 0.001


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def measure(url: str, calls: int) -> dict[str, Any]:
    """In the child: 1000 concurrent `echo` calls through one aio session, with the lag probe."""
    from gradio_session import aio

    s = await aio.new_session(url, name="loop")
    await s.call("echo", "warm", 1)
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    running = True

    async def probe() -> None:
        while running:
            t0 = loop.time()
            await asyncio.sleep(PROBE_S)
            lags.append((loop.time() - t0 - PROBE_S) * 1000)

    async def one(i: int) -> bool:
        try:
            return bool(await s.call("echo", f"c{i}", 1) == [f"c{i}"])
        except Exception:  # a failure is counted, not raised: the run goes on
            return False

    prober = loop.create_task(probe())
    t0 = time.perf_counter()
    ok = await asyncio.gather(*(one(i) for i in range(calls)))
    wall = time.perf_counter() - t0
    running = False
    await prober
    await s.aclose()
    return {"wall_s": wall, "failed": calls - sum(ok), "probes": len(lags),
            "lag_p50_ms": percentile(lags, 0.5), "lag_p99_ms": percentile(lags, 0.99),
            "lag_max_ms": max(lags) if lags else float("nan")}


def child(src: str, url: str, calls: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": src, "GRADIO_SESSION_HOME": tempfile.mkdtemp(prefix="gs-loop-")}
    out = subprocess.run([sys.executable, __file__, "--child", "--url", url, "--calls", str(calls)],
                         env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"the measuring process failed: {out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--baseline-src", help="the src folder of another checkout, measured alongside")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(measure(args.url, args.calls))))
        return

    sys.path.insert(0, str(BENCH))
    from bench_calls import App  # the demo app on a free port, started and stopped per run

    trees = {"this tree": str(ROOT / "src")}
    if args.baseline_src:
        trees["baseline"] = str(Path(args.baseline_src).resolve())
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    for run in range(args.runs):
        order = list(trees) if run % 2 == 0 else list(reversed(trees))
        for name in order:
            app = App()
            try:
                res = child(trees[name], app.url, args.calls)
            finally:
                app.stop()
            results[name].append(res)
            print(f"[bench] run {run + 1} {name}: wall {res['wall_s']:.2f} s, lag p99 "
                  f"{res['lag_p99_ms']:.1f} ms, max {res['lag_max_ms']:.1f} ms, failed {res['failed']}",
                  file=sys.stderr, flush=True)

    print(f"\n{args.calls} concurrent calls through one session, {args.runs} runs (median of runs)\n")
    print("| tree | wall s | loop lag p50 ms | p99 ms | max ms | failed |")
    print("|---|---|---|---|---|---|")
    for name, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs)
               for k in ("wall_s", "lag_p50_ms", "lag_p99_ms", "lag_max_ms")}
        print(f"| {name} | {med['wall_s']:.2f} | {med['lag_p50_ms']:.2f} | {med['lag_p99_ms']:.2f} | "
              f"{med['lag_max_ms']:.1f} | {sum(r['failed'] for r in runs)} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"calls": args.calls, "runs": results, "time": time.time()}, indent=1))


if __name__ == "__main__":
    main()
