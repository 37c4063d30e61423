"""Tokens: sent only to the app's own origin, kept in the keyring or a 0600 file, never in SQLite."""

from __future__ import annotations

from pathlib import Path

import httpx
import keyring
from keyring.backend import KeyringBackend

import gradio_session as gs
from gradio_session.transport import OriginAuth
from conftest import APPS, AppServer, files_holding

SECRET = "hf_unit_test_secret_value_123"


def _auth_header(url: str) -> str | None:
    flow = OriginAuth(SECRET, "http://127.0.0.1:7860").auth_flow(httpx.Request("GET", url))
    return next(flow).headers.get("Authorization")


def test_origin_auth_only_for_the_apps_own_origin() -> None:
    assert _auth_header("http://127.0.0.1:7860/gradio_api/info") == f"Bearer {SECRET}"
    for other in ("http://127.0.0.2:7860/x", "http://127.0.0.1:7861/x", "https://127.0.0.1:7860/x",
                  "http://evil.example/x"):
        assert _auth_header(other) is None, other
    assert SECRET not in repr(OriginAuth(SECRET, "http://h"))


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
            assert backend.store == {("gradio-session", s.id): SECRET}
            assert not (home / "tokens").exists()
            gs.remove_session("kr")
            assert backend.store == {}
    finally:
        keyring.set_keyring(previous)
