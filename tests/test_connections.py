"""A call's connections: httpcore on asyncio's own streams (`connections.py`), kept between
calls, failing as httpcore's own do; and a running call's events recorded as it runs."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpcore
import httpx
import pytest

import gradio_session as gs
from conftest import AppServer, free_port, wait_for
from gradio_session import connections, private
from gradio_session.store.repository import Repository

py311 = pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio's own streams from Python 3.11")


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every TCP connection the backend opens (a spy: the real connect runs)."""
    opened: list[tuple[str, int]] = []
    real = connections.AsyncioBackend.connect_tcp

    async def counted(self: connections.AsyncioBackend, host: str, port: int, *args: object,
                      **kwargs: object) -> httpcore.AsyncNetworkStream:
        opened.append((host, port))
        return await real(self, host, port, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(connections.AsyncioBackend, "connect_tcp", counted)
    return opened


@py311
def test_calls_one_after_another_keep_their_connections(demo_app: AppServer,
                                                       connects: list[tuple[str, int]]) -> None:
    async def run() -> list[list[str]]:
        async with await gs.aio.new_session(demo_app.url, name="kept") as s:
            connects.clear()  # what opening the session took
            return [await s.call("echo", f"k{i}") for i in range(20)]

    assert asyncio.run(run()) == [[f"k{i}"] for i in range(20)]
    # a join and a stream read to its end: both connections go back to the pool
    assert 1 <= len(connects) <= 3, connects


@py311
def test_the_sync_api_rides_the_same_connections(demo_app: AppServer, connects: list[tuple[str, int]]) -> None:
    s = gs.new_session(demo_app.url, name="kept-sync")
    s.call("echo", "warm")
    before = len(connects)
    assert [s.call("echo", f"y{i}") for i in range(10)] == [[f"y{i}"] for i in range(10)]
    assert len(connects) - before <= 2


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.create_server(("127.0.0.1", 0))
    yield sock
    sock.close()


def _pool() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=connections.on_asyncio(httpx.AsyncHTTPTransport()))


@py311
def test_failures_are_httpcores_own() -> None:
    async def run() -> None:
        async with _pool() as client:
            with pytest.raises(httpx.ConnectError):  # nothing listens
                await client.get(f"http://127.0.0.1:{free_port()}/")

    asyncio.run(run())


@py311
def test_a_server_that_never_answers_is_a_read_timeout(listener: socket.socket) -> None:
    port = listener.getsockname()[1]

    async def run() -> None:
        async with _pool() as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get(f"http://127.0.0.1:{port}/", timeout=httpx.Timeout(5, read=0.3))

    asyncio.run(run())


@py311
def test_a_connection_the_server_closed_while_idle_is_not_reused(listener: socket.socket) -> None:
    """An answer, then the server closes the connection: the next request must not be written
    into the dead one (httpcore asks the stream whether it is readable before reusing it)."""
    port = listener.getsockname()[1]
    served: list[int] = []

    def serve() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                served.append(1)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                time.sleep(0.05)
            # closed with keep-alive promised: a client that reuses it gets no answer

    threading.Thread(target=serve, daemon=True).start()

    async def run() -> list[str]:
        async with _pool() as client:
            first = (await client.get(f"http://127.0.0.1:{port}/")).text
            await asyncio.sleep(0.3)  # the server's close has arrived meanwhile
            return [first, (await client.get(f"http://127.0.0.1:{port}/")).text]

    assert asyncio.run(run()) == ["ok", "ok"]
    assert len(served) == 2


@py311
def test_on_asyncio_reaches_httpcores_pool() -> None:
    """The backend is set on httpx's transport's pool, a private attribute: an httpx or
    httpcore that moved it would silently bring anyio back."""
    transport = connections.on_asyncio(httpx.AsyncHTTPTransport())
    assert isinstance(transport._pool._network_backend, connections.AsyncioBackend)


def test_a_running_calls_events_are_recorded_as_it_runs(demo_app: AppServer, home: Path) -> None:
    """Events are written a few at a time, not all at the end: another process following the
    call sees its progress while it runs."""
    s = gs.new_session(demo_app.url, name="progress")
    call = s.invoke("steps", 30)  # 3 s of gr.Progress
    repo = Repository(home)  # another reader of the repository, as another process would be
    try:
        def progress_recorded() -> bool:
            record, events, _ = repo.call_news(s.id, call.event_id, 0)
            return record is not None and any(e.name == "progress" for e in events)

        wait_for(progress_recorded)
        record, _, _ = repo.call_news(s.id, call.event_id, 0)
        assert record is not None and record.status == "running"
        assert call.result() == ["30 steps"]
        # the end is committed moments after result() returns here, with the events before it
        wait_for(lambda: getattr(repo.call_news(s.id, call.event_id, 0)[0], "status", None) == "complete")
        _, events, _ = repo.call_news(s.id, call.event_id, 0)
        assert events[-1].name == "complete" and events[-1].data == ["30 steps"]
        assert [e.num for e in events] == list(range(1, len(events) + 1))
    finally:
        repo.close()


def test_our_processes_leave_httpxs_command_line_out(tmp_path: Path) -> None:
    """`import httpx` loads its command line (click, rich, pygments) when they are installed;
    a background process of ours (a CLI server, a holder) starts without it, and httpx works."""
    (tmp_path / "probe.py").write_text(
        "import sys, httpx\n"
        "print(sorted(m for m in ('httpx._main', 'pygments', 'rich.syntax') if sys.modules.get(m)))\n"
        "print(httpx.URL('http://127.0.0.1/x').path)\n")
    out = subprocess.run(private.python_command("probe"), capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert out.stdout.split() == ["[]", "/x"], out.stderr
    plain = subprocess.run([sys.executable, str(tmp_path / "probe.py")], capture_output=True, text=True, check=True)
    assert "pygments" in plain.stdout  # what it saves: a plain `import httpx` here loads them
