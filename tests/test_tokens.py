"""Tokens: sent only to the app's own origin, kept in the keyring or a 0600 file, never in SQLite."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
from pathlib import Path

import httpx
import keyring
from keyring.backend import KeyringBackend

import gradio_session as gs
from gradio_session.models import Secrets
from gradio_session.network import AppAuth
from conftest import APPS, AppServer, files_holding

SECRET = "hf_unit_test_secret_value_123"


def _auth(secrets: Secrets) -> AppAuth:
    return AppAuth("http://127.0.0.1:7860", secrets, None, httpx.Cookies())


def _auth_header(url: str, name: str = "Authorization") -> str | None:
    async def first() -> httpx.Request:
        return await _auth(Secrets(token=SECRET, headers=(("X-Api-Key", "k-1"),))).async_auth_flow(
            httpx.Request("GET", url)).__anext__()

    return asyncio.run(first()).headers.get(name)


def test_origin_auth_only_for_the_apps_own_origin() -> None:
    assert _auth_header("http://127.0.0.1:7860/gradio_api/info") == f"Bearer {SECRET}"
    assert _auth_header("http://127.0.0.1:7860/gradio_api/info", "X-Api-Key") == "k-1"
    for other in ("http://127.0.0.2:7860/x", "http://127.0.0.1:7861/x", "https://127.0.0.1:7860/x",
                  "http://evil.example/x", "http://127.0.0.1.evil.example:7860/x"):
        assert _auth_header(other) is None, other
        assert _auth_header(other, "X-Api-Key") is None, other
    assert SECRET not in repr(_auth(Secrets(token=SECRET))) + repr(Secrets(token=SECRET, password=SECRET))


def _seen(log: Path) -> list[str]:
    """The Authorization header of each request the app got, in order ("-": none)."""
    return log.read_text().splitlines() if log.exists() else []


def test_token_is_sent_to_the_app_and_reloaded_by_later_sessions(home: Path, tmp_path: Path) -> None:
    log = tmp_path / "headers.log"
    with AppServer(APPS / "header_log_app.py", str(log)) as app:
        log.unlink()  # the fixture's own readiness probe
        gs.new_session(app.url, name="tok", token=SECRET)
        seen = _seen(log)
        assert seen and set(seen) == {f"Bearer {SECRET}"}, seen
        log.unlink()
        assert gs.get_session("tok").call("echo", "x") == ["x"]  # a new handle reads the stored token
        seen = _seen(log)
        assert seen and set(seen) == {f"Bearer {SECRET}"}, seen
    assert files_holding(home, SECRET) == [f"tokens/{gs.get_session('tok').id}"]  # not SQLite, its journals, a log


class MemoryKeyring(KeyringBackend):
    """An OS keyring stand-in (the test machine has none)."""

    priority = 10  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


def test_token_goes_to_the_keyring_when_there_is_one(home: Path) -> None:
    backend = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        with AppServer(APPS / "header_log_app.py") as app:
            s = gs.new_session(app.url, name="kr", token=SECRET)
            assert list(backend.store) == [("gradio-session", s.id)]
            assert json.loads(backend.store["gradio-session", s.id])["token"] == SECRET
            assert not (home / "tokens").exists()
            gs.remove_session("kr")
            assert backend.store == {}
    finally:
        keyring.set_keyring(previous)


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A tiny real server: /go redirects to `to`, anything else answers and logs its headers."""

    seen: list[dict[str, str]] = []
    to = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/go":
            self.send_response(302)
            self.send_header("Location", self.to)
        else:
            self.seen.append(dict(self.headers))
            self.send_response(200)
            self.send_header("Set-Cookie", "access-token-unsecure-x=k")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_no_credential_leaves_the_apps_origin_not_even_by_a_redirect() -> None:
    """The app redirects a request to another origin (another port of the same host: cookies
    would go there), and a result's file lives there: neither the token, the headers nor the
    login's cookies reach it."""
    from gradio_session.transport import Transport

    servers = []
    for _ in range(2):
        handler = type("Handler", (_Recorder,), {"seen": []})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    app, other = (f"http://127.0.0.1:{s.server_address[1]}" for s in servers)
    servers[0].RequestHandlerClass.to = f"{other}/landed"  # type: ignore[attr-defined]
    secrets = Secrets(token=SECRET, headers=(("X-Api-Key", "k-1"),), password="pw")

    async def run() -> None:
        transport = Transport(app, secrets)
        try:
            await transport.request("GET", f"{app}/first")  # the app sets its login cookie
            await transport.request("GET", f"{app}/go")
            await transport.request("GET", f"{other}/file")
        finally:
            await transport.aclose()

    try:
        asyncio.run(run())
    finally:
        for server in servers:
            server.shutdown()
    (first,) = servers[0].RequestHandlerClass.seen  # type: ignore[attr-defined]
    assert first["Authorization"] == f"Bearer {SECRET}" and first["X-Api-Key"] == "k-1"
    landed, file = servers[1].RequestHandlerClass.seen  # type: ignore[attr-defined]
    for seen in (landed, file):
        assert not {"Authorization", "X-Api-Key", "Cookie"} & set(seen), seen
