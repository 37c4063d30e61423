"""Benchmark: a 200 MB upload + download round trip, gradio-session against gradio_client.

    .venv/bin/python bench/bench_files.py [--mb 200]

Starts the test suite's files app (`tests/apps/files_app.py PORT`, whose `/same` returns the
file it gets) on a free 127.0.0.1 port, writes a file of random bytes in a temp folder, and runs
each client in its own process: upload, call, download. Reports MB/s for the upload and the
download and the client process's peak RSS (`ru_maxrss` read at its end).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "tests" / "apps" / "files_app.py"


def peak_rss_mb() -> float:
    """This process's peak RSS in MB (ru_maxrss is KB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024 if sys.platform == "darwin" else 1024)


def run_gradio_session(url: str, path: Path, out: Path) -> dict[str, float]:
    import gradio_session as gs

    s = gs.new_session(url, name="bench")
    t0 = time.perf_counter()
    (fd,) = s.upload(path)
    t1 = time.perf_counter()
    c = s.invoke("same", fd)
    c.result(download=False)  # the call alone, files not fetched (result() downloads by default)
    t2 = time.perf_counter()
    (local,) = c.result(download_path=out)
    t3 = time.perf_counter()
    assert Path(local["path"]).stat().st_size == path.stat().st_size
    return {"upload_s": t1 - t0, "call_s": t2 - t1, "download_s": t3 - t2}


def run_gradio_client(url: str, path: Path, out: Path) -> dict[str, float]:
    from gradio_client import Client, handle_file

    client = Client(url, download_files=str(out), verbose=False)
    endpoint = client.endpoints[client._infer_fn_index("/same", None)]  # type: ignore[index]
    t0 = time.perf_counter()
    fd = endpoint._upload_file(handle_file(str(path)), 0)  # what predict() does for a file
    t1 = time.perf_counter()
    client.download_files = False  # the call alone, as for gradio-session
    client.predict(fd, api_name="/same")
    t2 = time.perf_counter()
    client.download_files = str(out)
    local = client.predict(fd, api_name="/same")
    t3 = time.perf_counter()
    assert Path(local).stat().st_size == path.stat().st_size
    return {"upload_s": t1 - t0, "call_s": t2 - t1, "download_s": t3 - t2 - (t2 - t1)}


def worker(client: str, url: str, path: Path, out: Path) -> None:
    fn = run_gradio_session if client == "gradio-session" else run_gradio_client
    result: dict[str, Any] = fn(url, path, out)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--worker", nargs=4, metavar=("CLIENT", "URL", "FILE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        client, url, file, out = args.worker
        worker(client, url, Path(file), Path(out))
        return
    tmp = Path(tempfile.mkdtemp(prefix="gs-bench-files-"))
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_SESSION_HOME": str(tmp / "home"),
           "GRADIO_TEMP_DIR": str(tmp / "server")}
    path = tmp / "payload.bin"
    with path.open("wb") as f:
        for _ in range(args.mb):
            f.write(os.urandom(1 << 20))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = subprocess.Popen([sys.executable, str(APP), str(port)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/config", timeout=2).close()
                break
            except OSError:
                time.sleep(0.2)
        print(f"{args.mb} MB round trip through {url}/same (upload, call, download)\n")
        print("upload: the file sent once. call: the call alone, its result file not fetched (both). download: "
              "gradio-session fetches the finished call's file; gradio_client calls again with downloads on, "
              "less one call's time (it can't fetch a finished call's file). Each client in a process of its "
              "own.\n")
        print("| client | upload MB/s | download MB/s | call s | peak RSS MB |")
        print("|---|---|---|---|---|")
        for client in ("gradio-session", "gradio_client"):
            out = tmp / f"out-{client}"
            r = subprocess.run([sys.executable, __file__, "--worker", client, url, str(path), str(out)],
                               env=env, capture_output=True, text=True, timeout=1800)
            if r.returncode != 0:
                print(f"| {client} | failed: {r.stderr.strip().splitlines()[-1:]} | | | |")
                continue
            m = json.loads(r.stdout.strip().splitlines()[-1])
            print(f"| {client} | {args.mb / m['upload_s']:.0f} | {args.mb / m['download_s']:.0f} "
                  f"| {m['call_s']:.2f} | {m['peak_rss_mb']:.0f} |", flush=True)
    finally:
        app.kill()
        app.wait()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
