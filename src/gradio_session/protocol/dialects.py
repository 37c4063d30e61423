"""What differs between Gradio protocol families, one class per family. No I/O.

A dialect turns "join this call", "read this session's events", "cancel", "upload" and "fetch
this file" into URLs and bodies. The session picks its dialect from what `/config` said when
it was created (`dialect_for`); everything above this module speaks in dialect terms, so
supporting another Gradio family means adding a class here, not `if`s elsewhere.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from ..models import AppInfo, Endpoint, is_url
from .messages import EventDecoder

Request = tuple[str, dict[str, Any]]  # (URL, JSON body or query parameters)


class Dialect:
    """The HTTP API every Gradio from 4.x serves: `/call/{api}` + its event stream, `/upload`,
    `/file=`. Without the queue protocol calls go one at a time and can't be cancelled."""

    name = "call"
    queue = False  # True: `/queue/join` + one `/queue/data` stream per session
    own_connection = False  # True: each call has its own connection (`core/sockets.py` runs it)
    carrier = ""  # of such calls: "socket" (WebSocket), "stream" (event stream), "request" (one POST)
    confirms_cancel = True  # the server ends a cancelled call's stream (else the session ends it)
    cancels_endpoint = False  # a cancel stops every running call of the endpoint in the session

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.api_url}>"

    def queued(self, endpoint: Endpoint) -> bool:
        """True when calls of `endpoint` go through the queue (it has a `fn_index`)."""
        return self.queue and endpoint.fn_index is not None

    def detachable(self, endpoint: Endpoint) -> bool:
        """True when another process (the holder) can read or make calls of `endpoint`."""
        return self.queued(endpoint) or self.own_connection

    def call(self, endpoint: Endpoint, values: list[Any], session_hash: str) -> Request:
        return f"{self.api_url}/call/{endpoint.name.lstrip('/')}", {"data": values, "session_hash": session_hash}

    def call_stream(self, endpoint: Endpoint, event_id: str) -> str:
        return f"{self.api_url}/call/{endpoint.name.lstrip('/')}/{event_id}"

    def join(self, endpoint: Endpoint, values: list[Any], session_hash: str) -> Request:
        raise TypeError(f"{self!r} has no queue: check queued() first")

    def stream(self, session_hash: str) -> Request:
        raise TypeError(f"{self!r} has no queue: check queued() first")

    def cancel(self, endpoint: Endpoint, event_id: str, session_hash: str) -> Request | None:
        """The request that stops a running call; None when this family has none."""
        return None

    def cancel_taken(self, answer: Any) -> bool:
        """Whether the server acted on the cancel request (else it is sent again, a while)."""
        return True

    def upload_url(self) -> str:
        return f"{self.api_url}/upload"

    def file_url(self, fd: dict[str, Any]) -> str:
        """Where the app serves a FileData: its path when that is a URL, else `{api}/file={path}`
        (built from the session's API root)."""
        return fd["path"] if is_url(fd["path"]) else f"{self.api_url}/file={quote(fd['path'], safe='/')}"

    def file_urls(self, fd: dict[str, Any]) -> list[str]:
        """Where to try fetching a result file, in order: the `url` the server gave (a CDN, a
        proxy's public address), then `file_url` (a server's own `url` may be wrong behind a proxy)."""
        given = str(fd.get("url") or "")
        own = self.file_url(fd)
        return [given, own] if is_url(given) and given != own else [own]

    def decoder(self, endpoint: Endpoint) -> EventDecoder:
        return EventDecoder(endpoint)


class QueueV3(Dialect):
    """Gradio 5.x and 6.x (`sse_v3`; 4.17-4.44 in subclasses): `POST /queue/join` answers an event
    id; `GET /queue/data` carries every message of the session, each tagged with its event id;
    hidden `gr.State` inputs go as `null`; `POST /cancel` stops a call."""

    name = "sse_v3"
    queue = True
    cancels_endpoint = True
    protocols = frozenset({"sse_v2", "sse_v2.1", "sse_v3"})

    def join(self, endpoint: Endpoint, values: list[Any], session_hash: str) -> Request:
        """The `/queue/join` request: the values with `null` in every hidden state slot."""
        return f"{self.api_url}/queue/join", {"data": with_state_slots(endpoint, values),
                                                "fn_index": endpoint.fn_index,
                                                "session_hash": session_hash, "trigger_id": None,
                                                "event_data": None}

    def stream(self, session_hash: str) -> Request:
        return f"{self.api_url}/queue/data", {"session_hash": session_hash}

    def cancel(self, endpoint: Endpoint, event_id: str, session_hash: str) -> Request | None:
        if endpoint.fn_index is None:
            return None
        return f"{self.api_url}/cancel", {"session_hash": session_hash, "fn_index": endpoint.fn_index,
                                           "event_id": event_id}


