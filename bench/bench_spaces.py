"""Reaching a Hugging Face Space by id: find it on the Hub, connect, make the first call.

A Hub stand-in (`tests/hub_standin.py`, through `HF_ENDPOINT`) serves the Space `bench/awake`,
whose app is the bundled demo app on 127.0.0.1. Each round, interleaved and rotated, times in
this process: gradio-session (`new_session("bench/awake")` + `call("echo")`), gradio_client
(`Client("bench/awake")` + `predict`), and a raw httpx client (`GET /api/spaces/{id}` for the
host, `/config` for the fn_index, one queue call): the floor. Then whole processes, spawn to
exit: `gradio-session new bench/awake` against `python -c "Client('bench/awake')"`.
@gradio/client (Node) is left out: it asks huggingface.co itself, with no setting for another Hub.

    .venv/bin/python bench/bench_spaces.py [--rounds N]
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
from typing import Any, Callable

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT / "tests"), str(HERE)]

from conftest import DEMO_APP, AppServer  # noqa: E402  (the tests' app runner: free port, ready wait)
from raw_client import RawQueueClient  # noqa: E402

SPACE = "bench/awake"


def gs_client() -> Any:
    import gradio_session as gs

    s = gs.new_session(SPACE, name="bench-space", force=True)
    out = s.call("echo", "x")
    s.close()
    return out


def gradio_client() -> Any:
    from gradio_client import Client

    return Client(SPACE, verbose=False).predict("x", 1, api_name="/echo")


LOOP = asyncio.new_event_loop()
RAW: dict[str, Any] = {}  # pooled clients kept across rounds, as the other clients keep theirs


def raw_client() -> Any:
    async def run() -> Any:
        if "http" not in RAW:  # made once: a client's TLS context costs ~40 ms
            RAW["http"] = httpx.AsyncClient()
        http = RAW["http"]
        host = (await http.get(f"{os.environ['HF_ENDPOINT']}/api/spaces/{SPACE}")).json()["host"]
        config = (await http.get(f"{host}/config")).json()
        fn_index = next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == "echo")
        if host not in RAW:
            RAW[host] = RawQueueClient(f"{host}/gradio_api", fn_index)
        return await RAW[host].call("x", 1)

    return LOOP.run_until_complete(run())


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def process_ms(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, env={**os.environ, "GRADIO_SESSION_SERVER": "0"})
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, AppServer(DEMO_APP) as app:
        spaces, seen = Path(tmp) / "spaces.json", Path(tmp) / "seen.jsonl"
        spaces.write_text(json.dumps({SPACE: {"host": app.url}}))
        with AppServer(ROOT / "tests" / "hub_standin.py", str(spaces), str(seen), ready="/ready") as hub:
            os.environ.update(HF_ENDPOINT=hub.url, GRADIO_SESSION_HOME=str(Path(tmp) / "home"),
                              HF_HOME=str(Path(tmp) / "hf"))
            os.environ.pop("HF_TOKEN", None)
            clients = {"gradio-session": gs_client, "gradio_client": gradio_client, "raw httpx": raw_client}
            for fn in clients.values():
                fn()  # imports and first connections out of the way
            runs: dict[str, list[float]] = {name: [] for name in clients}
            for r in range(args.rounds):
                names = list(clients)[r % len(clients):] + list(clients)[:r % len(clients)]
                for name in names:
                    runs[name].append(timed(clients[name]))
            whole = {"gradio-session new bench/awake": [sys.executable, "-m", "gradio_session", "new", SPACE,
                                                       "--force"],
                     "gradio_client Client('bench/awake')": [sys.executable, "-c", "from gradio_client import "
                                                            f"Client; Client({SPACE!r}, verbose=False)"],
                     "python -c pass": [sys.executable, "-c", "pass"]}
            procs: dict[str, list[float]] = {name: [] for name in whole}
            for r in range(args.rounds):
                for name in list(whole)[r % 3:] + list(whole)[:r % 3]:
                    procs[name].append(process_ms(whole[name]))
    floor = statistics.median(runs["raw httpx"])
    print(f"Space by id, find + connect + first call, in process ({args.rounds} rounds, interleaved):\n")
    print("| client | median ms | vs raw httpx |\n|---|---:|---:|")
    for name, ms in runs.items():
        print(f"| {name} | {statistics.median(ms):.1f} | {statistics.median(ms) / floor:.2f}x |")
    base = statistics.median(procs["python -c pass"])
    print("\nWhole processes, spawn to exit:\n\n| command | median ms | vs python -c pass |\n|---|---:|---:|")
    for name, ms in procs.items():
        print(f"| `{name}` | {statistics.median(ms):.0f} | {statistics.median(ms) / base:.2f}x |")


if __name__ == "__main__":
    main()
