"""Files: uploads recorded in the session, file parameters, downloads into the session's folder."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import gradio_session as gs
from conftest import APPS, AppServer, cli, free_port, json_lines
from gradio_session.files import safe_name
from standin import FILE_BODY, standin

FILES_APP = APPS / "files_app.py"


@pytest.fixture(scope="module")
def files_app() -> Iterator[AppServer]:
    with AppServer(FILES_APP) as server:
        yield server


@pytest.fixture(scope="module")
def small_app() -> Iterator[AppServer]:
    """The files app with max_file_size 1 KB: bigger uploads get HTTP 413."""
    with AppServer(FILES_APP, "1kb") as server:
        yield server


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "hello.txt"
    path.parent.mkdir()
    path.write_text("hello files\n")
    return path


def ok(*args: str) -> str:
    r = cli(*args)
    assert r.returncode == 0, f"{args}: {r.stderr}"
    return r.stdout


def test_file_parameters_are_detected(files_app: AppServer) -> None:
    s = gs.new_session(files_app.url, name="f")
    kinds = {name: [p.file for p in ep.parameters] for name, ep in s.app.endpoints.items()}
    assert kinds == {"/same": ["one"], "/many": ["many"], "/size": ["one"], "/image": ["one"],
                     "/gallery": ["many"]}


def test_upload_is_recorded(files_app: AppServer, sample: Path) -> None:
    s = gs.new_session(files_app.url, name="f")
    url = "https://example.com/pics/cat.png"
    fd, passed, kept = s.upload(sample, url, gs.FileData(path="/srv/x.txt"))
    assert fd.orig_name == "hello.txt" and fd.size == sample.stat().st_size
    assert fd.url == f"{s.record.api_url}/file={fd.path}"
    assert (passed.path, passed.url, passed.orig_name) == (url, url, "cat.png")
    assert kept.path == "/srv/x.txt"
    (record,) = s.uploads()  # only the local file was uploaded
    assert record.local_path == str(sample) and record.server_path == fd.path
    assert record.sha256 == hashlib.sha256(sample.read_bytes()).hexdigest()
    assert s.call("size", fd) == [str(sample.stat().st_size)]  # a FileData object as a value


def test_file_parameters_take_paths_and_filedata(files_app: AppServer, sample: Path) -> None:
    s = gs.new_session(files_app.url, name="f")
    assert s.call("size", str(sample)) == [str(sample.stat().st_size)]
    (out,) = s.call("same", sample)  # downloaded into the session's folder
    assert out["orig_name"] == "hello.txt" and out["url"].startswith(files_app.url)
    assert s.call("size", out) == [str(sample.stat().st_size)]  # a result's file, sent back
    (remote,) = s.invoke("same", sample).result(download=False)
    assert s.call("size", remote) == [str(sample.stat().st_size)]  # a server's FileData as is
    (outs,) = s.call("many", [sample, str(sample)])
    assert len(outs) == 2 and all(o["orig_name"] == "hello.txt" for o in outs)
    # the same file twice in one call is uploaded once; a downloaded result's file again
    assert len(s.uploads()) == 5


def test_url_parameter_passes_through(files_app: AppServer) -> None:
    s = gs.new_session(files_app.url, name="f")
    # Gradio fetches URLs itself and refuses private hosts: its refusal proves the URL went as is.
    with pytest.raises(gs.AppError, match="failed validation"):
        s.call("size", "http://127.0.0.1:9/file.txt")
    assert s.uploads() == []
    assert s.calls()[0].inputs[0]["path"] == "http://127.0.0.1:9/file.txt"


def test_downloads_land_in_the_folder(files_app: AppServer, sample: Path, tmp_path: Path) -> None:
    folder = tmp_path / "downloads"
    s = gs.new_session(files_app.url, name="f", download_path=str(folder))
    (out,) = s.call("same", sample)
    assert out["path"] == str(folder / "hello.txt") and out["url"].startswith(files_app.url)
    assert Path(out["path"]).read_text() == "hello files\n"
    (gallery,) = s.call("gallery", [sample, sample])  # nested: [{"image": FileData, "caption"}]
    paths = [item["image"]["path"] for item in gallery]
    assert paths == [str(folder / "hello (1).txt"), str(folder / "hello (2).txt")]
    assert sorted(p.name for p in folder.iterdir()) == ["hello (1).txt", "hello (2).txt", "hello.txt"]
    odd = sample.with_name("my report #1?.txt")  # quoted in URLs
    odd.write_text("odd")
    (out,) = s.call("same", odd)
    assert Path(out["path"]).read_text() == "odd" and Path(out["path"]).name == "my report #1.txt"
    c = s.invoke("same", sample)  # a folder given to result() wins over the session's
    (other,) = c.result(download_path=tmp_path / "other")
    assert Path(other["path"]).parent == tmp_path / "other"


def test_a_compressed_download(files_app: AppServer, tmp_path: Path) -> None:
    """Gradio gzips bigger text files: their Content-Length counts the bytes sent, not the file's."""
    s = gs.new_session(files_app.url, name="gz", download_path=str(tmp_path / "dl"))
    text = tmp_path / "big.txt"
    text.write_text("gradio-session " * 4000)  # 60 KB that compress well
    (out,) = s.call("same", text)
    assert Path(out["path"]).read_text() == text.read_text()


