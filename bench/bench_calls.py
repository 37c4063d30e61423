"""Benchmark: gradio-session against gradio_client, @gradio/client and a raw httpx client.

    .venv/bin/python bench/bench_calls.py [--quick]

One run starts the bundled demo app (`examples/demo_app.py PORT`) on a free 127.0.0.1 port and
calls its `/echo` endpoint through five clients, interleaved so that drift hits all alike:

1. gradio-session, sync (`gs.new_session(...).call("echo", text)`)
2. gradio-session, async (`aio`; concurrency with asyncio.gather through one session)
3. gradio_client (`Client.predict`; concurrency with `submit` + `result`)
4. @gradio/client in Node (`bench/node/bench.mjs`, a long-lived worker, timed in-process)
5. the raw httpx queue clients of `bench/raw_client.py`, async and (sequential calls only) sync:
   the floor; every ratio is relative to the fastest of them in the same measurement

It measures sequential per-call latency (round-robin rounds, median and p90), concurrent
calls (wall time and failures; a fresh app per run), and the cold start of the CLI. It prints
markdown tables on stdout (progress goes to stderr) and writes the numbers to
`bench/results/latest.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures as cf
import json
import os
import platform
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import httpx
from gradio_client import Client as GradioClient

# Before gradio_session is imported: the benchmark's sessions live in a throwaway home.
_HOME = tempfile.mkdtemp(prefix="gs-bench-")
os.environ["GRADIO_SESSION_HOME"] = _HOME
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio_session as gs  # noqa: E402
from gradio_session import aio  # noqa: E402

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
from raw_client import RawQueueClient, RawSyncClient  # noqa: E402

NODE_DIR = BENCH / "node"
RESULTS = BENCH / "results" / "latest.json"
WARMUP = 10
SYNC_THREADS = 64  # threads driving the sync API in the concurrent runs


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# --- the app ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class App:
    """The demo app in a child process on a free port; ready once GET /config answers."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log: IO[bytes] = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "examples" / "demo_app.py"), str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 90
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the demo app exited with {self.proc.returncode}: {self.tail()}")
            try:
                r = httpx.get(f"{self.url}/config", timeout=2)
                if r.status_code == 200:
                    self.config: dict[str, Any] = r.json()
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the demo app did not answer GET /config within 90 s")
            time.sleep(0.2)

    def fn_index(self, api_name: str) -> int:
        for i, dep in enumerate(self.config["dependencies"]):
            if dep.get("api_name") == api_name:
                return int(dep.get("id", i))
        raise KeyError(api_name)

    @property
    def api_url(self) -> str:
        return self.url + "/" + str(self.config.get("api_prefix") or "/gradio_api").strip("/")

    def tail(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-2000:]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


# --- results ------------------------------------------------------------------------------------


@dataclass
class SeqResult:
    latencies_ms: list[float] = field(default_factory=list)
    failures: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class ConcResult:
    calls: int
    wall_s: float  # until every call ended, or the timeout
    last_ok_s: float  # until the last correct result
    ok: int
    failures: int
    errors: list[str]


def note_error(errors: list[str], msg: str) -> None:
    if len(errors) < 5 and msg not in errors:
        errors.append(msg[:200])


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile, q in 0..100."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


# --- the clients --------------------------------------------------------------------------------


def sequential_calls(echo: Callable[[str], Any], n: int, prefix: str) -> SeqResult:
    """n blocking echo calls one after the other, each timed and checked against its input."""
    res = SeqResult()
    for i in range(n):
        text = f"{prefix}{i}"
        t0 = time.perf_counter()
        try:
            out = echo(text)
        except Exception as exc:
            res.failures += 1
            note_error(res.errors, describe(exc))
            out = text
        res.latencies_ms.append((time.perf_counter() - t0) * 1000)
        check(out, text, res)
    return res


class Bench(Protocol):
    label: str

    def seq(self, n: int, prefix: str) -> SeqResult: ...

    def conc(self, m: int, timeout_s: float) -> ConcResult: ...

    def close(self) -> None: ...


def check(out: Any, text: str, res: SeqResult) -> None:
    if out != text:
        res.failures += 1
        note_error(res.errors, f"wrong result {out!r} for {text!r}")


