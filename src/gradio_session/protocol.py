"""The Gradio wire protocol without I/O: URLs, API discovery, payloads and event decoding."""

from __future__ import annotations

import copy
import json
import re
from typing import Any, Literal
from urllib.parse import urlsplit

from .errors import NotAGradioApp, StreamError
from .models import AppInfo, Endpoint, Output, Parameter

TERMINAL_EVENTS = frozenset({"complete", "error", "cancelled", "timed_out"})
PROGRESS_KEYS = ("index", "length", "unit", "progress", "desc")


def normalize_app_url(app: str) -> str:
    """`127.0.0.1:7860/` -> `http://127.0.0.1:7860`: a scheme is added, the trailing slash dropped."""
    app = app.strip()
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", app):
        app = "http://" + app
    parts = urlsplit(app)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NotAGradioApp(f"{app!r} is not an http(s) URL of a Gradio app.", url=app)
    return app.split("?", 1)[0].split("#", 1)[0].rstrip("/")


def derive_name(app_url: str) -> str:
    """The default session name for an app: its host[:port][/path], e.g. `127.0.0.1:7860`."""
    parts = urlsplit(app_url)
    return (parts.netloc + parts.path).rstrip("/")


def api_root(app_url: str, config: dict[str, Any]) -> str:
    """`{app}/gradio_api` on Gradio >= 5 (the config says `api_prefix`), `{app}` before."""
    prefix = config.get("api_prefix") or ""
    return app_url.rstrip("/") + ("/" + prefix.strip("/") if prefix.strip("/") else "")


def looks_like_config(config: Any) -> bool:
    return isinstance(config, dict) and "dependencies" in config and "components" in config


def looks_like_info(info: Any) -> bool:
    return isinstance(info, dict) and "named_endpoints" in info


def parse_app(info: dict[str, Any], config: dict[str, Any] | None) -> AppInfo:
    """Build an AppInfo from `/info` (parameters) and `/config` (fn_index, state slots, protocol)."""
    config = config or {}
    state_ids = {c.get("id") for c in config.get("components", []) if c.get("type") == "state"}
    deps: dict[str, tuple[int | None, dict[str, Any]]] = {
        "/" + str(d["api_name"]).lstrip("/"): (i, d)
        for i, d in enumerate(config.get("dependencies", []))
        if d.get("api_name")
    }
    endpoints: dict[str, Endpoint] = {}
    for name, spec in (info.get("named_endpoints") or {}).items():
        params = tuple(
            Parameter(
                name=p.get("parameter_name") or f"param_{i}",
                label=p.get("label"),
                schema=p.get("type") or {},
                python_type=(p.get("python_type") or {}).get("type", "Any"),
                component=p.get("component"),
                has_default=bool(p.get("parameter_has_default")),
                default=p.get("parameter_default"),
                file=file_kind(p),
            )
            for i, p in enumerate(spec.get("parameters", []))
        )
        returns = tuple(
            Output(
                label=r.get("label"),
                schema=r.get("type") or {},
                python_type=(r.get("python_type") or {}).get("type", "Any"),
                component=r.get("component"),
            )
            for r in spec.get("returns", [])
        )
        fn_index, dep = deps.get(name, (None, {}))
        endpoints[name] = Endpoint(
            name=name,
            parameters=params,
            returns=returns,
            fn_index=dep.get("id", fn_index) if dep else None,
            input_state=tuple(i in state_ids for i in dep.get("inputs", [])),
            output_state=tuple(o in state_ids for o in dep.get("outputs", [])),
            generator=bool((dep.get("types") or {}).get("generator")),
        )
    return AppInfo(version=config.get("version") or info.get("version"),
                   protocol=config.get("protocol"), endpoints=endpoints)


def file_kind(param: dict[str, Any]) -> Literal["one", "many"] | None:
    """"one" or "many" when an `/info` parameter takes FileData (File, Image, Audio...), else None."""
    py = str((param.get("python_type") or {}).get("type", "")).replace(" ", "").lower()
    schema = param.get("type") or {}
    if py == "filepath" or _is_filedata_schema(schema):
        return "one"
    items = schema.get("items") if isinstance(schema, dict) else None
    if py == "list[filepath]" or (isinstance(items, dict) and _is_filedata_schema(items, schema)):
        return "many"
    return None


def _is_filedata_schema(schema: Any, root: Any = None) -> bool:
    if not isinstance(schema, dict):
        return False
    ref = schema.get("$ref")
    if isinstance(ref, str) and isinstance(root, dict):
        schema = (root.get("$defs") or {}).get(ref.rsplit("/", 1)[-1], {})
    props = schema.get("properties") or {}
    return schema.get("title") == "FileData" or ("path" in props and "meta" in props)


def join_body(endpoint: Endpoint, values: list[Any], session_hash: str) -> dict[str, Any]:
    """The `/queue/join` body: the values with `null` in every hidden state slot."""
    data: list[Any] = []
    it = iter(values)
    for is_state in endpoint.input_state or (False,) * len(values):
        data.append(None if is_state else next(it, None))
    data.extend(it)
    return {"data": data, "fn_index": endpoint.fn_index, "session_hash": session_hash,
            "trigger_id": None, "event_data": None}


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

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._last: list[Any] | None = None

    def queue_message(self, msg: dict[str, Any]) -> tuple[str, Any] | None:
        """Decode one `/queue/data` message; None for messages that are not events of a call."""
        kind = msg.get("msg")
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
                return "error", output
            data = output.get("data")
            if kind == "process_completed" and data is None:  # what the server sends after /cancel
                return "cancelled", None
            if kind == "process_generating":
                data = self._rebuild(data)
                return "generating", visible_outputs(self.endpoint, data)
            return "complete", visible_outputs(self.endpoint, data)
        return None

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


def decode_json(raw: str) -> Any:
    """Parse event data, turning garbage into a StreamError."""
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise StreamError(f"Malformed event data from the server: {raw[:80]!r}") from exc