class QueueV3Gradio4(QueueV3):
    """Gradio 4.31 to 4.44: as QueueV3, but an app error's message arrives as its Python repr
    (`gr.Error.__str__` gave `repr(message)` before 5.0): decoded back to the text."""

    name = "sse_v3-gradio4"

    def decoder(self, endpoint: Endpoint) -> EventDecoder:
        return EventDecoder(endpoint, quoted_errors=True)


class QueueV2(QueueV3Gradio4):
    """Gradio 4.17 to 4.30 (`sse_v2`, `sse_v2.1`, early `sse_v3`): as 4.31+, but there is no
    `/cancel`: `POST /reset {event_id}` drops a queued call and stops a generator."""

    name = "sse_v2"
    confirms_cancel = False
    cancels_endpoint = False

    def cancel(self, endpoint: Endpoint, event_id: str, session_hash: str) -> Request | None:
        return f"{self.api_url}/reset", {"event_id": event_id}

    def cancel_taken(self, answer: Any) -> bool:
        """`{"success": false}`: the call's generator has not yielded yet, or is no generator."""
        return not (isinstance(answer, dict) and answer.get("success") is False)


class QueueV1(QueueV2):
    """Gradio 4.9 to 4.16 (`sse_v1`): as 4.17-4.30, but a generator's messages carry whole
    values, not diffs, a result's FileData has no `meta` tag, and the server ends the
    session's stream when its last call ends."""

    name = "sse_v1"

    def decoder(self, endpoint: Endpoint) -> EventDecoder:
        return EventDecoder(endpoint, quoted_errors=True, whole_values=True, incoming=tagged_files)


class QueueV0(QueueV1):
    """Gradio 4.0 to 4.8 (`sse`): each call its own event stream, `GET /queue/join?fn_index&
    session_hash`; the server asks for the data (`send_data`, with the call's event id), which
    goes to `POST /queue/data`. As 4.9-4.16 otherwise: whole values, untagged FileData, `/reset`."""

    name = "sse"
    own_connection = True
    carrier = "stream"

    def call_stream_of(self, endpoint: Endpoint, session_hash: str) -> Request:
        return f"{self.api_url}/queue/join", {"fn_index": str(endpoint.fn_index), "session_hash": session_hash}

    def join(self, endpoint: Endpoint, values: list[Any], session_hash: str) -> Request:
        """The answer to `send_data` (the server's event id is added to it)."""
        return f"{self.api_url}/queue/data", {"data": with_state_slots(endpoint, values), "fn_index": endpoint.fn_index,
                                               "session_hash": session_hash, "event_data": None}


def tagged_files(value: Any) -> Any:
    """A result with the FileData tag on every untagged FileData (`path`, `url`, `orig_name`...)."""
    if isinstance(value, list):
        return [tagged_files(v) for v in value]
    if isinstance(value, dict):
        value = {k: tagged_files(v) for k, v in value.items()}
        if "meta" not in value and isinstance(value.get("path"), str) and {"url", "orig_name"} <= value.keys():
            value["meta"] = {"_type": "gradio.FileData"}
    return value


