"""A fault-injecting TCP proxy for tests: asyncio streams on 127.0.0.1, between a client and a
real app. Each chunk of bytes forwarded may (a seeded choice) meet a fault at a random byte:
a reset of the connection, a stall, a response cut short, or bytes that trickle for a while.
Real servers and real networks do all of these; a test can't make Gradio do them on demand."""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter

FAULTS = ("reset", "stall", "cut", "trickle")


class ChaosProxy:
    """`with ChaosProxy(port, seed) as proxy:` forwards `proxy.url` to 127.0.0.1:port; faults
    start once `proxy.active` is set. `proxy.injected` counts the faults met."""

    def __init__(self, upstream_port: int, seed: int, rate: float = 0.02) -> None:
        self.upstream_port = upstream_port
        self.rate = rate  # chance that a chunk meets a fault
        self.rng = random.Random(seed)
        self.active = False
        self.injected: Counter[str] = Counter()
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.AbstractServer | None = None

    def __enter__(self) -> ChaosProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _close(self) -> None:
        assert self._server is not None
        self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_w.transport.abort()
            return
        writers = (client_w, up_w)
        await asyncio.gather(self._pipe(client_r, up_w, writers), self._pipe(up_r, client_w, writers),
                             return_exceptions=True)
        for w in writers:
            w.transport.abort()

    def _fault(self, size: int) -> tuple[str, int, float] | None:
        if not self.active or self.rng.random() >= self.rate:
            return None
        return self.rng.choice(FAULTS), self.rng.randrange(max(size, 1)), self.rng.uniform(0.2, 1.5)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                    writers: tuple[asyncio.StreamWriter, ...]) -> None:
        trickle = 0  # chunks still to trickle
        try:
            while data := await src.read(4096):
                fault = self._fault(len(data))
                if fault:
                    kind, at, pause = fault
                    dst.write(data[:at])
                    await dst.drain()
                    data = data[at:]
                    self.injected[kind] += 1
                    if kind == "reset":
                        for w in writers:
                            w.transport.abort()
                        return
                    if kind == "cut":  # a clean close mid-message, both ways
                        for w in writers:
                            w.close()
                        return
                    if kind == "stall":
                        await asyncio.sleep(pause)
                    trickle = 3 if kind == "trickle" else 0
                if trickle:
                    trickle -= 1
                    for i in range(0, len(data), 7):
                        dst.write(data[i:i + 7])
                        await dst.drain()
                        await asyncio.sleep(0.001)
                else:
                    dst.write(data)
                    await dst.drain()
            if dst.can_write_eof():
                dst.write_eof()
        except OSError:  # the other side went away: so does this connection
            for w in writers:
                w.transport.abort()
