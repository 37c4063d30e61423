"""Benchmark: a one-shot call from the shell, as whole processes, against Node's client.

    .venv/bin/python bench/bench_oneshot.py [--rounds 15]

Starts the bundled demo app on a free 127.0.0.1 port, records a session in a throwaway
repository, then times each command below from spawn to exit, one run of each per round in an
order that rotates every round, so drift hits all alike:

- `python -c "print('x')"`: the floor, a Python process that does (next to) nothing
- `gradio-session call echo x`: the usual case of a script, where this directory's CLI server
  runs (a cold call starts it; it is started before the rounds)
- the same with `--json`
- the same with GRADIO_SESSION_SERVER=0: a cold process that imports and does everything itself
- `gradio-session --help`
- `node oneshot.mjs`: @gradio/client's `Client.connect(url)` + `predict("/echo", ["x", 1])` + exit
- `hf-gradio predict` (gradio_client's command line), if installed

Then, in a new folder each round (no server there yet), a script's first SCRIPT calls in a row:
the time of each and whether the directory's CLI server ran it (the first one starts it).

Each result is checked (stdout holds the echoed text). It prints the median and p90 of each
command and the median of its per-round ratio to Node's run of the same round, and writes every
time to `bench/results/oneshot.json`. Child processes run without PYTHONDONTWRITEBYTECODE, as
a user's shell does (cached bytecode).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
NODE_DIR = BENCH / "node"
RESULTS = BENCH / "results" / "oneshot.json"
SCRIPT = 5  # calls in a row in a new folder
WARM = "gradio-session call (warm: served by the CLI server)"
COLD = "gradio-session call (cold: no server, a process of its own)"
NODE = "@gradio/client one-shot (node, cold)"
BIN = Path(sys.executable).parent


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_app(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    app = subprocess.Popen([sys.executable, "-m", "gradio_session.demo", str(port)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=2):
                return app
        except OSError:
            time.sleep(0.2)
    app.kill()
    raise RuntimeError("the demo app did not start")


def node_ready() -> bool:
    """Node and the pinned @gradio/client (installed with npm on first use)."""
    if not shutil.which("node"):
        return False
    if not (NODE_DIR / "node_modules" / "@gradio" / "client" / "package.json").exists():
        if not shutil.which("npm"):
            return False
        log("npm install (bench/node) ...")
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True,
                       stdout=subprocess.DEVNULL)
    return True


def timed(argv: list[str], env: dict[str, str], expect: str, cwd: str) -> float | None:
    """Wall seconds from spawn to exit; None if it failed or printed the wrong result."""
    t0 = time.perf_counter()
    r = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - t0
    if r.returncode != 0 or expect not in r.stdout:
        log(f"  failed: {' '.join(argv[:3])}...: exit {r.returncode}: {r.stderr.strip()[-300:]}")
        return None
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="gs-oneshot-")
    workdir = tempfile.mkdtemp(prefix="gs-oneshot-cwd-")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(GRADIO_SESSION_HOME=home, GRADIO_ANALYTICS_ENABLED="False", GRADIO_SESSION_SERVER_IDLE="120")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = start_app(port, env)
    gs = str(BIN / "gradio-session")
    try:
        subprocess.run([gs, "new", url, "--name", "bench"], env=env, cwd=workdir, check=True, capture_output=True)
        commands: dict[str, tuple[list[str], dict[str, str], str]] = {
            "python -c print('x') (floor)": ([sys.executable, "-c", "print('x')"], env, "x"),
            WARM: ([gs, "call", "echo", "x", "-s", "bench"], env, "x"),
            "gradio-session call --json (warm: served)": ([gs, "call", "echo", "x", "-s", "bench", "--json"], env,
                                                          '"x"'),
            COLD: ([gs, "call", "echo", "x", "-s", "bench"], {**env, "GRADIO_SESSION_SERVER": "0"}, "x"),
            "gradio-session --help": ([gs, "--help"], env, "Usage"),
        }
        if node_ready():
            commands[NODE] = (
                ["node", str(NODE_DIR / "oneshot.mjs"), url, "/echo", '["x", 1]'], env, "x")
        hf = shutil.which("hf-gradio", path=str(BIN)) or shutil.which("hf-gradio")
        if hf:
            commands["hf-gradio predict"] = ([hf, "predict", url, "/echo", '{"text": "x", "times": 1}'], env, "x")
        log("warm-up: a cold call starts this directory's CLI server ...")
        for _ in range(2):
            timed(commands[WARM][0], env, "x", workdir)
        deadline = time.monotonic() + 30
        while not list(Path(home, "run").glob("*.pid")) and time.monotonic() < deadline:
            time.sleep(0.1)
        for name, (argv, cmd_env, expect) in commands.items():  # one untimed run each (caches, bytecode)
            timed(argv, cmd_env, expect, workdir)

        names = list(commands)
        times: dict[str, list[float | None]] = {n: [] for n in names}
        for r in range(args.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                argv, cmd_env, expect = commands[name]
                times[name].append(timed(argv, cmd_env, expect, workdir))
            log(f"round {r + 1}/{args.rounds}")
        script = script_rounds(gs, env, home, args.rounds)
    finally:
        app.kill()
        for pid_file in Path(home, "run").glob("*.pid"):
            try:
                os.kill(int(pid_file.read_text()), 15)
            except (OSError, ValueError):
                pass
        app.wait()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)

    node = NODE if NODE in names else None
    print(f"\nOne-shot `/echo` call as a whole process, {args.rounds} rounds, interleaved "
          f"(Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)\n")
    print("Node's one-shot is cold (it connects, reads the app's config and API, then calls); a served "
          "call is warm (the server has them, and the connection). Compare cold with cold.\n")
    print("| command | median ms | p90 ms | failures | x Node, cold (median of per-round ratios) |")
    print("|---|---:|---:|---:|---:|")
    for name in names:
        ok = [t for t in times[name] if t is not None]
        if not ok:
            print(f"| {name} | - | - | {len(times[name])} | - |")
            continue
        p90 = sorted(ok)[max(0, round(0.9 * len(ok)) - 1)]
        ratio = "-"
        if node and name != node:
            pairs = [a / b for a, b in zip(times[name], times[node]) if a is not None and b is not None]
            ratio = f"{statistics.median(pairs):.2f}x" if pairs else "-"
        print(f"| {name} | {statistics.median(ok) * 1000:.0f} | {p90 * 1000:.0f} | "
              f"{len(times[name]) - len(ok)} | {ratio} |")
    print(f"\nA script's first {SCRIPT} calls in a row, in a new folder (no server there yet), {args.rounds} rounds\n")
    print("| call | median ms | served by the CLI server |")
    print("|---|---:|---:|")
    for i in range(SCRIPT):
        ms = [r[i][0] * 1000 for r in script if r[i][0] is not None]
        served = sum(r[i][1] for r in script)
        print(f"| {i + 1} | {statistics.median(ms):.0f} | {served}/{len(script)} |" if ms else f"| {i + 1} | - | - |")
    if node:
        pairs = [a / b for a, b in zip(times[COLD], times[node]) if a is not None and b is not None]
        warm = [a / b for a, b in zip(times[WARM], times[node]) if a is not None and b is not None]
        if pairs and warm:
            print(f"\nCold against cold: {statistics.median(pairs):.2f}x Node's one-shot; warm (served) against "
                  f"Node's cold one-shot: {statistics.median(warm):.2f}x.")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
                                               "python": sys.version.split()[0]},
                                   "rounds": args.rounds, "seconds": times, "script": script}, indent=1) + "\n")


def script_rounds(gs: str, env: dict[str, str], home: str, rounds: int) -> list[list[tuple[float | None, bool]]]:
    """Each round, SCRIPT calls in a row in a new folder: (seconds, served) per call. A call was
    served when the process that read it is the server the round started (its pid file)."""
    import sqlite3

    out = []
    for r in range(rounds):
        folder = tempfile.mkdtemp(prefix="gs-oneshot-script-")
        try:
            took = [timed([gs, "call", "echo", f"s{r}-{i}", "-s", "bench"], env, f"s{r}-{i}", folder) for i in range(SCRIPT)]
            servers = {p.read_text() for p in Path(home, "run").glob("*.pid")}
            with sqlite3.connect(Path(home, "sessions.db")) as db:
                readers = dict(db.execute("SELECT inputs_json, reader FROM calls WHERE inputs_json LIKE ?",
                                          (f'["s{r}-%',)).fetchall())
            served = [(readers.get(json.dumps([f"s{r}-{i}", 1])) or "").split(".")[0] in servers for i in range(SCRIPT)]
            out.append(list(zip(took, served)))
        finally:
            for pid_file in Path(home, "run").glob("*.pid"):  # the round's server: the next round starts afresh
                try:
                    os.kill(int(pid_file.read_text()), 15)
                except (OSError, ValueError):
                    pass
            shutil.rmtree(folder, ignore_errors=True)
        log(f"script round {r + 1}/{rounds}")
    return out


if __name__ == "__main__":
    main()
