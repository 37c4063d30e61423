"""HTTP for one app: a shared connection pool, the token kept to the app's own origin, SSE.

The only module that imports httpx and httpx-sse; it turns their failures into our errors.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Callable, Generator
from contextlib import asynccontextmanager, contextmanager
from typing import IO, Any
from urllib.parse import urlsplit

import httpx
from httpx_sse import SSEError, aconnect_sse

from . import paths
from .version import __version__
from .errors import ConnectError, FileTransferError, GradioSessionError, StreamError
from .protocol.messages import loads

# Gradio sends a heartbeat every ~15 s: four missed ones mean the stream is dead.
STREAM_READ_TIMEOUT = 60.0
SOCKET_MESSAGE_MAX = 256 * 1024 * 1024  # Gradio 3.x sends whole values, images as base64, on its sockets
SOCKET_PING = 20.0  # seconds between pings on a call's WebSocket, and for each answer
RETRY_STATUSES = frozenset({429, 503})  # busy or queue full: worth another try before acceptance
# Size limits on what an app sends (bytes; the environment variables in paths.py change them).
# An answer read whole (`/config`, `/info`, a join's answer) is KBs, a big app's config a few MB.
MAX_BODY = 32 * 2**20
# A result file: beyond any media a Gradio component shows (an hour of HD video), short of what
# fills a disk unnoticed; apps that return model weights or datasets need it raised.
MAX_DOWNLOAD = 2 * 2**30


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the default port filled in: what must match to send a token."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


class OriginAuth(httpx.Auth):
    """Sends `Authorization: Bearer` only to the app's own scheme, host and port."""

    def __init__(self, token: str, app_url: str) -> None:
        self._token = token
        self._origin = origin(app_url)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if origin(str(request.url)) == self._origin:
            request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:
        return "OriginAuth(token=***)"


