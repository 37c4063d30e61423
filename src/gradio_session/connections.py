"""httpcore's connections on asyncio's own streams (Python 3.11+), not through anyio.

Under asyncio httpcore reaches its sockets through anyio, which wraps every read and write in
a cancel scope with its own timer: about a fifth of a call's client CPU (bench/README.md,
"Where a call's time goes"). This is the same interface with the same exceptions on
`asyncio.open_connection`; TLS through `StreamWriter.start_tls`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import select
import socket
import sys
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import TYPE_CHECKING, Any

import httpcore

if TYPE_CHECKING:
    import httpx

HAPPY_EYEBALLS_DELAY = 0.25  # s before trying a host's next address (IPv6 then IPv4), as anyio
EXTRA_INFO = {"ssl_object": "ssl_object", "client_addr": "sockname", "server_addr": "peername",
              "socket": "socket"}


def _readable(sock: socket.socket | None) -> bool:
    """Whether a read would not wait: data, or the peer's close (a socket gone counts too)."""
    fd = -1 if sock is None else sock.fileno()
    if fd < 0:
        return True
    if hasattr(select, "poll"):  # no FD_SETSIZE limit: a thousand connections may be open
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])


def _literal(host: str) -> bool:
    """An IP address, not a name: one address to try, no race between them."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _deadline(timeout: float | None) -> AbstractAsyncContextManager[Any]:
    """A timeout around one wait: a loop timer, nothing when there is no timeout."""
    return nullcontext() if timeout is None else asyncio.timeout(timeout)


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection: a StreamReader reading ahead and its StreamWriter."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with _deadline(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(f"No data for {timeout} s.") from exc
        except OSError as exc:  # ssl.SSLError too
            raise httpcore.ReadError(str(exc) or repr(exc)) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            self._writer.write(buffer)
            async with _deadline(timeout):
                await self._writer.drain()  # raises when the connection is gone
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(f"Could not write for {timeout} s.") from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc) or repr(exc)) from exc

    async def aclose(self) -> None:
        self._writer.close()  # the socket closes on the loop's next turn; TLS says goodbye meanwhile

    async def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        try:
            async with _deadline(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except TimeoutError as exc:
            await self.aclose()
            raise httpcore.ConnectTimeout(f"The TLS handshake took over {timeout} s.") from exc
        except OSError as exc:  # the certificate refused: ssl.SSLCertVerificationError, kept as the cause
            await self.aclose()
            raise httpcore.ConnectError(str(exc) or repr(exc)) from exc
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # idle in the pool: closed by the server (or sent what nobody asked)
            return self._reader.at_eof() or self._reader.exception() is not None or \
                _readable(self._writer.get_extra_info("socket"))
        return self._writer.get_extra_info(EXTRA_INFO[info]) if info in EXTRA_INFO else None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens AsyncioStreams; what httpcore asks of a network backend."""

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        try:
            async with _deadline(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, local_addr=(local_address, 0) if local_address else None,
                    happy_eyeballs_delay=None if _literal(host) else HAPPY_EYEBALLS_DELAY)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"Could not connect to {host}:{port} in {timeout} s.") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or repr(exc)) from exc
        sock = writer.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return AsyncioStream(reader, writer)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        try:
            async with _deadline(timeout):
                reader, writer = await asyncio.open_unix_connection(path)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"Could not connect to {path} in {timeout} s.") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or repr(exc)) from exc
        return AsyncioStream(reader, writer)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def on_asyncio(transport: httpx.AsyncHTTPTransport) -> httpx.AsyncHTTPTransport:
    """`transport` with its connections on AsyncioBackend; as it was before Python 3.11 (no
    `asyncio.timeout`, no `StreamWriter.start_tls`) or on an httpcore that moved its pool."""
    pool = getattr(transport, "_pool", None)
    if sys.version_info >= (3, 11) and hasattr(pool, "_network_backend"):
        pool._network_backend = AsyncioBackend()  # type: ignore[union-attr]
    return transport
