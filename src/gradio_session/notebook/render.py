"""What sessions, calls and results look like in a notebook: HTML built from the public API.

Every text an app gave is escaped (an app's text never becomes markup), a URL is a link only
when it is http(s), and a file's bytes are embedded only when the file is a download of this
repository (`gradio_session.local_file`): a path an app gave is never read here.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import os
import re
import time
from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Any

import gradio_session as gs
from gradio_session import aio
from gradio_session.models import CallRecord, Output

EMBED_LIMIT = 8 * 2**20  # bytes: a larger image, sound or video is a link, not inlined in the notebook
ROWS = 50  # rows of a table shown; the rest counted
INLINE = {"image": "<img src='{src}' alt='{alt}' style='max-width:100%;max-height:480px'>",
          "audio": "<audio controls src='{src}' title='{alt}'></audio>",
          "video": "<video controls src='{src}' title='{alt}' style='max-width:100%;max-height:480px'></video>"}
RASTER = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/avif"}  # never SVG
BOX = "font-family:var(--jp-ui-font-family,sans-serif);font-size:13px;line-height:1.4"
CELL = "text-align:left;vertical-align:top;padding:2px 8px"


def _t(value: Any) -> str:
    return escape(str(value), quote=True)


def _link(url: Any, text: Any = None) -> str:
    """A link when `url` is http(s); else the text alone."""
    label = _t(url if text is None else text)
    if isinstance(url, str) and url.lower().startswith(("http://", "https://")):
        return f"<a href='{_t(url)}' target='_blank' rel='noopener noreferrer'>{label}</a>"
    return label


def _table(header: Iterable[Any], rows: list[list[str]], total: int | None = None) -> str:
    """An HTML table of cells already made HTML; `total` rows when more exist than shown."""
    head = "".join(f"<th style='{CELL}'>{_t(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td style='{CELL}'>{c}</td>" for c in row) + "</tr>" for row in rows)
    more = "" if total is None or total <= len(rows) else f"<div>… {total - len(rows)} more rows</div>"
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} s"


def _size(n: float) -> str:
    if n < 1024:
        return f"{n:.0f} B"
    for unit in ("KB", "MB"):
        n /= 1024
        if n < 1024:
            return f"{n:.1f} {unit}"
    return f"{n / 1024:.1f} GB"


# -- sessions ------------------------------------------------------------------------------


def _parameters(endpoint: Any) -> str:
    parts = []
    for p in endpoint.parameters:
        default = f" = {_t(repr(p.default))}" if p.has_default else ""
        parts.append(f"<code>{_t(p.name)}: {_t(p.python_type)}{default}</code>")
    return "<br>".join(parts) or "–"


def _returns(endpoint: Any) -> str:
    return "<br>".join(f"{_t(r.label or r.component or 'value')}: <code>{_t(r.python_type)}</code>"
                       for r in endpoint.returns) or "–"


def _space_stage(session: Any) -> str:
    """The Space's stage as the Hub says now; `unknown` when it can't be asked from here."""
    try:
        now = (session if isinstance(session, gs.Session) else gs.get_session(session.id)).space_runtime()
    except Exception:  # noqa: BLE001 - a display never fails for the Hub's sake
        return "stage unknown"
    return f"stage {_t((now or {}).get('stage') or 'unknown')}"


def session_html(session: Any) -> str:
    """A session (sync or aio): name, app, Gradio version, Space and login, endpoints."""
    record, app = session.record, session.app
    facts = [f"<a href='{_t(record.app_url)}' target='_blank'>{_t(record.app_url)}</a>" if record.app_url else "",
             f"Gradio {_t(app.version or '?')}"]
    if record.space:
        facts.append(f"Space <code>{_t(record.space)}</code> ({_space_stage(session)})")
    if record.network.login:
        facts.append(f"logged in as <b>{_t(record.network.login)}</b>")
    if record.is_default:
        facts.append("the default session")
    rows = [[f"<code>{_t(name)}</code>" + (f"<br><small>{_t(ep.description)}</small>" if ep.description else ""),
             _parameters(ep), _returns(ep)] for name, ep in app.endpoints.items()]
    return (f"<div style='{BOX}'><b>Session {_t(record.name)}</b> · {' · '.join(f for f in facts if f)}"
            f"<details open><summary>{len(rows)} endpoints</summary>"
            f"{_table(('endpoint', 'parameters', 'returns'), rows)}</details></div>")


def sessions_html(sessions: list[Any]) -> str:
    """`list_sessions()` as a table."""
    rows = [[f"<b>{_t(s.name)}</b>" + (" (default)" if s.record.is_default else ""), _link(s.record.app_url),
             _t(s.app.version or "?"), str(len(s.app.endpoints)), _t(s.record.space or ""),
             _t(s.record.network.login or "")] for s in sessions]
    return f"<div style='{BOX}'>" + _table(("session", "app", "Gradio", "endpoints", "Space", "login"), rows) + "</div>"


# -- calls ---------------------------------------------------------------------------------


def _timing(call: aio.Call) -> tuple[float | None, float | None]:
    """(queue wait, duration) from the call's events: until `started`, until its last event."""
    events = call.history()
    started = next((e.ts for e in events if e.name == "started"), None)
    wait = None if started is None else max(started - call.started_at, 0.0)
    return wait, (events[-1].ts - call.started_at if call.done and events else None)