class Response:
    """The parts of an HTTP response the protocol needs."""

    def __init__(self, status: int, text: str, url: str) -> None:
        self.status = status
        self.text = text
        self.url = url

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON; StreamError when nested too deep."""
        try:
            return loads(self.text)
        except ValueError:
            return None


def limit(env: str, default: int) -> int:
    """A size limit in bytes: the environment variable `env` when set, else `default`."""
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) == 0:
        raise GradioSessionError(f"{env} must be a positive number of bytes, not {raw!r}.")
    return int(raw)


def _too_big(what: str, most: int, env: str) -> str:
    return (f"{what} is over the limit of {most} bytes ({env}): refused. If you trust the app, set "
            f"{env} to a higher number of bytes.")


def _declared(r: httpx.Response) -> int | None:
    """The Content-Length the server gave (of the bytes sent, maybe compressed), if any."""
    value = r.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


class _TLSWhenNeeded(httpx.AsyncBaseTransport):
    """httpx's own transport, its TLS context (loading the CA bundle: a tenth of a cold `call`)
    made on the first https request only: an app served over plain http never pays for it."""

    def __init__(self) -> None:
        self._plain: httpx.AsyncHTTPTransport | None = None
        self._tls: httpx.AsyncHTTPTransport | None = None

    @staticmethod
    def _make(verify: bool) -> httpx.AsyncHTTPTransport:
        # idle connections are dropped before servers' own keep-alive (uvicorn: 5 s) closes
        # them, so a request rarely meets a connection the server is closing
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64, keepalive_expiry=3.0)
        return httpx.AsyncHTTPTransport(verify=verify, limits=limits)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https":
            self._tls = self._tls or self._make(verify=True)
            return await self._tls.handle_async_request(request)
        self._plain = self._plain or self._make(verify=False)  # no TLS ever happens on it
        return await self._plain.handle_async_request(request)

    async def aclose(self) -> None:
        for transport in (self._plain, self._tls):
            if transport is not None:
                await transport.aclose()


class Transport:
    """One pooled async HTTP client per app; create inside the event loop that uses it.
    `http` replaces the network (an `httpx.MockTransport` in tests of faults no server makes)."""

    def __init__(self, app_url: str, token: str | None = None, *,
                 http: httpx.AsyncBaseTransport | None = None) -> None:
        self.app_url = app_url
        self._client = httpx.AsyncClient(
            transport=http or _TLSWhenNeeded(),
            timeout=httpx.Timeout(30.0, pool=None),
            auth=OriginAuth(token, app_url) if token else None,
            follow_redirects=True,
            headers={"User-Agent": f"gradio-session/{__version__}"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(self, method: str, url: str, *, retries: int = 0, **kwargs: Any) -> Response:
        """Send one request and read the whole body.

        With retries, a request that never reached the app (refused connect, a connection that
        broke while the request was written) or a busy answer (HTTP 429, 503) is sent again
        with capped, jittered backoff; one whose answer was lost after it went out
        (ConnectError with `sent`) never is: the app may be acting on it."""
        for attempt in range(retries + 1):
            try:
                with _mapped(url):
                    async with self._client.stream(method, url, **kwargs) as r:
                        response = Response(r.status_code, await _read_body(r, url), str(r.url))
                if response.status not in RETRY_STATUSES or attempt >= retries:
                    return response
            except ConnectError as exc:
                if exc.sent or attempt >= retries:
                    raise
            await asyncio.sleep(min(0.05 * 2**attempt, 1.0) * (0.5 + random.random()))
        raise AssertionError("unreachable")

    @staticmethod
    def timeout(read: float) -> httpx.Timeout:
        """A timeout allowing `read` seconds of server silence (a big upload being stored)."""
        return httpx.Timeout(30.0, read=read, pool=None)

    async def download(self, url: str, out: IO[bytes],
                       progress: Callable[[int, int | None], None] | None = None) -> None:
        """Stream a GET into `out` chunk by chunk; progress(done, total or None) after each.
        FileTransferError for a file over the download limit (told, or as it is read)."""
        most = limit(paths.MAX_DOWNLOAD_ENV, MAX_DOWNLOAD)
        refused = _too_big(f"The file at {url}", most, paths.MAX_DOWNLOAD_ENV)
        with _mapped(url, streaming=True):
            async with self._client.stream("GET", url) as r:
                if r.status_code >= 400:
                    text = await _read_body(r, url)
                    raise FileTransferError(f"Downloading {url} failed (HTTP {r.status_code}): {text[:200]}")
                total = _declared(r)
                if total is not None and total > most:
                    raise FileTransferError(refused)
                written = 0
                async for chunk in r.aiter_bytes():
                    written += len(chunk)
                    if written > most:  # no Content-Length, a false one, or a compressed body
                        raise FileTransferError(refused)
                    out.write(chunk)
                    if progress:
                        progress(r.num_bytes_downloaded, total)
                if total is not None and r.num_bytes_downloaded != total:
                    raise StreamError(f"The server sent {r.num_bytes_downloaded} of {total} bytes.")

    @asynccontextmanager
    async def sse(self, url: str, params: dict[str, str] | None = None
                  ) -> AsyncIterator[tuple[int, AsyncIterator[tuple[str, str]]]]:
        """Open a server-sent-event stream: yields (HTTP status, iterator of (event, data))."""
        timeout = httpx.Timeout(30.0, read=STREAM_READ_TIMEOUT, pool=None)
        with _mapped(url):
            async with aconnect_sse(self._client, "GET", url, params=params, timeout=timeout) as source:
                status = source.response.status_code
                if status >= 400:
                    await source.response.aread()

                async def events() -> AsyncIterator[tuple[str, str]]:
                    with _mapped(url, streaming=True):
                        try:
                            async for sse in source.aiter_sse():
                                yield sse.event, sse.data
                        except SSEError as exc:
                            raise StreamError(f"{url} did not answer with an event stream: {exc}") from exc

                yield status, events()

    @asynccontextmanager
    async def websocket(self, url: str) -> AsyncIterator[Socket]:
        """Open a WebSocket on the app's pool (its token, its TLS): ConnectError when it can't
        be opened (`sent` False: nothing reached the app), StreamError once open."""
        from httpx_ws import AsyncWebSocketSession, WebSocketUpgradeError, aconnect_ws

        try:
            with _mapped(url):
                # pings every SOCKET_PING s: a peer gone silent (no FIN) ends the call, not a wait forever
                async with aconnect_ws(url, self._client, max_message_size_bytes=SOCKET_MESSAGE_MAX,
                                       keepalive_ping_interval_seconds=SOCKET_PING,
                                       keepalive_ping_timeout_seconds=SOCKET_PING,
                                       session_class=AsyncWebSocketSession) as ws:
                    yield Socket(ws, url)
        except WebSocketUpgradeError as exc:
            raise ConnectError(f"{url} refused the WebSocket (HTTP {exc.response.status_code}).",
                               url=url, sent=False) from exc
        except Exception as exc:  # anyio's task group inside wraps what escapes it (a failed ping)
            inner = getattr(exc, "exceptions", None)
            if inner and len(inner) == 1 and isinstance(inner[0], Exception):
                with _socket_errors(url):
                    raise inner[0] from None
            raise


async def _read_body(r: httpx.Response, url: str) -> str:
    """A whole answer as text, refused (StreamError) past the body limit, told or read."""
    most = limit(paths.MAX_BODY_ENV, MAX_BODY)
    declared = _declared(r)
    body = bytearray()
    if declared is None or declared <= most:
        async for chunk in r.aiter_bytes():
            body += chunk
            if len(body) > most:
                break
    if len(body) > most or declared is not None and declared > most:
        raise StreamError(_too_big(f"The answer of {url}", most, paths.MAX_BODY_ENV))
    return body.decode(r.encoding or "utf-8", errors="replace")


class Socket:
    """An open WebSocket carrying JSON messages; its failures are StreamErrors."""

    def __init__(self, ws: Any, url: str) -> None:
        self._ws, self._url = ws, url

    async def send(self, message: dict[str, Any]) -> None:
        with _socket_errors(self._url):
            await self._ws.send_json(message)

    async def receive(self) -> Any:
        """The next message, parsed; StreamError when the socket closes or breaks."""
        with _socket_errors(self._url):
            return loads(await self._ws.receive_text())


@contextmanager
def _socket_errors(url: str) -> Generator[None, None, None]:
    from httpx_ws import HTTPXWSException, WebSocketDisconnect

    try:
        yield
    except WebSocketDisconnect as exc:
        raise StreamError(f"The server closed the WebSocket {url} mid-call (code {exc.code}).") from exc
    except (HTTPXWSException, ValueError) as exc:
        raise StreamError(f"The WebSocket {url} broke mid-call: {exc!r}") from exc


@contextmanager
def _mapped(url: str, *, streaming: bool = False) -> Generator[None, None, None]:
    """The one place where httpx failures become our errors."""
    try:
        yield
    except httpx.TimeoutException as exc:
        if streaming:
            raise StreamError(f"The server at {url} went silent (no event for {STREAM_READ_TIMEOUT:.0f} s).") from exc
        sent = isinstance(exc, httpx.ReadTimeout)  # connect, write and pool timeouts: never arrived whole
        raise ConnectError(f"Timed out talking to {url}. Is the app up and reachable?", url=url, sent=sent) from exc
    except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError) as exc:
        if streaming:
            raise StreamError(f"The connection to {url} broke mid-stream (the server stopped?): {exc}") from exc
        sent = not isinstance(exc, httpx.WriteError)  # a request cut while written is never acted on
        raise ConnectError(f"The connection to {url} broke: {exc}", url=url, sent=sent) from exc
    except httpx.TransportError as exc:
        raise ConnectError(f"Can't reach {url}: {exc or type(exc).__name__}. Is the app running?", url=url) from exc
    except httpx.InvalidURL as exc:
        raise ConnectError(f"Invalid URL {url!r}: {exc}", url=url) from exc