class GsSync:
    label = "gradio-session sync"

    def __init__(self, app: App, name: str) -> None:
        self.s = gs.new_session(app.url, name=name, force=True)

    def _echo(self, text: str) -> Any:
        out = self.s.call("echo", text)
        return out[0] if isinstance(out, list) and len(out) == 1 else out

    def seq(self, n: int, prefix: str) -> SeqResult:
        return sequential_calls(self._echo, n, prefix)

    def conc(self, m: int, timeout_s: float) -> ConcResult:
        pool = cf.ThreadPoolExecutor(max_workers=SYNC_THREADS)
        ended: dict[cf.Future[Any], float] = {}
        t0 = time.perf_counter()
        futures = {pool.submit(self._echo, f"c{i}"): f"c{i}" for i in range(m)}
        for f in futures:
            f.add_done_callback(lambda f: ended.setdefault(f, time.perf_counter() - t0))
        done, pending = cf.wait(futures, timeout=timeout_s)
        wall = time.perf_counter() - t0
        pool.shutdown(wait=False, cancel_futures=True)
        return tally(m, wall, [(futures[f], outcome(f), ended.get(f, wall)) for f in done], len(pending),
                     timeout_s)

    def close(self) -> None:
        self.s.close()


class GsApi(GsSync):
    """The same session through its typed function, `s.api.echo(text)`: what signature
    binding and the checks before sending cost."""

    label = "gradio-session s.api.echo"

    def _echo(self, text: str) -> Any:
        return self.s.api.echo(text)


def outcome(fut: cf.Future[Any] | asyncio.Future[Any]) -> Any:
    """A finished future's result, or the exception it ended with (CancelledError included)."""
    try:
        return fut.result()
    except BaseException as exc:
        return exc


def tally(m: int, wall: float, done: list[tuple[str, Any, float]], unfinished: int,
          timeout_s: float) -> ConcResult:
    """Count the finished calls (text, result or exception, seconds from the start) and the
    unfinished ones."""
    errors: list[str] = []
    ok = failures = 0
    last_ok = 0.0
    for text, out, t in done:
        if isinstance(out, BaseException):
            failures += 1
            note_error(errors, describe(out))
        elif out == text:
            ok += 1
            last_ok = max(last_ok, t)
        else:
            failures += 1
            note_error(errors, f"wrong result {out!r} for {text!r}")
    if unfinished:
        note_error(errors, f"{unfinished} calls unfinished after {timeout_s:.0f} s")
    return ConcResult(m, wall, last_ok, ok, failures + unfinished, errors)


class AsyncBench:
    """Shared by the async clients: `echo(text)` is a coroutine run on one private loop."""

    label = ""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    async def echo(self, text: str) -> Any:
        raise NotImplementedError

    def seq(self, n: int, prefix: str) -> SeqResult:
        async def run() -> SeqResult:
            res = SeqResult()
            for i in range(n):
                text = f"{prefix}{i}"
                t0 = time.perf_counter()
                try:
                    out = await self.echo(text)
                except Exception as exc:
                    res.failures += 1
                    note_error(res.errors, describe(exc))
                    out = text
                res.latencies_ms.append((time.perf_counter() - t0) * 1000)
                check(out, text, res)
            return res

        return self.loop.run_until_complete(run())

    def conc(self, m: int, timeout_s: float) -> ConcResult:
        async def run() -> ConcResult:
            texts = [f"c{i}" for i in range(m)]
            ended: dict[asyncio.Future[Any], float] = {}
            t0 = time.perf_counter()
            tasks = [asyncio.ensure_future(self.echo(t)) for t in texts]
            for task in tasks:
                task.add_done_callback(lambda f: ended.setdefault(f, time.perf_counter() - t0))
            done, pending = await asyncio.wait(tasks, timeout=timeout_s)
            wall = time.perf_counter() - t0
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            return tally(m, wall, [(x, outcome(t), ended.get(t, wall)) for t, x in zip(tasks, texts) if t in done],
                         len(pending), timeout_s)

        return self.loop.run_until_complete(run())