def test_result_files_are_downloaded_by_default(files_app: AppServer, sample: Path, home: Path) -> None:
    """No folder set: the files land in the session's own folder under the repository, so a
    result's `path` is always a file on this machine; `download=False` keeps them remote."""
    s = gs.new_session(files_app.url, name="owner/app")
    (out,) = s.call("same", sample)
    folder = (home / "downloads" / "owner" / "app").resolve()
    assert out["path"] == str(folder / "hello.txt") and Path(out["path"]).read_text() == "hello files\n"
    (remote,) = s.invoke("same", sample).result(download=False)
    assert remote["url"].startswith(files_app.url) and not Path(remote["path"]).is_relative_to(home)
    r = cli("call", "same", str(sample), "--session", "owner/app", "--json")
    assert r.returncode == 0, r.stderr
    assert json_lines(r.stdout)[-1]["data"][0]["path"].startswith(str(folder))
    r = cli("call", "same", str(sample), "--session", "owner/app", "--no-download", "--json")
    assert r.returncode == 0, r.stderr
    assert json_lines(r.stdout)[-1]["data"][0]["url"].startswith(files_app.url)
    assert "downloaded" not in {line["event"] for line in json_lines(r.stdout)}


def test_missing_file_is_refused_before_sending(files_app: AppServer, tmp_path: Path) -> None:
    s = gs.new_session(files_app.url, name="f")
    with pytest.raises(gs.FileTransferError, match="No such file"):
        s.call("many", [tmp_path / "nope.txt"])
    with pytest.raises(gs.FileTransferError, match="No such file"):
        s.upload(tmp_path)  # a folder
    assert s.calls() == [] and s.uploads() == []
    with pytest.raises(gs.ParameterError, match="not a file"):
        s.call("size", 42)


def test_upload_too_big_is_refused(small_app: AppServer, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(5000))
    s = gs.new_session(small_app.url, name="small")
    with pytest.raises(gs.FileTransferError, match="HTTP 413"):
        s.upload(big)
    with pytest.raises(gs.FileTransferError, match="HTTP 413"):
        s.call("same", big)
    assert s.uploads() == [] and s.calls() == []
    r = cli("upload", str(big), "--session", "small")
    assert r.returncode == 1 and "Traceback" not in r.stderr and "413" in r.stderr


def test_cli_upload_uploads_and_file_calls(files_app: AppServer, sample: Path, tmp_path: Path) -> None:
    ok("new", files_app.url, "--name", "f")
    (fd,) = json.loads(ok("upload", str(sample), "--json"))
    assert fd["orig_name"] == "hello.txt" and fd["meta"] == {"_type": "gradio.FileData"}
    assert ok("upload", "https://example.com/a.png") == "https://example.com/a.png\n"
    (record,) = json.loads(ok("uploads", "--json"))
    assert record["server_path"] == fd["path"] and record["size"] == sample.stat().st_size
    assert "hello.txt" in ok("uploads")
    assert json.loads(ok("show", "--json"))["uploads"] == 1
    assert ok("call", "size", str(sample)) == f"{sample.stat().st_size}\n"
    assert ok("call", "size", json.dumps(fd)) == f"{sample.stat().st_size}\n"
    folder = tmp_path / "cli-downloads"
    lines = json_lines(ok("call", "many", json.dumps([str(sample)]), "--download-path", str(folder), "--json"))
    assert lines[-1]["event"] == "downloaded"
    assert lines[-1]["data"][0][0]["path"] == str(folder / "hello.txt")
    assert (folder / "hello.txt").read_text() == "hello files\n"
    r = cli("call", "size", str(tmp_path / "nope.txt"))
    assert r.returncode == 1 and "Traceback" not in r.stderr and "No such file" in r.stderr
    r = cli("upload", str(tmp_path / "nope.txt"))
    assert r.returncode == 1 and "No such file" in r.stderr
    assert json.loads(ok("show", "--json"))["uploads"] == 3  # + two uploads by `call size`


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd", "passwd"), ("..\\..\\x", "x"), ("..", "file"), ("", "file"), (".", "file"),
    ("CON", "file_CON"), ("nul.txt", "file_nul.txt"), ("a\x00b\nc.txt", "abc.txt"), ("ok.txt. ", "ok.txt"),
    ("C:\\Windows\\evil.dll", "evil.dll"), ("x" * 300 + ".txt", "x" * 196 + ".txt"),
])
def test_safe_name(name: str, expected: str) -> None:
    assert safe_name(name) == expected


