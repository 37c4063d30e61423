"""`make demo`: start the bundled demo app, walk a session through the CLI and the Python API.

Uses a throw-away repository (GRADIO_SESSION_HOME) so your own sessions are left alone.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_app(port: int, scratch: Path) -> subprocess.Popen[bytes]:
    """The demo app, its temporary files (uploads, results) in `scratch`."""
    scratch.mkdir()
    app = subprocess.Popen([sys.executable, str(HERE / "demo_app.py"), str(port)],
                           env={**os.environ, "GRADIO_TEMP_DIR": str(scratch), "TMPDIR": str(scratch)},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=2).close()
            return app
        except OSError:
            if app.poll() is not None:
                raise SystemExit("The demo app failed to start.")
            time.sleep(0.3)
    app.kill()
    raise SystemExit("The demo app did not start in time.")


def shell(*args: str, check: bool = True) -> str:
    """Run and show a gradio-session command; its standard output, also returned."""
    print(f"\n$ gradio-session {shlex.join(args)}", flush=True)
    r = subprocess.run([sys.executable, "-m", "gradio_session", *args], stdout=subprocess.PIPE, text=True)
    print(r.stdout, end="", flush=True)
    if check and r.returncode != 0:
        raise SystemExit(f"gradio-session {args[0]} failed (exit {r.returncode}).")
    return r.stdout


def python_part(url: str) -> None:
    import asyncio

    import gradio_session as gs
    from gradio_session import aio

    print("\n# Python: the same session, from code")
    s = gs.get_session("demo")
    print(">>> s.call('echo', 'py ', times=2) ->", s.call("echo", "py ", times=2))
    print(">>> s.call('count', 'from python') ->", s.call("count", "from python"), "(state kept from the CLI calls)")
    call = s.invoke("stream", 3)
    print(">>> call = s.invoke('stream', 3); event id", call.event_id)
    for event in call.events():
        print(f"    event {event.num}: {event.name} {event.data}")

    async def many() -> list[list[str]]:
        async with await aio.get_session("demo") as a:
            return await asyncio.gather(*(a.call("echo", f"#{i}") for i in range(20)))

    results = asyncio.run(many())
    assert all(r == [f"#{i}"] for i, r in enumerate(results))
    print(">>> 20 concurrent async calls through one session: every result is its own")
    try:
        s.call("fail", "this")
    except gs.AppError as exc:
        print(">>> s.call('fail', 'this') raised AppError:", exc.app_message)
    print(f">>> {len(s.calls())} calls recorded in the session")
    rows = ["a", ("b", 2), {"text": "c", "times": 3}]
    print(f">>> s.map('echo', {rows!r}, concurrency=4):")
    for r in s.map("echo", rows, concurrency=4):
        print(f"    row {r.index}: {r.status} {r.outputs}")


def main() -> None:
    home = tempfile.mkdtemp(prefix="gradio-session-demo-")
    os.environ["GRADIO_SESSION_HOME"] = home
    os.environ["GRADIO_SESSION_HOLDER_IDLE"] = "2"  # the background holder leaves soon after
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    print(f"Starting the demo Gradio app on {url} (repository: a temporary folder)...", flush=True)
    app = start_app(port, Path(home) / "app")
    try:
        shell("new", url, "--name", "demo")
        shell("list")
        shell("api", "echo")
        shell("call", "echo", "hello ", "times=2")
        shell("call", "stream", "4")
        shell("call", "stream", "n=2", "--json")
        shell("call", "count", "first")
        shell("call", "count", "second")
        shell("call", "fail", "oops", check=False)
        shell("call", "ecko", "x", check=False)
        shell("call", "reverse_file", str(HERE / "demo_app.py"), "--download-path", str(Path(home) / "downloads"))
        shell("uploads")
        shell("call", "steps", "5")
        event_id = shell("call", "slow", "2", "--detach").strip()
        shell("call", "echo", "not held up by the detached call")
        shell("result", event_id)
        out = Path(home) / "echoed.jsonl"
        shell("batch", "echo", "--input", str(HERE / "texts.jsonl"), "--output", str(out), "--concurrency", "4")
        print(out.read_text().splitlines()[0])
        shell("batches")
        python_part(url)
        shell("calls")
        shell("show")
    finally:
        app.kill()
        app.wait()
        clean_up(Path(home))
    print("\nDemo done: the app is stopped, the temporary repository removed.")


def clean_up(home: Path) -> None:
    """Stop the CLI server the demo's calls started and let the holder leave, then remove the
    temporary repository: the demo leaves nothing behind."""
    import shutil
    import signal

    from gradio_session.private import held

    for pid_file in (home / "run").glob("*.pid"):
        try:
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        except (ValueError, OSError):
            pass
    deadline = time.monotonic() + 15
    locks = [*(home / "run").glob("*.lock"), *(home / "locks").glob("*.lock")]
    while any(held(lock) for lock in locks) and time.monotonic() < deadline:
        time.sleep(0.1)
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
