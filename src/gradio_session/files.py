"""Files: what may be uploaded, safe local names for downloads, streamed upload and download.

A server's file name is untrusted: `safe_name` keeps only a plain base name, `reserve` never
overwrites a file, and every download lands in a temp file in the folder first.
"""

from __future__ import annotations

import copy
import hashlib
import io
import mimetypes
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .errors import ConnectError, FileTransferError, ParameterError, StreamError
from .models import FileData
from .protocol.dialects import Dialect, is_url
from .transport import Transport

Progress = Callable[[int, int | None], None]  # (bytes done, bytes in all or None)
META = {"_type": "gradio.FileData"}
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}


def is_filedata(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("meta"), dict) and \
        value["meta"].get("_type") == "gradio.FileData" and isinstance(value.get("path"), str)


def as_upload(value: Any) -> Path | dict[str, Any]:
    """A local file to upload (a checked, absolute Path) or the FileData dict to send as is."""
    if isinstance(value, FileData):
        return value.to_dict()
    if isinstance(value, dict):
        if not isinstance(value.get("path"), str):
            raise ParameterError(f"A FileData needs a 'path': got {value!r}.")
        if downloaded_here(value):
            return Path(value["path"]).resolve()  # sent back as the file it is now
        return {**value, "meta": META}
    if is_url(value):
        name = unquote(urlsplit(value).path.rstrip("/").rsplit("/", 1)[-1]) or None
        return {"path": value, "url": value, "orig_name": name, "meta": META}
    if isinstance(value, (str, os.PathLike)):
        path = Path(value).expanduser()
        if not path.is_file():
            raise FileTransferError(f"No such file: {path}" + (" (it is a folder)" if path.is_dir() else "") + ".")
        if not os.access(path, os.R_OK):
            raise FileTransferError(f"Can't read {path}: permission denied.")
        return path.resolve()
    raise ParameterError(f"{value!r} is not a file: give a local path, a URL or a FileData.")


def downloaded_here(fd: dict[str, Any]) -> bool:
    """A result's FileData whose file was downloaded to this machine: its `path` is a local file
    and no longer the one its `url` serves (the server's own FileData names its path in its url)."""
    path = fd["path"]
    return not is_url(path) and path not in unquote(str(fd.get("url") or "")) and Path(path).is_file()


def find_files(value: Any) -> list[dict[str, Any]]:
    """Every FileData dict in a value, also nested in lists and dicts."""
    if is_filedata(value):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return [fd for item in items for fd in find_files(item)]


def safe_name(name: str | None) -> str:
    """A plain file name from an untrusted one: base name only, no control or reserved names."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[\x00-\x1f\x7f<>:\"|?*]", "", base).strip().rstrip(". ")
    if base in ("", ".", "..") or base.split(".")[0].strip().upper() in _RESERVED:
        base = f"file_{base}" if base not in ("", ".", "..") else "file"
    if len(base) > 200:
        stem, dot, ext = base.rpartition(".")
        base = stem[: 200 - len(ext) - 1] + dot + ext if dot and len(ext) < 20 else base[:200]
    return base


def reserve(folder: Path, name: str) -> Path:
    """Create an empty `folder/name`, or `name (1)`, `(2)`...: never an existing file."""
    stem, ext = os.path.splitext(name)
    for n in range(10_000):
        path = folder / (name if n == 0 else f"{stem} ({n}){ext}")
        if path.resolve().parent != folder.resolve():
            raise FileTransferError(f"Refusing the file name {name!r}: it leaves {folder}.")
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            return path
        except FileExistsError:
            continue
    raise FileTransferError(f"Too many files named like {name!r} in {folder}.")


class _Reader(io.BufferedReader):
    """A file read by httpx in chunks (never whole): hashes and reports what it reads."""

    def __init__(self, path: Path, on_read: Callable[[int], None]) -> None:
        super().__init__(io.FileIO(path, "rb"))
        self.sha256 = hashlib.sha256()
        self._on_read = on_read

    def seek(self, pos: int, whence: int = 0) -> int:
        if (pos, whence) == (0, 0):
            self.sha256 = hashlib.sha256()  # a new pass over the file
        return super().seek(pos, whence)

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.sha256.update(chunk)
        self._on_read(len(chunk))
        return chunk


async def upload(transport: Transport, dialect: Dialect, paths: list[Path],
                 progress: Progress | None = None) -> list[tuple[FileData, str]]:
    """Stream local files to the app's upload route in one request; (FileData, sha256) per file."""
    done = 0
    total = 0

    def on_read(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(min(done, total), total)

    readers: list[_Reader] = []
    try:
        for p in paths:
            try:
                readers.append(_Reader(p, on_read))
                total += os.fstat(readers[-1].fileno()).st_size
            except OSError as exc:
                raise FileTransferError(f"Can't read {p}: {exc.strerror or exc}.") from exc
        fields = [("files", (p.name, r, mimetypes.guess_type(p.name)[0] or "application/octet-stream"))
                  for p, r in zip(paths, readers)]
        try:
            r = await transport.request("POST", dialect.upload_url(), files=fields,
                                        timeout=transport.timeout(read=300.0))
        except ConnectError as exc:
            raise FileTransferError(f"The upload of {', '.join(p.name for p in paths)} failed: {exc}") from exc
        body = r.json()
        if r.status >= 400 or not isinstance(body, list) or len(body) != len(paths):
            detail = body.get("detail") if isinstance(body, dict) else (r.text[:200] or "no detail")
            hint = " (the app's max_file_size)" if r.status == 413 else ""
            raise FileTransferError(f"The app refused the upload (HTTP {r.status}{hint}): {detail}")
        return [
            (FileData(path=str(server), url=dialect.file_url({"path": str(server)}), orig_name=p.name,
                      size=os.fstat(rd.fileno()).st_size, mime_type=mimetypes.guess_type(p.name)[0]),
             rd.sha256.hexdigest())
            for p, rd, server in zip(paths, readers, body)
        ]
    finally:
        for rd in readers:
            rd.close()


async def download(transport: Transport, url: str, folder: Path, name: str | None,
                   progress: Progress | None = None) -> Path:
    """Stream a file into `folder` under a safe, new name; nothing is left behind on failure."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".gs-", suffix=".part")
    except OSError as exc:
        raise FileTransferError(f"Can't write into {folder}: {exc.strerror or exc}.") from exc
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                await transport.download(url, out, progress)
            except (StreamError, ConnectError) as exc:
                raise FileTransferError(
                    f"The download of {url} broke: {exc} The partial file was removed.") from exc
        final = reserve(folder, safe_name(name))
        try:
            os.replace(tmp, final)
        except BaseException:
            final.unlink(missing_ok=True)
            raise
        return final
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


async def download_all(transport: Transport, dialect: Dialect, data: Any, folder: Path) -> Any:
    """A copy of `data` whose FileData are downloaded into `folder` (path: the local file), each
    from the first of its URLs that works (see `Dialect.file_urls`)."""
    data = copy.deepcopy(data)
    for fd in find_files(data):
        urls = dialect.file_urls(fd)
        for i, url in enumerate(urls):
            try:
                local = await download(transport, url, folder, fd.get("orig_name") or fd["path"].split("?")[0])
                break
            except FileTransferError:
                if i == len(urls) - 1:
                    raise
        fd.update(path=str(local), url=fd.get("url") or url)
    return data