def call_html(call: Any) -> str:
    """A call (sync or aio): endpoint, status, queue wait, duration, and its result or error."""
    inner: aio.Call = call.aio if isinstance(call, gs.Call) else call
    wait, took = _timing(inner)
    head = (f"<b>Call <code>{_t(inner.endpoint)}</code></b> · {_t(inner.status)} · queued {_seconds(wait)}"
            f" · took {_seconds(took)} · <small>{_t(inner.event_id)}</small>")
    body = ""
    result = inner.result_now()
    if result is not None:
        try:
            returns: tuple[Output, ...] = inner.session.endpoint(inner.endpoint).returns
        except gs.GradioSessionError:
            returns = ()
        body = outputs_html(result, returns)
    elif inner.done:
        last = next(reversed(inner.history()), None)
        message = last.data.get("error") if last is not None and isinstance(last.data, dict) else None
        body = f"<pre style='color:#b00;white-space:pre-wrap'>{_t(message or inner.status)}</pre>"
    return f"<div style='{BOX}'>{head}{body}</div>"


def calls_html(records: list[CallRecord]) -> str:
    """`calls()` as a table, oldest first."""
    rows = [[f"<small>{_t(r.event_id)}</small>", f"<code>{_t(r.endpoint)}</code>", _t(r.status),
             _t(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.started_at))), _seconds(r.queue_wait),
             _seconds(r.duration), _t(r.error or "")] for r in records]
    return f"<div style='{BOX}'>" + _table(("event id", "endpoint", "status", "started", "queued", "took", "error"),
                                           rows) + "</div>"


# -- results -------------------------------------------------------------------------------


def outputs_html(values: Any, returns: tuple[Output, ...] = ()) -> str:
    """A call's output list, each value shown for its component."""
    if not isinstance(values, list):
        return value_html(values)
    parts = []
    for i, value in enumerate(values):
        out = returns[i] if i < len(returns) else None
        label = f"<div><small>{_t(out.label)}</small></div>" if out is not None and out.label else ""
        parts.append(f"<div style='margin-top:6px'>{label}{value_html(value, out.component if out else None)}</div>")
    return "".join(parts)


def is_file(value: Any) -> bool:
    """A FileData dict as results carry them."""
    if not isinstance(value, dict) or not isinstance(value.get("path"), str):
        return False
    meta = value.get("meta")
    return isinstance(meta, dict) and meta.get("_type") == "gradio.FileData" or "url" in value or "orig_name" in value


def value_html(value: Any, component: str | None = None) -> str:
    """One value: a file as itself, a Dataframe as a table, a Chatbot as a conversation, text as
    text, anything else as folded JSON."""
    kind = (component or "").lower()
    if is_file(value):
        return file_html(value)
    if kind == "dataframe" or isinstance(value, dict) and {"headers", "data"} <= value.keys():
        table = _dataframe(value)
        if table is not None:
            return table
    if kind == "chatbot" or _messages(value):
        chat = _chat(value)
        if chat is not None:
            return chat
    if isinstance(value, list) and value and all(is_file(v) or isinstance(v, dict) and is_file(v.get("image"))
                                                 for v in value):  # a Gallery, a list of files
        return "".join(file_html(v if is_file(v) else v["image"], v.get("caption")) for v in value)
    if isinstance(value, str):
        return data_uri_html(value) or f"<pre style='white-space:pre-wrap;margin:0'>{_t(value)}</pre>"
    if isinstance(value, (dict, list)):
        text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
        return (f"<details><summary>JSON · {len(value)} {'keys' if isinstance(value, dict) else 'items'}</summary>"
                f"<pre>{_t(text)}</pre></details>")
    return f"<code>{_t(repr(value))}</code>"