def _filedata(path: str, orig_name: str | None) -> dict[str, object]:
    return {"path": path, "url": None, "orig_name": orig_name, "size": None, "mime_type": None,
            "meta": {"_type": "gradio.FileData"}}


def test_hostile_names_stay_in_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "dl"
    output = [[_filedata("/srv/a", "../../etc/passwd"), {"x": _filedata("/srv/b", "..\\..\\x")},
               _filedata("/srv/sub/c", None)]]
    with standin("result", output=output) as url:
        s = gs.new_session(url, name="hostile", download_path=str(folder))
        (files,) = s.call("echo", "x")
    assert [Path(f["path"]) for f in [files[0], files[1]["x"], files[2]]] == [
        folder / "passwd", folder / "x", folder / "c"]
    assert sorted(p.name for p in folder.iterdir()) == ["c", "passwd", "x"]
    assert (folder / "passwd").read_bytes() == FILE_BODY
    assert not (tmp_path / "etc").exists()


def test_interrupted_download_leaves_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "dl"
    with standin("torn_file", output=[_filedata("/srv/a", "a.txt")]) as url:
        s = gs.new_session(url, name="torn", download_path=str(folder))
        with pytest.raises(gs.FileTransferError, match="partial file was removed"):
            s.call("echo", "x")
        r = cli("call", "echo", "x", "--session", "torn")
        assert r.returncode == 1 and "Traceback" not in r.stderr and "partial file" in r.stderr
    assert list(folder.iterdir()) == []


def test_token_is_not_sent_to_another_host(tmp_path: Path) -> None:
    app_seen: list[str | None] = []
    other_seen: list[str | None] = []
    with standin("result", other_seen, host="127.0.0.2") as other:
        remote = f"{other}/gradio_api/file=remote.txt"
        output = [_filedata("/srv/local.txt", "local.txt"), {**_filedata(remote, "remote.txt"), "url": remote}]
        with standin("result", app_seen, output=output) as url:
            s = gs.new_session(url, name="tok", token="s3cret", download_path=str(tmp_path / "dl"))
            local, far = s.call("echo", "x")
    assert Path(local["path"]).read_bytes() == FILE_BODY == Path(far["path"]).read_bytes()
    assert other_seen == [None]  # the remote file was fetched, without the token
    assert app_seen and all(h == "Bearer s3cret" for h in app_seen)


def test_result_file_url_on_another_host_is_used_then_the_app_route(tmp_path: Path) -> None:
    """A FileData `url` on a CDN-like host is fetched from there (without the token); one that
    fails (a proxy's public address that is down) falls back to the app's own `/file=` route."""
    cdn_seen: list[str | None] = []
    app_paths: list[str] = []
    dead = f"http://127.0.0.1:{free_port()}/gradio_api/file=/srv/gone.txt"
    with standin("result", cdn_seen, host="127.0.0.2") as cdn:
        output = [{**_filedata("/srv/cdn.txt", "cdn.txt"), "url": f"{cdn}/gradio_api/file=/srv/cdn.txt"},
                  {**_filedata("/srv/gone.txt", "gone.txt"), "url": dead}]
        with standin("result", output=output, paths=app_paths) as url:
            s = gs.new_session(url, name="urls", token="s3cret", download_path=str(tmp_path / "dl"))
            from_cdn, fallback = s.call("echo", "x")
    assert Path(from_cdn["path"]).read_bytes() == FILE_BODY == Path(fallback["path"]).read_bytes()
    assert cdn_seen == [None]  # fetched from the CDN, without the token
    assert app_paths.count("/gradio_api/file=/srv/cdn.txt") == 0  # not from the app as well
    assert app_paths.count("/gradio_api/file=/srv/gone.txt") == 1  # the fallback
    assert from_cdn["url"].startswith(cdn) and fallback["url"] == dead  # the server's url is kept


def test_old_repository_gains_the_uploads_table(home: Path) -> None:
    import sqlite3

    from gradio_session.store.repository import SCHEMA_VERSION, Repository

    Repository(home).close()
    db = sqlite3.connect(home / "sessions.db")
    db.execute("DROP TABLE uploads")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    repo = Repository(home)
    assert repo.list_uploads("any") == [] and repo.count_uploads("any") == 0
    assert sqlite3.connect(home / "sessions.db").execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    repo.close()
