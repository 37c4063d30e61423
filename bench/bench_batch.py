"""Benchmark: a dataset through `/echo` of the demo app with `gradio-session batch`, against a
hand-written asyncio + httpx loop over the queue protocol (`raw_batch.py`), same concurrency.

    .venv/bin/python bench/bench_batch.py [--rows 10000,100000] [--concurrency 8] [--dask-rows 10000]

Each run is a whole process timed from spawn to exit, with its peak RSS (`wait4`), against a
freshly started demo app (Gradio slows down as it serves many calls). For each size the two
clients run back to back in alternating order, each with `--concurrency` calls in flight.
`--engine dask` runs at `--dask-rows` on a LocalCluster of DASK_WORKERS worker processes this
script starts (`--scheduler`: the command's own would take a worker per core), each worker
with its share of the concurrency, so the calls in flight are the same in all. Prints a
markdown table and writes `bench/results/batch.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT / "tests"), str(HERE)]

from conftest import DEMO_APP, AppServer  # noqa: E402  (the tests' app runner: free port, ready wait)

RESULTS = HERE / "results" / "batch.json"
DASK_WORKERS = 2


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(seconds from spawn to exit, peak RSS in MB, CPU seconds) of one process; it must succeed."""
    started = time.monotonic()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{command[:4]} exited {proc.returncode}: {err[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime  # RSS in KB on Linux


def fn_index(app: AppServer, api_name: str) -> tuple[str, int]:
    import httpx

    config = httpx.get(f"{app.url}/config", timeout=10).json()
    api_url = app.url + "/" + str(config.get("api_prefix") or "/gradio_api").strip("/")
    for i, dep in enumerate(config["dependencies"]):
        if dep.get("api_name") == api_name:
            return api_url, int(dep.get("id", i))
    raise KeyError(api_name)


def run_one(client: str, rows: int, source: Path, work: Path, concurrency: int,
            scheduler: str | None = None) -> dict[str, Any]:
    out = work / f"{client}-{rows}.jsonl"
    with AppServer(DEMO_APP) as app:
        env = {**os.environ, "GRADIO_SESSION_HOME": str(work / f"home-{client}-{rows}"), "GRADIO_SESSION_SERVER": "0"}
        if client == "raw":
            api_url, fn = fn_index(app, "echo")
            command = [sys.executable, str(HERE / "raw_batch.py"), api_url, str(fn), str(source), str(out),
                       str(concurrency)]
        else:
            subprocess.run([sys.executable, "-m", "gradio_session", "new", app.url, "--name", "bench"], env=env,
                           check=True, capture_output=True)
            per_worker = max(1, concurrency // DASK_WORKERS) if client == "gs-dask" else concurrency
            command = [sys.executable, "-m", "gradio_session", "batch", "echo", "-i", str(source), "-o", str(out),
                       "-c", str(per_worker)]
            if client == "gs-dask":
                command += ["--engine", "dask", "--scheduler", str(scheduler)]
        seconds, rss, cpu = timed(command, env)
    written = sum(1 for _ in open(out, "rb"))
    ok = sum(json.loads(line)["status"] == "ok" for line in open(out, "rb"))
    out.unlink()
    in_flight = max(1, concurrency // DASK_WORKERS) * DASK_WORKERS if client == "gs-dask" else concurrency
    result = {"client": client, "rows": rows, "seconds": seconds, "rows_per_s": rows / seconds, "peak_rss_mb": rss,
              "cpu_s": cpu, "written": written, "ok": ok, "in_flight": in_flight}
    log(f"{client:8} {rows:>7} rows: {seconds:7.1f} s, {rows / seconds:6.1f} rows/s, peak RSS {rss:.0f} MB, CPU {cpu:.1f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="10000,100000", help="input sizes, comma-separated")
    parser.add_argument("--dask-rows", type=int, default=10000, help="size run with --engine dask (0: none)")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    sizes = [int(n) for n in args.rows.split(",")]
    work = Path(tempfile.mkdtemp(prefix="gs-bench-batch-"))
    results: list[dict[str, Any]] = []
    for turn, rows in enumerate(sizes):
        source = work / f"in-{rows}.jsonl"
        with open(source, "w") as f:
            for i in range(rows):
                f.write(json.dumps({"text": f"row {i}"}) + "\n")
        order = ["gs", "raw"] if turn % 2 == 0 else ["raw", "gs"]
        results += [run_one(client, rows, source, work, args.concurrency) for client in order]
        if rows == args.dask_rows:
            results.append(run_dask(rows, source, work, args.concurrency))
    by = {(r["client"], r["rows"]): r for r in results}
    print(f"\nraw: raw_batch.py; gs: `gradio-session batch`; gs-dask: the same on {DASK_WORKERS} Dask workers "
          "(one session each, so the app serves as many streams); 'in flight': calls at once in all.")
    print("\n| rows | client | in flight | s | rows/s | vs raw | peak RSS MB | client CPU s |\n"
          "|---|---|---|---|---|---|---|---|")
    for rows in sizes:
        for client in ("raw", "gs", "gs-dask"):
            r = by.get((client, rows))
            if r:
                ratio = by[("raw", rows)]["rows_per_s"] / r["rows_per_s"]
                print(f"| {rows} | {client} | {r['in_flight']} | {r['seconds']:.1f} | {r['rows_per_s']:.1f} | "
                      f"{ratio:.2f}x | {r['peak_rss_mb']:.0f} | {r['cpu_s']:.1f} |")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"meta": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                            "date": time.strftime("%Y-%m-%d"), "system": platform.platform(),
                                            "concurrency": args.concurrency, "dask_workers": DASK_WORKERS,
                                            "sizes": sizes, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
                                   "runs": results}, indent=1) + "\n")


def run_dask(rows: int, source: Path, work: Path, concurrency: int) -> dict[str, Any]:
    """The Dask engine on a LocalCluster of DASK_WORKERS workers (one thread each) started here."""
    import distributed

    with distributed.LocalCluster(n_workers=DASK_WORKERS, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        return run_one("gs-dask", rows, source, work, concurrency, cluster.scheduler_address)


if __name__ == "__main__":
    main()
