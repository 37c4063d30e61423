"""Decoding a call's event stream: queue messages and `/call` events, streamed diffs. No I/O."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

from ..errors import CallError, QueueFull, StreamError
from ..models import Endpoint

TERMINAL_EVENTS = frozenset({"complete", "error", "cancelled", "timed_out"})
PROGRESS_KEYS = ("index", "length", "unit", "progress", "desc")
# levels of JSON nesting taken from an app (Gradio's values nest a few): deeper would exhaust the
# recursion of json, copy and the walks over results; a streamed diff can double it at most
MAX_DEPTH = 100
TOO_DEEP = f"The app sent JSON nested too deep (over {MAX_DEPTH} levels): refused."
UNREADABLE = "unreadable"  # our own message kind: a call's message nested too deep to decode
# the start of a queue message as Gradio writes it, before the app's output: which call it is
_HEAD = re.compile(r'\s*\{\s*"msg"\s*:\s*"[a-z_]*"\s*,\s*"event_id"\s*:\s*"([^"\\]{1,200})"')


def visible_outputs(endpoint: Endpoint, data: Any) -> Any:
    """Drop the state slots from an output list, so results match the endpoint's `returns`."""
    if isinstance(data, list) and len(data) == len(endpoint.output_state) and any(endpoint.output_state):
        return [v for v, is_state in zip(data, endpoint.output_state) if not is_state]
    return data


def error_message(data: Any) -> str | None:
    """The app's message from an error event's data (a dict with `error`, or a plain string)."""
    if isinstance(data, dict):
        msg = data.get("error") or data.get("message")
        return str(msg) if msg is not None else None
    return None if data is None else str(data)


def apply_diff(value: Any, ops: Any) -> Any:
    """Apply Gradio's streaming diff operations `[op, path, value]` to a previous output value."""
    try:
        value = copy.deepcopy(value)
        for op, path, arg in ops:
            if op not in ("replace", "append", "add", "delete"):
                raise StreamError(f"Unknown diff operation {op!r} from the server.")
            if not path:
                if op == "append":
                    value = value + arg
                else:
                    value = None if op == "delete" else arg
                continue
            if len(path) > MAX_DEPTH:
                raise StreamError(f"Malformed streaming diff from the server: a path {len(path)} levels deep.")
            parent = value
            for key in path[:-1]:
                parent = parent[key]
            last = path[-1]
            if op == "replace":
                parent[last] = arg
            elif op == "append":
                parent[last] = parent[last] + arg
            elif op == "add" and isinstance(parent, list):
                parent.insert(last, arg)
            elif op == "add":
                parent[last] = arg
            else:
                del parent[last]
        return value
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise StreamError(f"Malformed streaming diff from the server: {exc}") from exc


class EventDecoder:
    """Turns one call's raw messages into (event name, data) pairs, rebuilding streamed diffs."""

    def __init__(self, endpoint: Endpoint, *, quoted_errors: bool = False, whole_values: bool = False,
                 incoming: Callable[[Any], Any] | None = None) -> None:
        self.endpoint = endpoint
        self.quoted_errors = quoted_errors  # the app sends an error's message as its Python repr
        self.whole_values = whole_values  # each `process_generating` has whole values, not diffs
        self.incoming = incoming  # the dialect's own shapes (files) -> ours
        self._last: list[Any] | None = None

    def queue_message(self, msg: dict[str, Any]) -> tuple[str, Any] | None:
        """Decode one `/queue/data` message; None for messages that are not events of a call."""
        kind = msg.get("msg")
        if kind == UNREADABLE:
            raise StreamError(TOO_DEEP)
        if kind == "estimation":
            return "queued", {"rank": msg.get("rank"), "queue_size": msg.get("queue_size"),
                              "eta": msg.get("rank_eta")}
        if kind == "process_starts":
            return "started", {"eta": msg.get("eta")}
        if kind == "progress":
            units = msg.get("progress_data") or []
            return "progress", [{k: u.get(k) for k in PROGRESS_KEYS} for u in units if isinstance(u, dict)]
        if kind == "log":
            return "log", {"level": msg.get("level"), "message": msg.get("log"), "title": msg.get("title")}
        if kind == "heartbeat":
            return "heartbeat", None
        if kind == "unexpected_error":
            return "error", {"error": msg.get("message")}
        if kind in ("process_generating", "process_completed"):
            output = msg.get("output")
            if not isinstance(output, dict):
                raise StreamError(f"Malformed {kind} message from the server: no output.")
            if not msg.get("success", True) or "error" in output and "data" not in output:
                return "error", self._unquoted(output)
            data = output.get("data")
            if kind == "process_completed" and data is None:  # what the server sends after /cancel
                return "cancelled", None
            if kind == "process_generating" and not self.whole_values:
                data = self._rebuild(data)
            if self.incoming is not None:
                data = self.incoming(data)
            return ("generating" if kind == "process_generating" else "complete"), visible_outputs(self.endpoint, data)
        return None

    def _unquoted(self, output: dict[str, Any]) -> dict[str, Any]:
        """`"cannot process 'x'"` (with its quotes) -> `cannot process 'x'`, for apps that send
        an error's message as its repr."""
        message = output.get("error")
        if not self.quoted_errors or not isinstance(message, str) or len(message) < 2 \
                or message[0] != message[-1] or message[0] not in "'\"":
            return output
        import ast

        try:
            text = ast.literal_eval(message)
        except (ValueError, SyntaxError):
            return output
        return {**output, "error": text} if isinstance(text, str) else output

    def _rebuild(self, data: Any) -> Any:
        if self._last is None:
            self._last = data
            return data
        if not isinstance(data, list) or len(data) != len(self._last):
            raise StreamError("Malformed streaming diff from the server.")
        self._last = [apply_diff(prev, ops) for prev, ops in zip(self._last, data)]
        return self._last

    @staticmethod
    def call_event(name: str, raw: str) -> tuple[str, Any]:
        """Decode one event of the `/call/{api}/{event_id}` stream."""
        if name not in ("generating", "complete", "error", "heartbeat"):
            raise StreamError(f"Unknown event {name!r} from the server.")
        data = decode_json(raw) if raw.strip() else None
        return ("cancelled", None) if name == "complete" and data is None else (name, data)


