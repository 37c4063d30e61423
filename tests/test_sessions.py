"""Sessions and the repository, through the Python API, against a real Gradio app."""

from __future__ import annotations

import http.server
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import gradio_session as gs
from conftest import AppServer


def _db_rows(home: Path, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    with sqlite3.connect(home / "sessions.db") as db:
        return db.execute(sql).fetchall()


def test_new_session_probes_and_records(demo_app: AppServer, home: Path) -> None:
    s = gs.new_session(demo_app.url)
    assert s.name == f"127.0.0.1:{demo_app.port}"
    assert s.record.api_url == demo_app.url + "/gradio_api"
    assert s.record.app.version == "6.31.0"
    assert {"/echo", "/stream", "/count", "/fail"} <= set(s.app.endpoints)
    assert s.record.is_default  # the first session is the default
    assert gs.get_session(".").id == s.id
    assert gs.get_session(s.id).name == s.name
    assert len(s.record.session_hash) >= 8


def test_second_session_is_not_default_and_names_are_unique(demo_app: AppServer) -> None:
    first = gs.new_session(demo_app.url, name="one")
    second = gs.new_session(demo_app.url, name="two")
    assert not second.record.is_default
    assert gs.get_session(".").id == first.id
    assert first.record.session_hash != second.record.session_hash
    with pytest.raises(gs.SessionExists, match="--force"):
        gs.new_session(demo_app.url, name="one")
    assert [s.name for s in gs.list_sessions()] == ["one", "two"]


def test_force_recreates_and_keeps_default(demo_app: AppServer) -> None:
    old = gs.new_session(demo_app.url, name="one")
    old.call("echo", "x")
    new = gs.new_session(demo_app.url, name="one", force=True)
    assert new.id != old.id
    assert new.record.is_default
    assert new.calls() == []
    assert len(gs.list_sessions()) == 1


def test_list_patterns_default_and_remove(demo_app: AppServer) -> None:
    for name in ("alpha", "beta", "alps"):
        gs.new_session(demo_app.url, name=name)
    assert [s.name for s in gs.list_sessions("al*")] == ["alpha", "alps"]
    assert [s.name for s in gs.list_sessions(".")] == ["alpha"]
    gs.set_default("beta")
    assert gs.get_session().name == "beta"
    assert gs.remove_session("beta") == ["beta"]
    with pytest.raises(gs.SessionNotFound, match="default"):
        gs.get_session()
    assert gs.remove_session(pattern="al*") == ["alpha", "alps"]
    assert gs.list_sessions() == []
    with pytest.raises(gs.SessionNotFound, match="no sessions"):
        gs.get_session()


def test_single_remaining_session_is_the_default(demo_app: AppServer) -> None:
    gs.new_session(demo_app.url, name="a")
    gs.new_session(demo_app.url, name="b")
    gs.remove_session("a")
    assert gs.get_session().name == "b"


def test_remove_forgets_calls_and_events(demo_app: AppServer, home: Path) -> None:
    s = gs.new_session(demo_app.url, name="gone")
    s.call("echo", "x")
    s.close()  # what the store worker queued is committed
    assert _db_rows(home, "SELECT COUNT(*) FROM events")[0][0] > 0
    gs.remove_session("gone")
    assert _db_rows(home, "SELECT COUNT(*) FROM calls")[0][0] == 0
    assert _db_rows(home, "SELECT COUNT(*) FROM events")[0][0] == 0


def test_set_options(demo_app: AppServer, tmp_path: Path) -> None:
    s = gs.new_session(demo_app.url, name="opts")
    s = gs.set_options("opts", max_calls=3, max_calls_policy="remove", download_path=str(tmp_path / "dl"))
    assert (s.record.max_calls, s.record.max_calls_policy) == (3, "remove")
    assert s.record.download_path == str((tmp_path / "dl").resolve())
    with pytest.raises(gs.GradioSessionError, match="max_calls_policy"):
        gs.set_options("opts", max_calls_policy="sometimes")


def test_unknown_session() -> None:
    with pytest.raises(gs.SessionNotFound, match="nope"):
        gs.get_session("nope")
    with pytest.raises(gs.SessionNotFound):
        gs.remove_session("nope*")


def test_unreachable_url_records_nothing(home: Path) -> None:
    from conftest import free_port

    with pytest.raises(gs.ConnectError, match="Can't reach"):
        gs.new_session(f"http://127.0.0.1:{free_port()}")
    assert gs.list_sessions() == []


@pytest.fixture
def not_gradio() -> Iterator[str]:
    """A plain web server (not Gradio) on a free port."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html>hello</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_not_a_gradio_app_records_nothing(not_gradio: str) -> None:
    with pytest.raises(gs.NotAGradioApp, match="does not look like a Gradio app"):
        gs.new_session(not_gradio)
    assert gs.list_sessions() == []


def test_url_without_scheme(demo_app: AppServer) -> None:
    s = gs.new_session(f"127.0.0.1:{demo_app.port}/")
    assert s.record.app_url == demo_app.url