class GsAsync(AsyncBench):
    label = "gradio-session aio"

    def __init__(self, app: App, name: str, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.s = loop.run_until_complete(aio.new_session(app.url, name=name, force=True))

    async def echo(self, text: str) -> Any:
        out = await self.s.call("echo", text)
        return out[0] if isinstance(out, list) and len(out) == 1 else out

    def close(self) -> None:
        self.loop.run_until_complete(self.s.aclose())


class Raw(AsyncBench):
    label = "raw httpx async"

    def __init__(self, app: App, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.c = RawQueueClient(app.api_url, app.fn_index("echo"))

    async def echo(self, text: str) -> Any:
        out = await self.c.call(text, 1)
        return out[0] if isinstance(out, list) and len(out) == 1 else out

    def close(self) -> None:
        for fut in self.c.pending.values():  # calls lost to a timeout: the reader must not restart
            fut.cancel()
        self.c.pending.clear()
        if self.c.reader is not None:
            self.c.reader.cancel()
        self.loop.run_until_complete(self.c.aclose())


class RawSync:
    """The twenty-line sync client: the floor of calls made one after another. It has no
    concurrent run (its stream reading is one call's)."""

    label = "raw httpx sync"

    def __init__(self, app: App) -> None:
        self.c = RawSyncClient(app.api_url, app.fn_index("echo"))

    def _echo(self, text: str) -> Any:
        out = self.c.call(text, 1)
        return out[0] if isinstance(out, list) and len(out) == 1 else out

    def seq(self, n: int, prefix: str) -> SeqResult:
        return sequential_calls(self._echo, n, prefix)

    def conc(self, m: int, timeout_s: float) -> ConcResult:
        raise NotImplementedError("sequential calls only")

    def close(self) -> None:
        self.c.close()


class GradioClientBench:
    label = "gradio_client"

    def __init__(self, app: App) -> None:
        self.c = GradioClient(app.url, verbose=False)

    def seq(self, n: int, prefix: str) -> SeqResult:
        return sequential_calls(lambda text: self.c.predict(text, 1, api_name="/echo"), n, prefix)

    def conc(self, m: int, timeout_s: float) -> ConcResult:
        ended: dict[int, float] = {}
        t0 = time.perf_counter()
        deadline = time.monotonic() + timeout_s
        jobs = [(self.c.submit(f"c{i}", 1, api_name="/echo"), f"c{i}") for i in range(m)]
        for i, (job, _) in enumerate(jobs):  # a Job passes its inner future to callbacks: key by index
            job.add_done_callback(lambda _, i=i: ended.setdefault(i, time.perf_counter() - t0))
        done: list[tuple[str, Any, float]] = []
        unfinished = 0
        for i, (job, text) in enumerate(jobs):
            try:
                out: Any = job.result(timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                unfinished += 1
                continue
            except BaseException as exc:  # CancelledError is a BaseException
                out = exc
            done.append((text, out, ended.get(i, time.perf_counter() - t0)))
        wall = time.perf_counter() - t0
        return tally(m, wall, done, unfinished, timeout_s)

    def close(self) -> None:
        self.c.close()


class NodeWorker:
    """The long-lived `node bench.mjs` process; one JSON line per command and per answer."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not installed")
        if not self.installed():
            # `npm ci` starts from a clean node_modules: it repairs a partial one as well.
            cmd = "ci" if (NODE_DIR / "package-lock.json").exists() else "install"
            log(f"npm {cmd} in bench/node ...")
            subprocess.run(["npm", cmd, "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, stdout=sys.stderr)
            if not self.installed():
                raise RuntimeError("npm did not install the pinned @gradio/client")
        self.version = self.pinned()
        self.node_version = subprocess.run([node, "--version"], check=False, capture_output=True,
                                           text=True).stdout.strip()
        self.proc = subprocess.Popen([node, "bench.mjs"], cwd=NODE_DIR, text=True, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    @staticmethod
    def pinned() -> str:
        return str(json.loads((NODE_DIR / "package.json").read_text())["dependencies"]["@gradio/client"])

    @classmethod
    def installed(cls) -> bool:
        """The pinned @gradio/client is in node_modules, with its built files."""
        pkg = NODE_DIR / "node_modules" / "@gradio" / "client"
        try:
            version = json.loads((pkg / "package.json").read_text())["version"]
        except (OSError, ValueError, KeyError):
            return False
        return bool(version == cls.pinned() and (pkg / "dist" / "index.js").is_file())

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def ask(self, cmd: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self.lines.get(timeout=timeout_s))
        if "error" in answer:
            raise RuntimeError(f"node worker: {answer['error']}")
        return answer

    def close(self) -> None:
        try:
            self.ask({"op": "quit"}, 0.1)
        except (queue.Empty, OSError, ValueError):
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class NodeBench:
    label = "@gradio/client (node)"

    def __init__(self, app: App, worker: NodeWorker) -> None:
        self.w = worker
        self.w.ask({"op": "connect", "url": app.url}, 60)

    def seq(self, n: int, prefix: str) -> SeqResult:
        a = self.w.ask({"op": "seq", "n": n, "prefix": prefix}, 60 + n * 5)
        return SeqResult(a["latencies_ms"], a["failures"], a["errors"])

    def conc(self, m: int, timeout_s: float) -> ConcResult:
        a = self.w.ask({"op": "conc", "m": m, "timeout_s": timeout_s}, timeout_s + 60)
        return ConcResult(m, a["wall_s"], a["last_ok_s"], a["ok"], a["failures"], a["errors"])

    def close(self) -> None:
        pass


CLIENTS = ["gs-sync", "gs-api", "gs-aio", "gradio_client", "node", "raw", "raw-sync"]
SEQUENTIAL_ONLY = {"raw-sync"}
FLOORS = ("raw", "raw-sync")  # ratios are to the fastest of these in each measurement


def make(kind: str, app: App, loop: asyncio.AbstractEventLoop, worker: NodeWorker | None) -> Bench:
    if kind == "gs-sync":
        return GsSync(app, "bench-sync")
    if kind == "gs-api":
        return GsApi(app, "bench-api")
    if kind == "gs-aio":
        return GsAsync(app, "bench-aio", loop)
    if kind == "gradio_client":
        return GradioClientBench(app)
    if kind == "node":
        assert worker is not None
        return NodeBench(app, worker)
    if kind == "raw-sync":
        return RawSync(app)
    return Raw(app, loop)


def rotated(items: list[str], k: int) -> list[str]:
    k %= len(items)
    return items[k:] + items[:k]


# --- the measurements ---------------------------------------------------------------------------


def sequential(benches: dict[str, Bench], rounds: int, per_round: int) -> dict[str, SeqResult]:
    """Warm-up, then `rounds` rounds of `per_round` calls per client, the order rotating per round."""
    for kind, b in benches.items():
        warm = b.seq(WARMUP, "w")
        if warm.failures:
            log(f"{kind}: {warm.failures} warm-up failures: {warm.errors}")
    results = {kind: SeqResult() for kind in benches}
    for r in range(rounds):
        for kind in rotated(list(benches), r):
            res = benches[kind].seq(per_round, f"s{r}-")
            results[kind].latencies_ms += res.latencies_ms
            results[kind].failures += res.failures
            for e in res.errors:
                note_error(results[kind].errors, e)
        log(f"sequential round {r + 1}/{rounds} done")
    return results


def concurrent(kinds: list[str], sizes: list[int], timeout_s: float, loop: asyncio.AbstractEventLoop,
               worker: NodeWorker | None, orders: dict[str, list[str]]) -> dict[int, dict[str, ConcResult]]:
    """Each run on a freshly started app; the client order rotates from one size to the next
    (and is recorded in `orders`)."""
    out: dict[int, dict[str, ConcResult]] = {}
    for k, m in enumerate(sizes):
        out[m] = {}
        orders[str(m)] = rotated(kinds, k * 2 + 1)
        for kind in orders[str(m)]:
            app = App()
            try:
                b = make(kind, app, loop, worker)
                b.seq(WARMUP, "w")
                res = b.conc(m, timeout_s)
                b.close()
            finally:
                app.stop()
            out[m][kind] = res
            log(f"concurrent {m} {kind}: {res.wall_s:.2f} s (last ok {res.last_ok_s:.2f} s), "
                f"{res.failures} failures")
    return out


def cli_cold_start(app: App, reps: int) -> dict[str, list[float]]:
    """Whole processes, timed from spawn to exit; commands interleaved, rotating per repetition."""
    bindir = Path(sys.executable).parent
    cli = str(bindir / "gradio-session")
    gs.new_session(app.url, name="bench-cli", force=True)
    # a session whose stream a background holder reads (a long detached call keeps it there):
    # calls from other processes join and follow through the repository
    held = gs.new_session(app.url, name="bench-held", force=True)
    keeper = held.detach("slow", 3600)
    commands: dict[str, list[str]] = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import gradio_client'": [sys.executable, "-c", "import gradio_client"],
        "gradio-session --help": [cli, "--help"],
        "gradio-session call echo x --session NAME": [cli, "call", "echo", "x", "--session", "bench-cli"],
        "gradio-session call echo x (the holder has the stream)": [cli, "call", "echo", "x", "--session",
                                                                    "bench-held"],
        "gradio-session call echo x --detach (holder running)": [cli, "call", "echo", "x", "--detach",
                                                                  "--session", "bench-held"],
    }
    times: dict[str, list[float]] = {label: [] for label in commands}
    cold = {**os.environ, "GRADIO_SESSION_SERVER": "0"}  # no CLI server: bench_oneshot.py times that
    try:
        for r in range(reps):
            for label in rotated(list(commands), r):
                t0 = time.perf_counter()
                p = subprocess.run(commands[label], check=False, capture_output=True, text=True, timeout=120,
                                   env=cold)
                times[label].append((time.perf_counter() - t0) * 1000)
                expected = "x" if "detach" not in label else ""
                if p.returncode != 0 or ("call" in label and expected not in p.stdout):
                    raise RuntimeError(f"{label} failed ({p.returncode}): {p.stdout[-500:]} {p.stderr[-500:]}")
    finally:
        keeper.cancel()
    return times


# --- the report ---------------------------------------------------------------------------------


LABELS = {"gs-sync": GsSync.label, "gs-api": GsApi.label, "gs-aio": GsAsync.label, "gradio_client": GradioClientBench.label,
          "node": NodeBench.label, "raw": Raw.label, "raw-sync": RawSync.label}


def machine() -> dict[str, Any]:
    """Where and when a benchmark ran: what its committed results are read with."""
    return {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(), "python": platform.python_version(),
            "system": f"{platform.system()} {platform.machine()}"}


def ratio(x: float, base: float) -> str:
    return f"{x / base:.2f}x" if base > 0 else "-"


def report(meta: dict[str, Any], seq: dict[str, SeqResult], conc: dict[int, dict[str, ConcResult]],
           cli: dict[str, list[float]]) -> str:
    lines: list[str] = []
    add: Callable[[str], None] = lines.append
    add(f"# gradio-session call benchmark ({'quick' if meta['quick'] else 'full'} run)")
    add("")
    add(f"Python {meta['python']}, gradio {meta['gradio']}, gradio_client {meta['gradio_client']}, "
        f"@gradio/client {meta['js_client']} on Node {meta['node']}; {meta['cpus']} CPUs, "
        "app and clients on the same host.")
    add("")
    s = meta["sequential"]
    add(f"## Sequential /echo latency: {s['calls']} calls per client "
        f"({s['rounds']} rounds x {s['per_round']}, client order rotating each round; warm-up {WARMUP})")
    add("")
    add("| client | median ms | p90 ms | median vs floor | p90 vs floor | failures |")
    add("|---|---:|---:|---:|---:|---:|")
    floors = [seq[k] for k in FLOORS if k in seq]
    bmed = min(statistics.median(f.latencies_ms) for f in floors)
    bp90 = min(percentile(f.latencies_ms, 90) for f in floors)
    for kind, res in seq.items():
        med, p90 = statistics.median(res.latencies_ms), percentile(res.latencies_ms, 90)
        add(f"| {LABELS[kind]} | {med:.2f} | {p90:.2f} | {ratio(med, bmed)} | {ratio(p90, bp90)} | {res.failures} |")
    add("")
    add("The floor is the fastest raw client here (its median, its p90): the sync one joins and reads the "
        "session's stream itself, one call at a time; the async one routes a shared stream by event id, as "
        "the library does.")
    add("")
    c = meta["concurrent"]
    add(f"## Concurrent /echo calls (timeout {c['timeout_s']:.0f} s per run; unfinished calls count as failures)")
    add("")
    add("The app was restarted before every run: each client at each size got a freshly started app "
        "(the server slows down as it serves many calls), after a warm-up of "
        f"{WARMUP} sequential calls. The client order rotates between sizes (`#` is the position "
        "in the run order). A failure is an exception or a result other than the call's own input. "
        "`wall` runs until every call ended (or the timeout), `last ok` until the last correct "
        f"result; ok/s = correct results / last ok. gradio-session sync runs through {SYNC_THREADS} "
        "threads calling `s.call`; gradio_client through `submit()` + `result()`; the others start "
        "all calls at once (`asyncio.gather` / `Promise.all`).")
    add("")
    for m, runs in conc.items():
        order = c["order"][str(m)]
        add(f"### {m} concurrent calls")
        add("")
        add("| client | # | wall s | last ok s | ok/s | failures | wall vs raw async | last ok vs raw async |")
        add("|---|---:|---:|---:|---:|---:|---:|---:|")
        braw, blast = runs["raw"].wall_s, runs["raw"].last_ok_s
        for kind in CLIENTS:
            if kind not in runs:
                continue
            r = runs[kind]
            rate = f"{r.ok / r.last_ok_s:.0f}" if r.last_ok_s > 0 else "-"
            add(f"| {LABELS[kind]} | {order.index(kind) + 1} | {r.wall_s:.2f} | {r.last_ok_s:.2f} | {rate} | "
                f"{r.failures}/{m} | {ratio(r.wall_s, braw)} | {ratio(r.last_ok_s, blast)} |")
        add("")
        errors = [f"- {LABELS[k]} errors: " + "; ".join(runs[k].errors) for k in CLIENTS if k in runs and runs[k].errors]
        if errors:
            lines.extend([*errors, ""])
    reps = meta["cli_reps"]
    add(f"## CLI cold start: whole processes, median of {reps} (interleaved)")
    add("")
    add("| command | median ms | min ms | vs python -c pass |")
    add("|---|---:|---:|---:|")
    floor = statistics.median(cli["python -c pass"])
    for label, runs_ms in cli.items():
        med = statistics.median(runs_ms)
        add(f"| `{label}` | {med:.0f} | {min(runs_ms):.0f} | {ratio(med, floor)} |")
    add("")
    add("Latencies are measured inside each client's process (Node's start-up and connect excluded). "
        "Ratios: latency divided by the fastest raw client's, wall time by the raw async client's "
        "(the only raw one with a concurrent run); lower is better.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and repetitions, for a smoke run")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per concurrent run")
    args = parser.parse_args()
    rounds, per_round = (3, 10) if args.quick else (10, 20)
    sizes = [50, 200] if args.quick else [200, 1000]
    cli_reps = 3 if args.quick else 10

    import gradio
    import gradio_client

    worker: NodeWorker | None
    try:
        worker = NodeWorker()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        log(f"@gradio/client skipped: {exc}")
        worker = None
    kinds = [k for k in CLIENTS if k != "node" or worker is not None]
    meta: dict[str, Any] = {
        "machine": machine(), "quick": args.quick, "python": platform.python_version(), "gradio": gradio.__version__,
        "gradio_client": gradio_client.__version__, "gradio_session": gs.__version__,
        "js_client": worker.version if worker else "-", "node": worker.node_version if worker else "-",
        "cpus": os.cpu_count(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "sequential": {"rounds": rounds, "per_round": per_round, "calls": rounds * per_round, "warmup": WARMUP},
        "concurrent": {"sizes": sizes, "timeout_s": args.timeout, "fresh_app_per_run": True, "order": {},
                       "sync_threads": SYNC_THREADS},
        "cli_reps": cli_reps,
    }
    loop = asyncio.new_event_loop()
    t_start = time.perf_counter()
    try:
        log("starting the demo app for the sequential and CLI runs")
        app = App()
        try:
            benches = {kind: make(kind, app, loop, worker) for kind in kinds}
            seq = sequential(benches, rounds, per_round)
            for b in benches.values():
                b.close()
            log("CLI cold start")
            cli = cli_cold_start(app, cli_reps)
        finally:
            app.stop()
        conc = concurrent([k for k in kinds if k not in SEQUENTIAL_ONLY], sizes, args.timeout, loop, worker,
                          meta["concurrent"]["order"])
    finally:
        if worker is not None:
            worker.close()
        loop.close()
    meta["duration_s"] = round(time.perf_counter() - t_start, 1)

    print(report(meta, seq, conc, cli))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "meta": meta,
        "sequential": {k: {"median_ms": statistics.median(r.latencies_ms), "p90_ms": percentile(r.latencies_ms, 90),
                           **asdict(r)} for k, r in seq.items()},
        "concurrent": {str(m): {k: asdict(r) for k, r in runs.items()} for m, runs in conc.items()},
        "cli_ms": {label: {"median": statistics.median(v), "runs": v} for label, v in cli.items()},
    }
    RESULTS.write_text(json.dumps(data, indent=1) + "\n")
    log(f"wrote bench/results/latest.json ({meta['duration_s']} s)")
    shutil.rmtree(_HOME, ignore_errors=True)


if __name__ == "__main__":
    main()
