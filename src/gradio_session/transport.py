"""HTTP for one app: a shared connection pool, SSE, WebSockets, the size limits on answers.

With `network.py` (credentials, login, proxies, certificates), the only module that imports
httpx; the one place their failures become our errors.
"""

from __future__ import annotations

import asyncio
import functools
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from typing import IO, Any

import httpx
from httpx_sse import SSEError, aconnect_sse

from . import paths
from .version import __version__
from .errors import (AccessDenied, CertificateError, ConnectError, FileTransferError, GradioSessionError,
                     StreamError)
from .models import Cookie, Login, Network, Secrets
from .network import AppAuth, TLSWhenNeeded, certificate_failure, mounts, without_credentials
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


@functools.lru_cache(maxsize=256)
def parsed(url: str, query: tuple[tuple[str, str], ...] = ()) -> httpx.URL:
    """`url` (with `query` added) parsed once: httpx parses a string, and merges its params,
    on every request (a tenth of a millisecond for a call's stream)."""
    return httpx.URL(url).copy_merge_params(dict(query)) if query else httpx.URL(url)


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


class Transport:
    """One pooled async HTTP client per app; create inside the event loop that uses it.
    `http` replaces the network (an `httpx.MockTransport` in tests of faults no server makes)."""

    def __init__(self, app_url: str, secrets: Secrets | None = None, network: Network | None = None, *,
                 http: httpx.AsyncBaseTransport | None = None, on_login: Callable[[Login], None] | None = None,
                 on_cookies: Callable[[tuple[Cookie, ...]], None] | None = None) -> None:
        self.app_url = app_url
        secrets, network = secrets or Secrets(), network or Network()
        cookies = httpx.Cookies()
        for name, value, domain, path in secrets.cookies:
            cookies.set(name, value, domain=domain, path=path)
        self.auth = AppAuth(app_url, secrets, network.login, cookies, on_login, on_cookies)
        self._client = httpx.AsyncClient(
            transport=http or TLSWhenNeeded(network),
            mounts=None if http else mounts(network, secrets.proxy),
            timeout=httpx.Timeout(30.0, pool=None),
            auth=self.auth,
            cookies=cookies,
            follow_redirects=True,
            headers={"User-Agent": f"gradio-session/{__version__}"},
            event_hooks={"request": [self.auth.guard]},
        )
        self.auth._cookies = self._client.cookies  # the client copies the jar it is given
        self.closing: list[Callable[[], Awaitable[None]]] = []  # run at aclose (cookies being kept)

    def cookies(self) -> tuple[Cookie, ...]:
        """The cookies the app set, to keep with the session."""
        return tuple((c.name, c.value or "", c.domain, c.path) for c in self._client.cookies.jar)

    async def login(self) -> None:
        """Log in now (the session's user name and password): LoginRefused when the app says no."""
        with self._mapped(self.app_url):
            response = await self._client.send(self.auth.login_request(), auth=None)
        await self.auth._login(response)

    def refused(self, status: int, url: str, text: str, said: str | None = None) -> None:
        """AccessDenied when the app refused a request of its own origin (HTTP 401/403): what
        to give (a login, a header, a token) said, with the app's `said` auth_message."""
        if status not in (401, 403) or not self.auth.own(url):
            return
        body = loads(text) if text.startswith("{") else None
        detail = body.get("detail") if isinstance(body, dict) else None
        said = said or (detail.get("auth_message") if isinstance(detail, dict) else None)
        detail = (detail.get("detail") or detail.get("message")) if isinstance(detail, dict) else detail
        why = f"HTTP {status}" + (f": {detail}" if isinstance(detail, str) and detail else "")
        app = self.app_url
        user, has_headers = self.auth.sent()
        if user:
            hint = (f"even after logging in as {user!r}: that user may not be allowed here, or "
                    "the app wants another credential too (--header, --token).")
        elif status == 401 and detail in ("Not authenticated", None) and not has_headers:
            says = f" The app says: {said.rstrip('.')}." if isinstance(said, str) and said else ""
            hint = (f"this app wants a login: gradio-session new {app} --login USER, or for a session "
                    "`gradio-session login USER` (Python: auth=(user, password), s.login(user, password))."
                    f"{says} If it wants a key in a header, give --header 'Name: value'; a bearer token, --token.")
        else:
            hint = ("give what it wants: a login (--login USER), a header (--header 'Name: value'), or a "
                    "token (--token).")
        raise AccessDenied(f"{app} refused access ({why}): {hint}", url=app, status=status, body=text,
                           said=isinstance(said, str) and bool(said))

    def _mapped(self, url: str, *, streaming: bool = False) -> AbstractContextManager[None]:
        return _mapped(url, streaming=streaming, proxy=lambda: self._proxy_for(url))

    def _proxy_for(self, url: str) -> str | None:
        """The proxy a request to `url` goes through (without its credentials), if any."""
        transport = self._client._transport_for_url(httpx.URL(url))
        proxy = transport.proxy if isinstance(transport, TLSWhenNeeded) else None
        return without_credentials(proxy) if proxy else None

    async def aclose(self) -> None:
        for step in self.closing:
            await step()
        await self._client.aclose()

    async def request(self, method: str, url: str, *, retries: int = 0, **kwargs: Any) -> Response:
        """Send one request and read the whole body.

        With retries, a request that never reached the app (refused connect, a connection that
        broke while the request was written) or a busy answer (HTTP 429, 503) is sent again
        with capped, jittered backoff; one whose answer was lost after it went out
        (ConnectError with `sent`) never is: the app may be acting on it."""
        for attempt in range(retries + 1):
            try:
                with self._mapped(url):
                    async with self._client.stream(method, parsed(url), **kwargs) as r:
                        response = Response(r.status_code, await _read_body(r, url), str(r.url))
                self.refused(response.status, response.url, response.text)
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
        with self._mapped(url, streaming=True):
            async with self._client.stream("GET", url) as r:
                if r.status_code >= 400:
                    text = await _read_body(r, url)
                    self.refused(r.status_code, str(r.url), text)
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
        with self._mapped(url):
            query = tuple(params.items()) if params else ()
            async with aconnect_sse(self._client, "GET", parsed(url, query),  # type: ignore[arg-type]  # a URL too
                                    timeout=timeout) as source:
                status = source.response.status_code
                if status >= 400:
                    await source.response.aread()
                    self.refused(status, str(source.response.url), source.response.text)

                async def events() -> AsyncIterator[tuple[str, str]]:
                    with self._mapped(url, streaming=True):
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
            with self._mapped(url):
                # pings every SOCKET_PING s: a peer gone silent (no FIN) ends the call, not a wait forever
                async with aconnect_ws(url, self._client, max_message_size_bytes=SOCKET_MESSAGE_MAX,
                                       keepalive_ping_interval_seconds=SOCKET_PING,
                                       keepalive_ping_timeout_seconds=SOCKET_PING,
                                       session_class=AsyncWebSocketSession) as ws:
                    yield Socket(ws, url)
        except WebSocketUpgradeError as exc:
            try:
                text = (await exc.response.aread()).decode(errors="replace")
            except httpx.StreamError:  # httpx-ws closed it: the status says enough
                text = ""
            status = exc.response.status_code  # Gradio 3.x: 403 for a socket without the login's cookie
            self.refused(401 if status == 403 else status, str(exc.response.url), text)
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
def _mapped(url: str, *, streaming: bool = False,
            proxy: Callable[[], str | None] = lambda: None) -> Generator[None, None, None]:
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
        if certificate_failure(exc):
            raise CertificateError(
                f"The certificate of {url} was not accepted: {exc}. If the app's certificate comes from a private "
                "CA, give the CA: gradio-session new URL --ca-bundle FILE (or SSL_CERT_FILE). --insecure skips "
                "the check: only on a network you trust.", url=url) from exc
        if via := proxy():
            raise ConnectError(f"Can't reach {url} through a proxy, {via}: {exc or type(exc).__name__}. Is the "
                               "proxy up, and the app? (NO_PROXY names the hosts to reach directly.)", url=url) from exc
        raise ConnectError(f"Can't reach {url}: {exc or type(exc).__name__}. Is the app running?", url=url) from exc
    except httpx.InvalidURL as exc:
        raise ConnectError(f"Invalid URL {url!r}: {exc}", url=url) from exc
