"""Event loops of one process, and calls their waiter gave up on: no deadlock, nothing left running.

Each scenario that could hang runs in its own Python process with a timeout, so a regression
fails the test instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import gradio_session as gs
from conftest import AppServer, wait_for


def run_script(code: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=os.environ.copy())


def test_aio_then_sync_in_one_process_share_the_stream(demo_app: AppServer) -> None:
    """The sync API called from inside a running aio loop (which just used the session) used
    to wait forever for that loop's stream lock; now the idle loop hands the stream over."""
    gs.new_session(demo_app.url, name="loops")
    r = run_script("""
        import asyncio
        import gradio_session as gs
        from gradio_session import aio

        async def main():
            s = await aio.get_session("loops")
            assert await s.call("echo", "a", 1) == ["a"]
            assert gs.get_session("loops").call("echo", "s", 1) == ["s"]  # blocks this loop
            assert await s.call("echo", "b", 1) == ["b"]  # and back
            await s.aclose()

        asyncio.run(main())
        assert gs.get_session("loops").call("echo", "t", 1) == ["t"]
        print("ok")
    """)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]
    assert [c.status for c in gs.get_session("loops").calls()] == ["complete"] * 4


def test_sync_inside_a_loop_with_calls_in_flight_is_refused_not_hung(demo_app: AppServer) -> None:
    """The loop's own call can't be read while the sync API blocks it: a clear error at once."""
    gs.new_session(demo_app.url, name="busy")
    r = run_script("""
        import asyncio
        import gradio_session as gs
        from gradio_session import aio

        async def main():
            s = await aio.get_session("busy")
            c = await s.invoke("slow", 1)
            try:
                gs.get_session("busy").call("echo", "s", 1)
            except gs.SessionError as exc:
                print(exc)
            assert await c.result() == ["slept 1"]
            await s.aclose()

        asyncio.run(main())
    """, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "the sync API was called from inside that loop" in r.stdout
    assert [c.status for c in gs.get_session("busy").calls()] == ["complete"]


NOTEBOOK = """
    import asyncio
    import gradio_session as gs
    from gradio_session import aio

    loop = asyncio.new_event_loop()  # like IPython's: it runs only while a cell awaits
    s = loop.run_until_complete(aio.get_session("cells"))
    assert loop.run_until_complete(s.call("echo", "a", 1)) == ["a"]
    assert gs.get_session("cells").call("echo", "s", 1) == ["s"]  # the next cell, sync
    assert loop.run_until_complete(s.call("echo", "b", 1)) == ["b"]
    print("ok")
"""


def test_a_stopped_loop_does_not_keep_the_stream_from_the_sync_api(demo_app: AppServer) -> None:
    """In a notebook the aio loop stops between cells, its reader suspended with the stream
    lock; the sync call of the next cell used to wait for that lock forever."""
    gs.new_session(demo_app.url, name="cells")
    r = run_script(NOTEBOOK, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]
    assert [c.status for c in gs.get_session("cells").calls()] == ["complete"] * 3


def test_a_cancelled_wait_cancels_the_call_on_the_server(demo_app: AppServer, tmp_path: Path) -> None:
    """`asyncio.wait_for` giving up on a call: the call is cancelled on the server (the app
    never writes its marker) and recorded `cancelled`, not `failed`."""
    marker = tmp_path / "marker.txt"

    async def main() -> list[str]:
        s = await gs.aio.new_session(demo_app.url, name="abandoned")
        try:
            await asyncio.wait_for(s.call("marker", str(marker), 3), 0.8)
        except asyncio.TimeoutError:
            pass
        statuses = [c.status for c in await s.calls()]
        assert await s.call("echo", "after", 1) == ["after"]  # the session goes on
        await s.aclose()
        return statuses

    assert asyncio.run(main()) == ["cancelled"]
    time.sleep(3.5)  # past the marker's deadline: a call left running would have written it
    assert not marker.exists()
    (record, _) = gs.get_session("abandoned").calls()
    assert record.status == "cancelled" and "cancelled" in (record.error or "")


def test_ctrl_c_in_the_sync_api_cancels_the_call(demo_app: AppServer, tmp_path: Path) -> None:
    marker = tmp_path / "marker.txt"
    gs.new_session(demo_app.url, name="interrupt")
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import gradio_session as gs
        gs.get_session("interrupt").call("marker", {str(marker)!r}, 4)
    """)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    s = gs.get_session("interrupt")
    wait_for(lambda: [c.status for c in s.calls()] == ["running"])
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    assert [c.status for c in s.calls()] == ["cancelled"]
    time.sleep(4.5)
    assert not marker.exists()


def test_calls_of_a_dead_process_show_interrupted(demo_app: AppServer) -> None:
    """A process killed mid-call leaves its call `running` in the repository; `calls` sees
    that nobody reads the session's stream any more and shows it `interrupted`."""
    gs.new_session(demo_app.url, name="dead")
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import gradio_session as gs
        gs.get_session("dead").call("slow", 30)
    """)], env=os.environ.copy())
    s = gs.get_session("dead")
    wait_for(lambda: [c.status for c in s.calls()] == ["running"])
    proc.kill()
    proc.wait(10)
    (record,) = s.calls()
    assert record.status == "interrupted" and "process that read its stream is gone" in (record.error or "")
    assert s.call("echo", "next", 1) == ["next"]
