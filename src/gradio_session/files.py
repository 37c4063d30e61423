"""Files: what may be uploaded, safe local names for downloads, streamed upload and download.

What an app sends is untrusted. A path in its FileData is the app's: only a file this client
downloaded (recorded, see `as_upload`) or one the user named is read from disk. `safe_name`
keeps only a plain, visible base name, `reserve` never overwrites a file or follows a link, and
every download lands in a temp file in the folder first.
"""

from __future__ import annotations

import copy
import hashlib
import io
import mimetypes
import os
import re
import stat
import tempfile
import unicodedata
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .errors import ConnectError, FileTransferError, ParameterError, StreamError
from .models import FileData, is_url
from .protocol.dialects import Dialect
from .transport import Transport

Progress = Callable[[int, int | None], None]  # (bytes done, bytes in all or None)
META = {"_type": "gradio.FileData"}
NAME_BYTES = 200  # a local name's UTF-8 bytes at most: file systems take 255, " (n)" is added
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}


def is_filedata(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("meta"), dict) and \
        value["meta"].get("_type") == "gradio.FileData" and isinstance(value.get("path"), str)


def as_upload(value: Any, downloads: Collection[tuple[str, str]] = ()) -> Path | dict[str, Any]:
    """A local file to upload (a checked, absolute Path) or the FileData dict to send as is.
    A FileData dict is local only when its `download_key` is among `downloads` (files this
    client downloaded) and still a regular file: any other path from an app is the app's own."""
    if isinstance(value, FileData):
        return value.to_dict()
    if isinstance(value, dict):
        if not isinstance(value.get("path"), str):
            raise ParameterError(f"A FileData needs a 'path': got {value!r}.")
        if download_key(value) in downloads and _regular(value["path"]):
            return Path(value["path"])  # sent back as the file it is now
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


def download_key(value: Any) -> tuple[str, str] | None:
    """(path, url) of a FileData dict that may be a file downloaded here (its path is no URL),
    as `download_all` records it; None for any other value."""
    if isinstance(value, dict) and isinstance(value.get("path"), str) and not is_url(value["path"]):
        return value["path"], str(value.get("url") or "")
    return None


def _regular(path: str) -> bool:
    """A regular file itself, not a link to one."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except (OSError, ValueError):
        return False


def find_files(value: Any) -> list[dict[str, Any]]:
    """Every FileData dict in a value, also nested in lists and dicts, in order (no recursion:
    the value is an app's)."""
    found, pending = [], [value]
    while pending:
        item = pending.pop()
        if is_filedata(item):
            found.append(item)
        elif isinstance(item, (dict, list)):
            pending.extend(reversed(list(item.values()) if isinstance(item, dict) else item))
    return found


def safe_name(name: str | None) -> str:
    """A plain file name from an untrusted one: base name only, no control, invisible (bidi,
    format) or reserved names, no leading dot or dash, at most NAME_BYTES bytes in UTF-8."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(c for c in unicodedata.normalize("NFC", base)
                   if unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Zl", "Zp") and c not in '<>:"|?*')
    base = base.strip().rstrip(". ")
    if base in ("", ".", "..") or base.split(".")[0].strip().upper() in _RESERVED:
        base = f"file_{base}" if base not in ("", ".", "..") else "file"
    if base[0] in ".-":  # hidden, or read as an option by the next command
        base = f"_{base}"
    if len(base.encode()) > NAME_BYTES:
        stem, dot, ext = base.rpartition(".")
        keep = dot and len(ext.encode()) < 20
        base = _cut(stem, NAME_BYTES - len(ext.encode()) - 1) + dot + ext if keep else _cut(base, NAME_BYTES)
    return base


def _cut(text: str, size: int) -> str:
    """`text` cut to `size` bytes of UTF-8, at a character's boundary."""
    return text.encode()[:size].decode(errors="ignore")


def reserve(folder: Path, name: str) -> Path:
    """Create an empty `folder/name` (a `safe_name`), or `name (1)`, `(2)`...: never an existing
    file, and never through a link."""
    stem, ext = os.path.splitext(name)
    for n in range(10_000):
        path = folder / (name if n == 0 else f"{stem} ({n}){ext}")
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o644))
            return path
        except FileExistsError:  # a link there too: O_EXCL never follows one
            continue
        except OSError as exc:
            raise FileTransferError(f"Can't write {path.name!r} into {folder}: {exc.strerror or exc}.") from exc
    raise FileTransferError(f"Too many files named like {name!r} in {folder}.")


class _Reader(io.BufferedReader):
    """A file read by httpx in chunks (never whole): hashes and reports what it reads."""

    def __init__(self, path: Path, on_read: Callable[[int], None]) -> None:
        super().__init__(io.FileIO(path, "rb", opener=lambda p, flags: os.open(p, flags | os.O_NOFOLLOW)))
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
        try:
            with os.fdopen(fd, "wb") as out:
                await transport.download(url, out, progress)
        except (StreamError, ConnectError) as exc:
            raise FileTransferError(f"The download of {url} broke: {exc} The partial file was removed.") from exc
        except OSError as exc:  # the disk is full, a quota, an I/O error
            raise FileTransferError(f"Can't write the download of {url} into {folder}: {exc.strerror or exc}. "
                                    "The partial file was removed.") from exc
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


async def download_all(transport: Transport, dialect: Dialect, data: Any,
                       folder: Path) -> tuple[Any, list[tuple[str, str, int]]]:
    """A copy of `data` whose FileData are downloaded into `folder` (path: the local file), each
    from the first of its URLs that works (see `Dialect.file_urls`); and (local path, url, size)
    of each file, its `download_key` and size, to record."""
    data = copy.deepcopy(data)
    done: list[tuple[str, str, int]] = []
    for fd in find_files(data):
        urls = dialect.file_urls(fd)
        for i, url in enumerate(urls):
            try:
                name = fd.get("orig_name")
                local = await download(transport, url, folder, name if isinstance(name, str) and name
                                       else fd["path"].split("?")[0])
                break
            except FileTransferError:
                if i == len(urls) - 1:
                    raise
        size = local.stat().st_size  # what arrived, whatever the app said
        fd.update(path=str(local), url=fd.get("url") or url, size=size,
                  mime_type=mimetypes.guess_type(local.name)[0] or fd.get("mime_type"))
        done.append((str(local), str(fd["url"]), size))
    return data, done
