"""What differs between Gradio protocol families, one class per family. No I/O.

A dialect turns "join this call", "read this session's events", "cancel", "upload" and "fetch
this file" into URLs and bodies. The session picks its dialect from what `/config` said when
it was created (`dialect_for`); everything above this module speaks in dialect terms, so
supporting another Gradio family means adding a class here, not `if`s elsewhere.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..models import AppInfo, Endpoint
from .messages import EventDecoder

Request = tuple[str, dict[str, Any]]  # (URL, JSON body or query parameters)


def is_url(value: Any) -> bool:
    return isinstance(value, str) and value[:8].lower().startswith(("http://", "https://"))


class Dialect:
    """The HTTP API every Gradio from 4.x serves: `/call/{api}` + its event stream, `/upload`,
    `/file=`. Without the queue protocol calls go one at a time and can't be cancelled."""

    name = "call"
    queue = False  # True: `/queue/join` + one `/queue/data` stream per session

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.api_url}>"

    def queued(self, endpoint: Endpoint) -> bool:
        """True when calls of `endpoint` go through the queue (it has a `fn_index`)."""
        return self.queue and endpoint.fn_index is not None

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
    """Gradio 4.17 to 6.x (`sse_v2`, `sse_v2.1`, `sse_v3`): `POST /queue/join` answers an event
    id; `GET /queue/data` carries every message of the session, each tagged with its event id;
    hidden `gr.State` inputs go as `null`; `POST /cancel` stops a call."""

    name = "sse_v3"
    queue = True
    protocols = frozenset({"sse_v2", "sse_v2.1", "sse_v3"})

    def join(self, endpoint: Endpoint, values: list[Any], session_hash: str) -> Request:
        """The `/queue/join` request: the values with `null` in every hidden state slot."""
        data: list[Any] = []
        it = iter(values)
        for is_state in endpoint.input_state or (False,) * len(values):
            data.append(None if is_state else next(it, None))
        data.extend(it)
        return f"{self.api_url}/queue/join", {"data": data, "fn_index": endpoint.fn_index,
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
    """Gradio 4.x with `sse_v2`/`sse_v3`: as QueueV3, but an app error's message arrives as its
    Python repr (`gr.Error.__str__` gave `repr(message)` before 5.0): decoded back to the text."""

    name = "sse_v3-gradio4"

    def decoder(self, endpoint: Endpoint) -> EventDecoder:
        return EventDecoder(endpoint, quoted_errors=True)


def unsupported(app: AppInfo) -> str | None:
    """Why this app can't be driven, for a Gradio family without a dialect yet; None if it can."""
    if (app.version or "").startswith(("2.", "3.")):
        return (f"The app runs Gradio {app.version}, whose queue speaks WebSocket: gradio-session "
                "drives Gradio 4.17 to 6.x only, for now.")
    if app.protocol in ("sse", "sse_v1"):
        return (f"The app runs Gradio {app.version} (protocol {app.protocol}): gradio-session drives "
                "Gradio 4.17 to 6.x only, for now.")
    return None


def dialect_for(app: AppInfo, api_url: str) -> Dialect:
    """The dialect of an app from what its `/config` said (recorded with the session)."""
    if app.protocol not in QueueV3.protocols:
        return Dialect(api_url)
    return QueueV3Gradio4(api_url) if (app.version or "").startswith("4.") else QueueV3(api_url)
