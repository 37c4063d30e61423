"""How requests reach one app: credentials kept to its own origin, Gradio's login made again
when the app forgets it, the proxies (the session's, else the environment's as httpx reads
them), and the certificates an https app is checked against (the OS trust store by default).

With `transport.py`, the only module that imports httpx (`connections.py`: httpcore, under it).
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from collections.abc import AsyncGenerator, Callable
from urllib.parse import urlsplit

import httpx

from .errors import CertificateError, GradioSessionError, LoginRefused
from .models import Cookie, Login, Network, Secrets
from .protocol.messages import loads


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the default port filled in: what must match to send a token."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def without_credentials(url: str) -> str:
    """The URL with any `user:password@` taken out: what is stored and printed."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return parts._replace(netloc=host + (f":{parts.port}" if parts.port else "")).geturl()


class AppAuth(httpx.Auth):
    """The session's credentials, sent to the app's own scheme, host and port only: its token
    (`Authorization: Bearer`), its headers, and Gradio's login, made again when the app refuses
    a request (a restart, another replica: a 401 is an answer, nothing ran, so the request is
    sent once more). `on_login` hears of each login, `on_cookies` when the app set cookies."""

    def __init__(self, app_url: str, secrets: Secrets, username: str | None, cookies: httpx.Cookies,
                 on_login: Callable[[Login], None] | None = None,
                 on_cookies: Callable[[tuple[Cookie, ...]], None] | None = None) -> None:
        self._app_url = app_url
        self._origin = origin(app_url)
        self._secrets = secrets
        self._username = username
        self._cookies = cookies
        self._on_login, self._on_cookies = on_login, on_cookies
        self._logins = 0  # logins made so far: a refused request after a newer one is sent again at once
        self._lock: asyncio.Lock | None = None

    def update(self, secrets: Secrets, username: str | None) -> None:
        """Send these credentials and cookies from now on (a new login, a logout, new headers)."""
        self._secrets, self._username = secrets, username
        self._cookies.clear()
        for name, value, domain, path in secrets.cookies:
            self._cookies.set(name, value, domain=domain, path=path)

    def sent(self) -> tuple[str | None, bool]:
        """The user name logged in as (when there is a password), and whether headers are sent."""
        return self._username if self._secrets.password else None, bool(self._secrets.headers)

    def own(self, url: httpx.URL | str) -> bool:
        return origin(str(url)) == self._origin

    def _sign(self, request: httpx.Request) -> None:
        if self._secrets.token:
            request.headers["Authorization"] = f"Bearer {self._secrets.token}"
        for name, value in self._secrets.headers:
            request.headers[name] = value

    async def guard(self, request: httpx.Request) -> None:
        """httpx's request hook, run for every request a redirect makes too (below the auth
        flow): one to another origin carries none of the session's credentials or cookies."""
        if not self.own(request.url):
            for name in ("Authorization", "Cookie", *(name for name, _ in self._secrets.headers)):
                request.headers.pop(name, None)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if not self.own(request.url):
            yield request
            return
        self._sign(request)
        seen = self._logins
        response = yield request
        self._cookies_set(response)
        # Gradio 3.x refuses a WebSocket without the login's cookie with 403
        refused = response.status_code == 401 or response.status_code == 403 and "upgrade" in request.headers
        if not refused or self._username is None or self._secrets.password is None:
            return
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:  # one login when many requests are refused at once
            if self._logins == seen:
                answer = yield self.login_request()
                await self._login(answer)
        request.headers.pop("Cookie", None)
        self._cookies.set_cookie_header(request)
        yield request

    def login_request(self) -> httpx.Request:
        """Gradio's login form, at the app's root (not under its API), with the session's headers."""
        request = httpx.Request("POST", f"{self._app_url}/login",
                                data={"username": self._username or "", "password": self._secrets.password or ""})
        self._sign(request)
        return request

    async def _login(self, response: httpx.Response) -> None:
        """Take the app's answer to a login: recorded, cookies kept; LoginRefused when refused."""
        text = (await response.aread()).decode(errors="replace")
        body = loads(text) if text.startswith("{") else None
        ok = response.status_code == 200 and isinstance(body, dict) and body.get("success") is not False
        detail = body.get("detail") if isinstance(body, dict) else None
        message = None if ok else str(detail or text[:200] or f"HTTP {response.status_code}")
        if self._on_login:
            self._on_login(Login(self._username or "", time.time(), ok, message))
        if not ok:
            raise LoginRefused(f"{self._app_url} refused the login of {self._username!r} (HTTP "
                               f"{response.status_code}: {message}). Log in again with the right password: "
                               "gradio-session login USER.", url=self._app_url)
        self._logins += 1
        self._cookies_set(response, always=True)

    def _cookies_set(self, response: httpx.Response, *, always: bool = False) -> None:
        if self._on_cookies and (always or "set-cookie" in response.headers):
            self._on_cookies(tuple((c.name, c.value or "", c.domain, c.path) for c in self._cookies.jar))

    def __repr__(self) -> str:
        return "AppAuth(***)"