def quota_retry(message: str | None) -> tuple[bool, float | None]:
    """(is a ZeroGPU quota refusal, seconds until a retry or None), from an app error's text:
    "You have exceeded your GPU quota (46s left vs. 60s requested) ... retry in 0:09:48"."""
    if not message or not re.search(r"GPU quota|ZeroGPU quota", message, re.IGNORECASE):
        return False, None
    wait = re.search(r"(?:retry|try again) in (?:(\d+):)?(\d+):(\d+)", message, re.IGNORECASE)
    if wait is None:
        return True, None
    hours, minutes, seconds = (int(g or 0) for g in wait.groups())
    return True, float(hours * 3600 + minutes * 60 + seconds)


def join_answer(status: int, body: Any, text: str, endpoint: str) -> str:
    """The event id from a join (or `/call`) answer, or the right error for a refusal."""
    if status in (429, 503) or (isinstance(body, dict) and "queue is full" in str(body).lower()):
        said = str(body.get("detail") or body.get("error") or "")[:200] if isinstance(body, dict) else ""
        raise QueueFull(f"The app's queue is full (HTTP {status}{': ' + said if said else ''}); "
                        f"try {endpoint} again later.")
    if status >= 400 or not isinstance(body, dict) or not isinstance(body.get("event_id"), str):
        detail = body.get("detail") if isinstance(body, dict) else text[:200]
        raise CallError(f"The app refused the call of {endpoint} (HTTP {status}): {detail}")
    return str(body["event_id"])


def lost(event_id: str) -> str:
    """What a call whose stream broke, and that the server no longer has, ends with."""
    return f"The server no longer has the call {event_id}: it is lost."


def queue_payload(raw: str) -> dict[str, Any]:
    """One `/queue/data` message: a JSON object, or StreamError. A message nested too deep is
    an UNREADABLE message of the call its head names, so that call fails and the stream goes on."""
    try:
        msg = loads(raw)
    except ValueError as exc:
        raise StreamError(f"Malformed event data from the server: {raw[:80]!r}") from exc
    except StreamError:
        head = _HEAD.match(raw)
        if head is None:
            raise
        return {"msg": UNREADABLE, "event_id": head[1]}
    if not isinstance(msg, dict):
        raise StreamError(f"Malformed message from the server: {raw[:80]!r}")
    return msg


def decode_json(raw: str) -> Any:
    """Parse event data, turning garbage and JSON nested too deep into a StreamError."""
    try:
        return loads(raw)
    except ValueError as exc:
        raise StreamError(f"Malformed event data from the server: {raw[:80]!r}") from exc


def loads(raw: str) -> Any:
    """`json.loads` of what an app sent: ValueError for garbage, StreamError (TOO_DEEP) for JSON
    nested deeper than MAX_DEPTH, before anything walks it."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise StreamError(TOO_DEEP) from None
    if raw.count("[") + raw.count("{") > MAX_DEPTH and too_deep(value):  # few brackets can't nest deep
        raise StreamError(TOO_DEEP)
    return value


def too_deep(value: Any) -> bool:
    """Whether `value` nests lists and dicts deeper than MAX_DEPTH (walked a level at a time,
    without recursion)."""
    level = [value] if isinstance(value, (list, dict)) else []
    for _ in range(MAX_DEPTH):
        below: list[Any] = []
        for item in level:
            below += [c for c in (item.values() if isinstance(item, dict) else item) if isinstance(c, (list, dict))]
        if not below:
            return False
        level = below
    return True
