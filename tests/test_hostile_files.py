"""What a hostile app can do with files and JSON (issue 23): every byte from an app is untrusted.

A path in an app's FileData is the app's, never a file of this machine to upload; only files
downloaded here (recorded) or named by the user are. Names, sizes and nesting are bounded.
"""

from __future__ import annotations

import errno
import gc
import io
import os
import re
import sqlite3
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import gradio_session as gs
import standin
from conftest import APPS, AppServer, cli
from gradio_session import files
from gradio_session.errors import StreamError
from gradio_session.files import NAME_BYTES, safe_name
from gradio_session.protocol.messages import MAX_DEPTH, apply_diff

SECRET = "-----BEGIN OPENSSH PRIVATE KEY----- (the test's own secret)\n"
DECOY = "a harmless file of the app\n"  # what the hostile app's own file URL serves
DEEP = "[" * 100_000 + "]" * 100_000


class Hostile(AppServer):
    """tests/apps/hostile_files_app.py, with the file where it writes what `receive` was sent."""

    def __init__(self, record: Path) -> None:
        self.record = record
        super().__init__(APPS / "hostile_files_app.py", str(record))

    def received(self) -> str:
        return self.record.read_text() if self.record.exists() else ""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    with Hostile(tmp_path_factory.mktemp("hostile") / "received.txt") as server:
        yield server


@pytest.fixture(scope="module")
def files_app() -> Iterator[AppServer]:
    with AppServer(APPS / "files_app.py") as server:
        yield server


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "ssh" / "id_ed25519"
    path.parent.mkdir()
    path.write_text(SECRET)
    return path