def tls_context(network: Network) -> ssl.SSLContext | bool:
    """What an https app's certificate is checked against: the session's CA bundle, else
    SSL_CERT_FILE / SSL_CERT_DIR / REQUESTS_CA_BUNDLE, else the OS trust store (as pip does)."""
    if network.insecure:
        return False
    cafile = network.ca_bundle or os.environ.get("SSL_CERT_FILE") or os.environ.get("REQUESTS_CA_BUNDLE")
    capath = None if network.ca_bundle else os.environ.get("SSL_CERT_DIR")
    if cafile and os.path.isdir(cafile):
        cafile, capath = None, cafile
    try:
        if cafile or capath:
            return ssl.create_default_context(cafile=cafile, capath=capath)
        import truststore
    except (OSError, ssl.SSLError) as exc:
        raise CertificateError(f"Can't read the CA certificates {cafile or capath}: {exc}. Give a PEM file "
                               "with --ca-bundle (or fix SSL_CERT_FILE / REQUESTS_CA_BUNDLE).") from exc
    except ImportError:  # installed without it: httpx's own bundle
        return True
    return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class TLSWhenNeeded(httpx.AsyncBaseTransport):
    """httpx's own transport, its TLS context (loading the CA bundle: a tenth of a cold `call`)
    made on the first https request only: an app served over plain http never pays for it.
    Through `proxy` when given (an https proxy is checked like an app)."""

    def __init__(self, network: Network, proxy: str | None = None) -> None:
        self._network, self.proxy = network, proxy
        self._plain: httpx.AsyncHTTPTransport | None = None
        self._tls: httpx.AsyncHTTPTransport | None = None

    def _make(self, tls: bool) -> httpx.AsyncHTTPTransport:
        # idle connections are dropped before servers' own keep-alive (uvicorn: 5 s) closes
        # them, so a request rarely meets a connection the server is closing
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64, keepalive_expiry=3.0)
        from .connections import on_asyncio  # httpcore, loaded by httpx only once a transport is made

        verify = tls_context(self._network) if tls else False
        try:
            return on_asyncio(httpx.AsyncHTTPTransport(verify=verify, limits=limits, proxy=self.proxy))
        except ImportError as exc:  # a socks5:// proxy without socksio
            raise GradioSessionError(f"A SOCKS proxy needs the socks extra: pip install 'gradio-session[socks]' "
                                     f"({exc}).") from exc

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https" or (self.proxy or "").startswith("https:"):
            self._tls = self._tls or self._make(tls=True)
            return await self._tls.handle_async_request(request)
        self._plain = self._plain or self._make(tls=False)  # no TLS ever happens on it
        return await self._plain.handle_async_request(request)

    async def aclose(self) -> None:
        for transport in (self._plain, self._tls):
            if transport is not None:
                await transport.aclose()


def mounts(network: Network, proxy: str | None) -> dict[str, httpx.AsyncBaseTransport | None]:
    """Where requests go: the session's proxy for all, else the environment's (HTTP_PROXY,
    HTTPS_PROXY, ALL_PROXY, NO_PROXY, either case) exactly as httpx reads them."""
    if proxy:
        return {"all://": TLSWhenNeeded(network, proxy)}
    from httpx._utils import get_environment_proxies  # httpx's own reading: NO_PROXY's forms and all

    return {pattern: None if url is None else TLSWhenNeeded(network, url)
            for pattern, url in get_environment_proxies().items()}


def certificate_failure(exc: BaseException) -> bool:
    """Whether a failure to connect was the server's certificate being refused."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
