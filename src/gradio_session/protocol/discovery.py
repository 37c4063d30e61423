"""Finding an app: its URL, its API root, and its API from `/config` and `/info`. No I/O."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from typing import Any, Literal
from urllib.parse import urlsplit

from ..errors import NotAGradioApp
from ..models import AppInfo, Endpoint, Output, Parameter


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
    components = {c.get("id"): c for c in config.get("components", [])}
    updated = {o for d in config.get("dependencies", []) for o in d.get("outputs", [])}  # props may change
    endpoints: dict[str, Endpoint] = {}
    for name, spec in (info.get("named_endpoints") or {}).items():
        fn_index, dep = deps.get(name, (None, {}))
        shown = [components.get(i) or {} for i in dep.get("inputs", []) if i not in state_ids]
        params = tuple(
            Parameter(
                name=p.get("parameter_name") or label_name(p.get("label"), i),
                label=p.get("label"),
                schema=p.get("type") or {},
                python_type=(p.get("python_type") or {}).get("type", "Any"),
                component=p.get("component"),
                **_default(p, shown[i] if i < len(shown) else {}),
                **_props(shown[i] if i < len(shown) else {}, updated),
                file=file_kind(p),
            )
            for i, p in enumerate(spec.get("parameters", []))
        )
        params = _distinct(params)
        returns = tuple(
            Output(
                label=r.get("label"),
                schema=r.get("type") or {},
                python_type=(r.get("python_type") or {}).get("type", "Any"),
                component=r.get("component"),
            )
            for r in spec.get("returns", [])
        )
        endpoints[name] = Endpoint(
            name=name,
            parameters=params,
            returns=returns,
            fn_index=dep.get("id", fn_index) if dep else None,
            input_state=tuple(i in state_ids for i in dep.get("inputs", [])),
            output_state=tuple(o in state_ids for o in dep.get("outputs", [])),
            generator=bool((dep.get("types") or {}).get("generator")),
            description=str(spec.get("description") or ""),
        )
    app_id = config.get("app_id")
    version = config.get("version") or info.get("version")
    protocol = config.get("protocol") or ("ws" if str(version).startswith("3.") and config.get("enable_queue")
                                          else None)  # Gradio 3.x's queue speaks WebSocket
    return AppInfo(version=version, protocol=protocol, endpoints=endpoints, api_hash=api_hash(info, config),
                   app_id=None if app_id is None else str(app_id))


def label_name(label: Any, index: int) -> str:
    """A parameter name from a component's label (`"Max tokens"` -> `max_tokens`), for apps
    whose API description has none (Gradio 3.x, or an API built from `/config`)."""
    name = re.sub(r"\W+", "_", str(label or "").strip().lower()).strip("_")
    return name if name.isidentifier() else f"param_{index}"


def _distinct(params: tuple[Parameter, ...]) -> tuple[Parameter, ...]:
    """Names made from labels may repeat (two inputs labelled "Text"): the later get `_2`, `_3`..."""
    seen: dict[str, int] = {}
    out = []
    for p in params:
        seen[p.name] = seen.get(p.name, 0) + 1
        out.append(p if seen[p.name] == 1 else dataclasses.replace(p, name=f"{p.name}_{seen[p.name]}"))
    return tuple(out)


def _default(param: dict[str, Any], component: dict[str, Any]) -> dict[str, Any]:
    """A parameter's default: what `/info` says, else (Gradio 3.x) the component's value."""
    if "parameter_has_default" in param:
        return {"has_default": bool(param["parameter_has_default"]), "default": param.get("parameter_default")}
    value = (component.get("props") or {}).get("value")
    return {"has_default": value is not None, "default": value}


def _props(component: dict[str, Any], updated: set[Any]) -> dict[str, Any]:
    """What `/config` adds to a parameter: a slider's (or number's) bounds, and whether a
    dropdown takes values beyond its choices. A component some event updates may get other
    choices or bounds in a session (`gr.update(choices=...)`): then neither is enforced here."""
    props = component.get("props") or {}
    limits = {k: float(props[k]) for k in ("minimum", "maximum", "step") if isinstance(props.get(k), (int, float))}
    fixed = component.get("id") not in updated
    return {"limits": limits if fixed and component.get("type") in ("slider", "number") and limits else None,
            "open_choices": bool(props.get("allow_custom_value")) or not fixed}


def info_from_config(config: dict[str, Any]) -> dict[str, Any]:
    """What `/info` would say, from `/config`'s dependencies and components (their `api_info`
    schema, label and value): for apps whose `/info` fails, as Gradio 4.44's does with a recent
    pydantic (gradio#10792). Parameter names come from the labels."""
    components = {c.get("id"): c for c in config.get("components", [])}

    def described(ids: list[Any], *, inputs: bool) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for cid in ids:
            c = components.get(cid) or {}
            if c.get("type") == "state" or c.get("skip_api"):
                continue
            props, schema = c.get("props") or {}, c.get("api_info") or {}
            if "serialized_info" in schema:  # Gradio 3.x: {"info": schema, "serialized_info": ...}
                schema = schema.get("info") or {}
            item: dict[str, Any] = {"label": props.get("label"), "type": schema, "component": str(c.get("type", "")),
                                    "python_type": {"type": _python_type(schema)}, "serializer": c.get("serializer")}
            if inputs:
                item.update(parameter_name=label_name(props.get("label"), len(out)),
                            parameter_has_default=props.get("value") is not None,
                            parameter_default=props.get("value"))
            out.append(item)
        return out

    named = {"/" + str(d["api_name"]).lstrip("/"): {"parameters": described(d.get("inputs", []), inputs=True),
                                                     "returns": described(d.get("outputs", []), inputs=False)}
             for d in config.get("dependencies", [])
             if d.get("api_name") and d.get("show_api") is not False  # 5.x says show_api,
             and d.get("api_visibility", "public") in ("public", None)}  # 6.x api_visibility
    return {"named_endpoints": named, "unnamed_endpoints": {}}


def _python_type(schema: dict[str, Any]) -> str:
    if schema.get("title") == "FileData":
        return "filepath"
    kind = schema.get("type")
    if kind == "array":
        return f"list[{_python_type(schema.get('items') or {})}]"
    return {"string": "str", "number": "float", "integer": "int", "boolean": "bool", "object": "dict"}.get(
        str(kind), "Any")


def api_hash(info: dict[str, Any], config: dict[str, Any]) -> str:
    """A digest of what calls depend on: the endpoints' parameters and returns, and where each
    sits in the app (fn_index, inputs, outputs)."""
    wiring = [(d.get("api_name"), d.get("id"), d.get("inputs"), d.get("outputs"))
              for d in config.get("dependencies", [])]
    text = json.dumps({"endpoints": info.get("named_endpoints"), "wiring": wiring}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


GRADIO3_FILES = frozenset({"FileSerializable", "VideoSerializable"})  # Gradio 3.x's file parameters


def file_kind(param: dict[str, Any]) -> Literal["one", "many"] | None:
    """"one" or "many" when an `/info` parameter takes FileData (File, Image, Audio...), else None."""
    py = str((param.get("python_type") or {}).get("type", "")).replace(" ", "").lower()
    schema = param.get("type") or {}
    if py == "filepath" or _is_filedata_schema(schema) or param.get("serializer") in GRADIO3_FILES:
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