def file_html(value: dict[str, Any], caption: Any = None) -> str:
    """A file of a result: inline when it is an image, a sound or a video downloaded here (and
    not too big), else a link to the local copy, else a link to the app's URL."""
    try:
        local = gs.local_file(value)
    except gs.GradioSessionError:  # the repository can't be read from here: shown as the app's
        local = None
    name = value.get("orig_name") or (Path(value["path"]).name if local else value.get("url") or value["path"])
    note = f" <small>{_t(caption)}</small>" if caption else ""
    if local is None:
        return f"<div>📄 {_link(value.get('url'), name)} <small>(on the app)</small>{note}</div>"
    size = local.stat().st_size
    mime = mimetypes.guess_type(local.name)[0] or ""
    kind = mime.split("/")[0]
    link = f"{_href(local, name)} <small>{_size(size)}</small>"
    if kind in INLINE and size <= EMBED_LIMIT and (kind != "image" or mime in RASTER):
        data = base64.b64encode(local.read_bytes()).decode()
        inline = INLINE[kind].format(src=f"data:{mime};base64,{data}", alt=_t(name))
        return f"<div>{inline}<div>{link}{note}</div></div>"
    return f"<div>📄 {link}{note}</div>"


DATA_URI = re.compile(r"data:((image|audio|video)/[\w.+-]+);base64,[A-Za-z0-9+/=\s]+")


def data_uri_html(value: str) -> str | None:
    """An image, sound or video sent inline as a `data:` URI (Gradio 3.x's Image and Audio
    outputs) as itself; None for any other text."""
    found = DATA_URI.fullmatch(value) if value.startswith("data:") else None
    if found is None or found[2] == "image" and found[1] not in RASTER:
        return None
    return f"<div>{INLINE[found[2]].format(src=_t(value), alt=found[1])}</div>"


def _href(local: Path, name: Any) -> str:
    """The local copy: a link the notebook's server can open when it is under the notebook's
    folder, else its path to copy (a browser opens no file:// link from a notebook's page)."""
    if local.is_relative_to(Path.cwd()):
        return f"<a href='{_t(Path(os.path.relpath(local)).as_posix())}' target='_blank'>{_t(name)}</a>"
    return f"{_t(name)} <small><code>{_t(local)}</code></small>"


def _dataframe(value: Any) -> str | None:
    if not isinstance(value, dict) or not isinstance(value.get("data"), list):
        return None
    data = [row for row in value["data"] if isinstance(row, list)]
    headers: list[Any] = value["headers"] if isinstance(value.get("headers"), list) else []
    rows = [[_t(cell) for cell in row] for row in data[:ROWS]]
    return f"<div style='{BOX}'>" + _table(headers, rows, len(data)) + "</div>"


def _messages(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(m, dict) and "role" in m and "content" in m for m in value)


def _chat(value: Any) -> str | None:
    """A Chatbot's value (messages, or [user, bot] pairs of older Gradio) as a conversation."""
    if _messages(value):
        turns = [(str(m["role"]), m["content"]) for m in value]
    elif isinstance(value, list) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in value):
        turns = [(role, text) for pair in value for role, text in zip(("user", "assistant"), pair) if text is not None]
    else:
        return None
    lines = []
    for role, content in turns:
        mine = role == "user"
        if isinstance(content, list):  # 6.x: a list of content parts
            content = " ".join(str(c.get("text", "")) if isinstance(c, dict) else str(c) for c in content)
        shown = file_html(content) if is_file(content) else _t(content)
        lines.append(f"<div style='text-align:{'right' if mine else 'left'};margin:3px 0'>"
                     f"<span style='display:inline-block;padding:4px 8px;border-radius:8px;white-space:pre-wrap;"
                     f"background:{'#dbeafe' if mine else '#f1f5f9'};color:#111'>"
                     f"<small>{_t(role)}</small><br>{shown}</span></div>")
    return f"<div style='{BOX};max-width:640px'>{''.join(lines)}</div>"