class Gradio3(Dialect):
    """Gradio 3.x with its queue: each call its own WebSocket at `/queue/join` (the server asks
    for the hash, then for the data; its messages carry whole values and no event id, so the
    session makes one up). Files go as `{name, data, is_file, orig_name}`. A call is stopped
    by closing its socket, then `POST /reset` (what Gradio's own client does)."""

    name = "ws"
    queue = True
    own_connection = True
    carrier = "socket"

    def socket_url(self) -> str:
        return f"{self.api_url}/queue/join"

    def hello(self, endpoint: Endpoint, session_hash: str) -> dict[str, Any]:
        """The answer to the server's `send_hash`."""
        return {"fn_index": endpoint.fn_index, "session_hash": session_hash}

    def join(self, endpoint: Endpoint, values: list[Any], session_hash: str) -> Request:
        """The answer to `send_data`, sent on the call's socket."""
        return self.socket_url(), {"data": to_gradio3_files(with_state_slots(endpoint, values)),
                                   "fn_index": endpoint.fn_index, "session_hash": session_hash,
                                   "event_data": None}

    def cancel(self, endpoint: Endpoint, event_id: str, session_hash: str) -> Request | None:
        return f"{self.api_url}/reset", {"session_hash": session_hash, "fn_index": endpoint.fn_index}

    def decoder(self, endpoint: Endpoint) -> EventDecoder:
        return EventDecoder(endpoint, quoted_errors=True, whole_values=True,
                            incoming=lambda data: from_gradio3_files(data, self.file_url))


class Gradio3Direct(Gradio3):
    """Gradio 3.x without its queue: each call one `POST /run/{api}` answered with the result
    (no events before it, no cancel: a plain request can't be stopped)."""

    name = "run"
    queue = False
    carrier = "request"

    def call(self, endpoint: Endpoint, values: list[Any], session_hash: str) -> Request:
        url, body = self.join(endpoint, values, session_hash)
        return f"{self.api_url}/run/{endpoint.name.lstrip('/')}", body

    def cancel(self, endpoint: Endpoint, event_id: str, session_hash: str) -> Request | None:
        return None


def with_state_slots(endpoint: Endpoint, values: list[Any]) -> list[Any]:
    """The values with `null` in every hidden `gr.State` input (the server keeps their values)."""
    data: list[Any] = []
    it = iter(values)
    for is_state in endpoint.input_state or (False,) * len(values):
        data.append(None if is_state else next(it, None))
    data.extend(it)
    return data


def to_gradio3_files(value: Any) -> Any:
    """FileData dicts (as everything above the dialect speaks them) -> Gradio 3.x's shape."""
    if isinstance(value, list):
        return [to_gradio3_files(v) for v in value]
    if isinstance(value, dict) and isinstance(value.get("meta"), dict) and "path" in value:
        return {"name": value["path"], "data": None, "is_file": True,
                "orig_name": value.get("orig_name"), "size": value.get("size")}
    return value


def from_gradio3_files(value: Any, file_url: Any) -> Any:
    """Gradio 3.x's file dicts in a result -> FileData dicts, their URL under `/file=`."""
    if isinstance(value, list):
        return [from_gradio3_files(v, file_url) for v in value]
    if isinstance(value, dict) and value.get("is_file") and isinstance(value.get("name"), str):
        path = value["name"]
        return {"path": path, "url": file_url({"path": path}),
                "orig_name": value.get("orig_name") or path.replace("\\", "/").rsplit("/", 1)[-1],
                "size": value.get("size"), "mime_type": None, "meta": {"_type": "gradio.FileData"}}
    if isinstance(value, dict):
        return {k: from_gradio3_files(v, file_url) for k, v in value.items()}
    return value


def unsupported(app: AppInfo) -> str | None:
    """Why this app can't be driven, for a Gradio family without a dialect yet; None if it can."""
    if (app.version or "").startswith(("0.", "1.", "2.")):
        return f"The app runs Gradio {app.version}: gradio-session drives Gradio 3.x to 6.x."
    return None


def dialect_for(app: AppInfo, api_url: str) -> Dialect:
    """The dialect of an app from what its `/config` said (recorded with the session)."""
    release = _release(app.version)
    if release[:1] == (3,):
        return Gradio3(api_url) if app.protocol == Gradio3.name else Gradio3Direct(api_url)
    if app.protocol in (QueueV0.name, QueueV1.name):
        return QueueV0(api_url) if app.protocol == QueueV0.name else QueueV1(api_url)
    if app.protocol not in QueueV3.protocols:
        return Dialect(api_url)
    if release[:1] != (4,):
        return QueueV3(api_url)
    return QueueV2(api_url) if release < (4, 31) else QueueV3Gradio4(api_url)


def _release(version: str | None) -> tuple[int, ...]:
    """`"4.29.0"` -> (4, 29, 0); no version at all counts as the newest."""
    return tuple(int(part) for part in re.findall(r"\d+", version or "")[:3]) or (99,)
