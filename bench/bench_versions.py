"""Benchmark: gradio-session on each Gradio of the test matrix, against that release's own gradio_client.

    .venv/bin/python bench/bench_versions.py [--rounds 10] [--calls 20] [VERSION ...]

For each Gradio release built by `make test` (`.venv-gradio/VERSION`, and the dev venv's), the
bundled demo app is served by that release on a free 127.0.0.1 port, and its `/echo` endpoint
is called one call after another by:

1. gradio-session (sync API, this venv): the dialect of that release;
2. the `gradio_client` that release installs (in its venv: 0.6 speaks 3.x's WebSocket queue,
   later ones the SSE protocols), in a worker process timed in-process.

Rounds alternate the two clients (who goes first rotates), after a warm-up. Reported per
version: median and p90 per-call latency in ms, and the ratio of medians (gradio-session /
gradio_client). Results go to `bench/results/versions.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_HOME = tempfile.mkdtemp(prefix="gs-bench-")
os.environ["GRADIO_SESSION_HOME"] = _HOME
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio_session as gs  # noqa: E402

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "tests"))
from conftest import DEMO_APP, AppServer, gradio_versions  # noqa: E402

RESULTS = BENCH / "results" / "versions.json"
WARMUP = 5

# The other client, in the release's own venv: one line of JSON per command, timings taken inside.
WORKER = """
import json, sys, time
from gradio_client import Client
client = Client(sys.argv[1], verbose=False)
print("ready", flush=True)
for line in sys.stdin:
    times = []
    for i in range(int(line)):
        t = time.perf_counter()
        out = client.predict(f"w{i}", 1, api_name="/echo")
        times.append((time.perf_counter() - t) * 1000)
        assert out == f"w{i}", out
    print(json.dumps(times), flush=True)
"""


class Worker:
    def __init__(self, python: str, url: str) -> None:
        self.proc = subprocess.Popen([python, "-c", WORKER, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"

    def calls(self, n: int) -> list[float]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{n}\n")
        self.proc.stdin.flush()
        return list(json.loads(self.proc.stdout.readline()))

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def ours(session: gs.Session, n: int) -> list[float]:
    times = []
    for i in range(n):
        t = time.perf_counter()
        out = session.call("echo", f"s{i}", 1)
        times.append((time.perf_counter() - t) * 1000)
        assert out == [f"s{i}"], out
    return times


def bench(version: str, python: str, rounds: int, calls: int) -> dict[str, object]:
    with AppServer(DEMO_APP, python=python) as app:
        session = gs.new_session(app.url, name=f"bench-{version}")
        worker = Worker(python, app.url)
        try:
            ours(session, WARMUP)
            worker.calls(WARMUP)
            got: dict[str, list[float]] = {"gradio-session": [], "gradio_client": []}
            for r in range(rounds):
                order = ["gradio-session", "gradio_client"][:: 1 if r % 2 == 0 else -1]
                for who in order:
                    got[who] += ours(session, calls) if who == "gradio-session" else worker.calls(calls)
            dialect = session.app.protocol or "run"
        finally:
            worker.close()
            session.close()
    stats = {who: {"median": statistics.median(t), "p90": statistics.quantiles(t, n=10)[-1]} for who, t in got.items()}
    return {"version": version, "protocol": dialect, **stats,
            "ratio": stats["gradio-session"]["median"] / stats["gradio_client"]["median"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("versions", nargs="*", help="Gradio releases to run (default: every one built)")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--calls", type=int, default=20, help="calls per client per round")
    args = parser.parse_args()
    built = gradio_versions()
    rows = []
    for version in args.versions or list(built):
        print(f"Gradio {version}...", file=sys.stderr, flush=True)
        rows.append(bench(version, built[version], args.rounds, args.calls))
    print("| Gradio | protocol | gradio-session median / p90 ms | its gradio_client median / p90 ms | ratio |")
    print("|---|---|---:|---:|---:|")
    for row in rows:
        ours_, theirs = row["gradio-session"], row["gradio_client"]
        print(f"| {row['version']} | {row['protocol']} | {ours_['median']:.1f} / {ours_['p90']:.1f} | "  # type: ignore[index]
              f"{theirs['median']:.1f} / {theirs['p90']:.1f} | {row['ratio']:.2f}x |")  # type: ignore[index]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