def _piped(upstream: subprocess.CompletedProcess[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gradio_session", *args], input=upstream.stdout,
                          capture_output=True, text=True, timeout=60, env=os.environ)


def _error(r: subprocess.CompletedProcess[str]) -> str:
    """The one error line of a failed command (after the call's event lines), no traceback."""
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    (line,) = [line for line in r.stderr.splitlines() if line.startswith("Error")]
    return line


# -- item 2: a path from an app is the app's -------------------------------------------------------


def test_an_apps_path_is_never_read_from_this_disk(hostile: Hostile, secret: Path) -> None:
    """The app answers (a plain JSON value) a FileData whose path is a local secret and whose url
    is its own file: passed on, by hand or by a pipeline, it goes as the app's reference (Gradio
    refuses a path it never received), never as an upload of the secret."""
    s = gs.new_session(hostile.url, name="h")
    (fd,) = s.invoke("leak", str(secret)).result(download=False)
    assert fd["path"] == str(secret) and fd["url"].startswith(hostile.url)
    with pytest.raises(gs.AppError, match="not uploaded"):
        s.call("receive", fd)
    up = s.invoke("leak", str(secret))
    with pytest.raises(gs.AppError, match="not uploaded"):
        s.api.receive.map_from(up, file=0).result()  # Session.feed on the same app
    assert SECRET not in hostile.received() and s.uploads() == []
    sent = [c.inputs[0] for c in s.calls() if c.endpoint == "/receive"]
    assert [(v["path"], v["url"]) for v in sent] == [(str(secret), fd["url"])] * 2  # the reference, as is


def test_the_cli_pipe_sends_an_apps_path_as_its_reference(hostile: Hostile, secret: Path) -> None:
    """`call A --json | call B --map` with two sessions on the same app, after the result and at
    each partial result (`--each`): the app's path goes back as its own, the secret stays here."""
    gs.new_session(hostile.url, name="a")
    gs.new_session(hostile.url, name="b")
    up = cli("call", "leak", str(secret), "--session", "a", "--json")
    assert up.returncode == 0, up.stderr
    down = _piped(up, "call", "receive", "--map", "file=0", "--session", "b")
    assert down.returncode == 1 and "not uploaded" in down.stderr, down.stderr
    up = cli("call", "leak_stream", str(secret), "--session", "a", "--json")
    assert up.returncode == 0 and '"generating"' in up.stdout, up.stderr
    down = _piped(up, "call", "receive", "--map", "file=0", "--each", "--session", "b")
    assert down.returncode == 1 and "not uploaded" in down.stderr, down.stderr
    assert SECRET not in down.stdout + down.stderr + hostile.received()
    b = gs.get_session("b")
    # the first pipe's call, then one per partial result (2) and one from the final result
    assert b.uploads() == [] and [c.status for c in b.calls()] == ["error"] * 4
    assert all(c.inputs[0]["path"] == str(secret) for c in b.calls())


def test_a_path_in_an_apps_text_is_the_apps(hostile: Hostile, secret: Path) -> None:
    """A text output naming a local file, fed to a file parameter (a pipeline, the CLI pipe): the
    app's own path, sent as a reference, never this machine's file."""
    s = gs.new_session(hostile.url, name="t")
    with pytest.raises(gs.AppError, match="not uploaded"):
        s.api.receive.map_from(s.invoke("say", str(secret)), file=0).result()
    up = cli("call", "say", str(secret), "--session", "t", "--json")
    assert "not uploaded" in _error(_piped(up, "call", "receive", "--map", "file=0", "--session", "t"))
    assert SECRET not in hostile.received() and s.uploads() == []
    assert [c.inputs[0]["path"] for c in s.calls() if c.endpoint == "/receive"] == [str(secret)] * 2


def test_a_file_downloaded_here_goes_up_to_another_app(hostile: Hostile, files_app: AppServer,
                                                       secret: Path) -> None:
    """The legitimate case: a result's file downloaded here (and recorded) is uploaded when fed to
    another app, by a pipeline or by hand. Swapped for a link since, it is no longer that file."""
    a, b = gs.new_session(hostile.url, name="a"), gs.new_session(files_app.url, name="b")
    up = a.invoke("leak", str(secret))
    (local,) = up.result()  # the app's own file, downloaded
    assert Path(local["path"]).read_text() == DECOY
    assert b.api.size.map_from(up, path=0).result() == [str(len(DECOY))]
    assert b.call("size", local) == [str(len(DECOY))]
    assert [u.local_path for u in b.uploads()] == [local["path"]] * 2
    os.unlink(local["path"])
    os.symlink(secret, local["path"])
    with pytest.raises(gs.AppError):  # sent as a reference that files_app never received
        b.call("size", local)
    assert len(b.uploads()) == 2


def test_downloads_are_recorded_with_their_session(hostile: Hostile, home: Path) -> None:
    """One row per file downloaded (its path, url and size); gone with the session. An older
    repository gains the table."""
    s = gs.new_session(hostile.url, name="rec")
    (local,) = s.call("named", "report.txt")
    db = sqlite3.connect(home / "sessions.db")
    assert db.execute("SELECT local_path, url, size FROM downloads").fetchall() == \
        [(local["path"], local["url"], len(DECOY))]
    gs.remove_session("rec")
    assert db.execute("SELECT COUNT(*) FROM downloads").fetchone() == (0,)
    db.execute("DROP TABLE downloads")
    db.execute("PRAGMA user_version = 7")
    db.commit()
    from gradio_session.store.repository import SCHEMA_VERSION, Repository

    repo = Repository(home)
    assert repo.downloaded([(local["path"], local["url"])]) == set()
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    repo.close()
    db.close()


# -- item 9: hostile names, sizes and shapes -------------------------------------------------------


def test_hostile_names_from_a_real_app(hostile: Hostile, tmp_path: Path) -> None:
    """Names too long in bytes (kept whole in characters, with their extension), hidden or read
    as options, with bidi overrides and invisible characters: each lands under a plain name."""
    folder = tmp_path / "dl"
    s = gs.new_session(hostile.url, name="names", download_path=str(folder))
    names = {"é" * 200: "é" * 100, "é" * 200 + ".txt": "é" * 98 + ".txt", ".bashrc": "_.bashrc", "-rf": "_-rf",
             "invoice\u202etxt.exe": "invoicetxt.exe", "a\u2028b\u2029c\u200b\ufeff\u2066.txt": "abc.txt"}
    for name, expected in names.items():
        (out,) = s.call("named", name)
        assert Path(out["path"]) == folder / expected and Path(out["path"]).read_text() == DECOY
    assert sorted(p.name for p in folder.iterdir()) == sorted(names.values())


@pytest.mark.parametrize("name, expected", [
    ("€" * 100, "€" * 66), ("€" * 100 + ".txt", "€" * 65 + ".txt"), ("..bashrc", "_..bashrc"),
    ("--help.txt", "_--help.txt"), ("\u202e\u200f", "file"), ("a\udc80b.txt", "ab.txt"), (" -x ", "_-x"),
], ids=["300 bytes", "300 bytes.txt", "dots", "dashes", "invisible only", "lone surrogate", "spaced dash"])
def test_safe_name_bounds_bytes_and_drops_invisibles(name: str, expected: str) -> None:
    """At most NAME_BYTES bytes, cut between characters; nothing hidden, optional or unwritable."""
    assert safe_name(name) == expected and len(safe_name(name).encode()) <= NAME_BYTES


def test_a_link_at_the_name_is_never_followed(files_app: AppServer, tmp_path: Path) -> None:
    """Links in the folder under the result's name (one to a file, one dangling): the download
    takes the next free name; neither link nor its target is touched."""
    sample = tmp_path / "in" / "hello.txt"
    sample.parent.mkdir()
    sample.write_text("hello files\n")
    folder = tmp_path / "dl"
    folder.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("mine")
    (folder / "hello.txt").symlink_to(victim)
    (folder / "hello (1).txt").symlink_to(tmp_path / "nowhere.txt")
    s = gs.new_session(files_app.url, name="links", download_path=str(folder))
    (out,) = s.call("same", sample)
    assert Path(out["path"]) == folder / "hello (2).txt" and Path(out["path"]).read_text() == "hello files\n"
    assert victim.read_text() == "mine" and not (tmp_path / "nowhere.txt").exists()
    assert (folder / "hello.txt").is_symlink() and (folder / "hello (1).txt").is_symlink()


def test_a_download_over_the_limit_is_refused(hostile: Hostile, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """GRADIO_SESSION_MAX_DOWNLOAD: a file said to be over it (Content-Length), or found over it
    as it is read (a gzipped text whose Content-Length counts the compressed bytes), is refused
    with nothing left in the folder; the CLI says so in one line."""
    folder = tmp_path / "dl"
    s = gs.new_session(hostile.url, name="big", download_path=str(folder))
    assert Path(s.call("sized", 5000, False)[0]["path"]).stat().st_size == 5000  # the default allows it
    monkeypatch.setenv("GRADIO_SESSION_MAX_DOWNLOAD", "1000")
    for text in (False, True):
        with pytest.raises(gs.FileTransferError, match=r"over the limit of 1000 bytes \(GRADIO_SESSION_MAX_DOWNLOAD\)"):
            s.call("sized", 5000, text)
    assert [p.name for p in folder.iterdir()] == ["data-5000.bin"]  # the first one only
    assert "GRADIO_SESSION_MAX_DOWNLOAD" in _error(cli("call", "sized", "5000", "true", "--session", "big"))


def test_an_answer_over_the_limit_is_refused(hostile: Hostile, monkeypatch: pytest.MonkeyPatch) -> None:
    """GRADIO_SESSION_MAX_BODY: the app's `/config` over it refuses the session, in one line."""
    monkeypatch.setenv("GRADIO_SESSION_MAX_BODY", "2000")
    with pytest.raises(gs.GradioSessionError, match=r"/config is over the limit of 2000 bytes \(GRADIO_SESSION_MAX_BODY\)"):
        gs.new_session(hostile.url, name="small")
    assert "GRADIO_SESSION_MAX_BODY" in _error(cli("new", hostile.url, "--name", "small"))
    monkeypatch.setenv("GRADIO_SESSION_MAX_BODY", "lots")
    assert "GRADIO_SESSION_MAX_BODY must be a positive number of bytes" in _error(cli("new", hostile.url))


@pytest.mark.parametrize("told", ["100", None])
def test_an_answer_longer_than_told_is_cut(told: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in (`httpx.MockTransport`): a `/config` whose Content-Length says less than it
    sends, or that says nothing (chunked) - Gradio never lies about it - is counted as it is read."""
    from gradio_session.core.runtime import runtime

    async def body() -> Any:
        for _ in range(10):
            yield b" " * 1000

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": "application/json", **({"Content-Length": told} if told else {})}
        return httpx.Response(200, headers=headers, content=body())

    monkeypatch.setenv("GRADIO_SESSION_MAX_BODY", "2000")
    monkeypatch.setattr(runtime(), "http", httpx.MockTransport(handler))
    with pytest.raises(gs.GradioSessionError, match="over the limit of 2000 bytes"):
        gs.new_session("http://mock.invalid", name="liar")


def test_a_full_disk_while_downloading(hostile: Hostile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up mid-download (the app is real; the full disk is a file object whose
    writes fail with ENOSPC, as no test can fill a real one): a clear error naming the folder,
    and no partial file."""
    real = os.fdopen

    class FullDisk(io.RawIOBase):
        def __init__(self, fd: int, mode: str = "rb") -> None:
            super().__init__()
            self.out = real(fd, mode)

        def write(self, data: Any) -> int:
            self.out.write(bytes(data)[: len(data) // 2])
            self.out.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def close(self) -> None:
            self.out.close()
            super().close()

    monkeypatch.setattr(files, "os", types.SimpleNamespace(**{**vars(os), "fdopen": FullDisk}))
    folder = tmp_path / "dl"
    s = gs.new_session(hostile.url, name="full", download_path=str(folder))
    with pytest.raises(gs.FileTransferError, match=f"into {re.escape(str(folder))}: No space left on device. "
                                                   "The partial file was removed"):
        s.call("sized", 200_000, False)
    assert list(folder.iterdir()) == []


def test_json_nested_too_deep_from_a_real_app(hostile: Hostile) -> None:
    """A JSON output nested past MAX_DEPTH: that call fails at once, saying why; the session
    goes on; the CLI says it in one line."""
    s = gs.new_session(hostile.url, name="deep")
    with pytest.raises(gs.StreamError, match="nested too deep"):
        s.call("deep", MAX_DEPTH + 50)
    assert s.call("deep", 3) == [[[["bottom"]]]]
    assert "nested too deep" in _error(cli("call", "deep", str(MAX_DEPTH + 50), "--session", "deep"))


def test_a_message_nested_100000_deep(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A stand-in (tests/standin.py): no real Gradio sends a queue message 100000 lists deep
    (serializing it fails in the app). One clear error, nothing left unretrieved."""
    def stream(mode: str, event_id: str, output: object = None) -> bytes:
        return (f'data: {{"msg": "process_completed", "event_id": "{event_id}", "success": true, '
                f'"output": {{"data": [{DEEP}]}}}}\n\n').encode()

    monkeypatch.setattr(standin, "stream", stream)
    with standin.standin("result") as url:
        s = gs.new_session(url, name="deep")
        with pytest.raises(gs.StreamError, match="nested too deep"):
            s.call("echo", "x")
        s.close()
        r = cli("call", "echo", "x", "--session", "deep")
    assert "nested too deep" in _error(r)
    gc.collect()  # a task whose exception nobody retrieved says so when it is collected
    assert "never retrieved" not in r.stderr + caplog.text
    assert [c.status for c in s.calls()] == ["failed", "failed"]


def test_an_api_description_nested_100000_deep(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in (`httpx.MockTransport`): `/info` 100000 lists deep, which no Gradio serves."""
    from gradio_session.core.runtime import runtime

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/config":
            return httpx.Response(200, json=standin.CONFIG)
        return httpx.Response(200, text=DEEP, headers={"Content-Type": "application/json"})

    monkeypatch.setattr(runtime(), "http", httpx.MockTransport(handler))
    with pytest.raises(gs.StreamError, match="nested too deep"):
        gs.new_session("http://mock.invalid", name="deep-info")


def test_a_streamed_diff_cannot_nest_past_the_bound() -> None:
    """Each diff's path is bounded, so values rebuilt from diffs stay within twice MAX_DEPTH."""
    with pytest.raises(StreamError, match=f"a path {MAX_DEPTH + 1} levels deep"):
        apply_diff([], [["replace", [0] * (MAX_DEPTH + 1), 1]])
