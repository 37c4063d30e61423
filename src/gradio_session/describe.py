"""An app's API as text, like gradio_client's `view_api()`: every endpoint with its
parameters (name, type, default or required, component) and returns, and a call to copy, in
Python and on the command line. Pure: `Session.view_api()` and `gradio-session api` print it."""

from __future__ import annotations

import json
import keyword
import math
import shlex
import unicodedata
from typing import Any

from .binding import find_endpoint
from .models import AppInfo, Endpoint, Parameter

_SAMPLES = {"string": "hi", "number": 1, "integer": 1, "boolean": True, "array": [], "object": {}}
_FILE_SAMPLE = "path/to/file.txt"
_HIDDEN = ("Cc", "Cf", "Cs", "Zl", "Zp")  # Unicode categories of controls, invisible marks, bidi, lone surrogates


def api_text(app: AppInfo, session_name: str, endpoint: str | None = None) -> str:
    """The app's endpoints (or only `endpoint`, leading slash optional) as text with calls to
    copy; EndpointNotFound (with close names) for an endpoint the app does not have."""
    endpoints = [find_endpoint(app, endpoint)] if endpoint else list(app.endpoints.values())
    head = (f"Session {session_name!r}: Gradio {app.version or '?'}, {len(app.endpoints)} endpoint(s). "
            f"In Python: s = gradio_session.get_session({_py(session_name)})")
    if not endpoints:
        return head + "\nThe app has no named API endpoints."
    return "\n\n".join([head, *(_endpoint_text(ep, session_name) for ep in endpoints)])


def _endpoint_text(ep: Endpoint, session_name: str) -> str:
    lines = [ep.name + ("  (a generator: s.invoke(...).events() streams its outputs)" if ep.generator else "")]
    if ep.parameters:
        lines.append("  parameters:")
        lines += _table([(p.name, _type(p), _default(p), _component(p.component, p.label, p.name))
                         for p in ep.parameters])
    if ep.returns:
        lines.append("  returns:")
        lines += _table([(f"[{i}]", r.python_type, _component(r.component, r.label, None))
                         for i, r in enumerate(ep.returns)])
    sample = [(p, _sample(p)) for p in ep.parameters if not (p.has_default and p.default is None)]
    by_name = all(p.name.isidentifier() and not keyword.iskeyword(p.name) for p, _ in sample)
    short = ep.name.lstrip("/")
    py_args = [_py(short)] + [f"{p.name}={_py(v)}" if by_name else _py(v) for p, v in sample]
    cli_words = ["gradio-session", "call", short]
    for p, v in sample:  # many files: one word each
        for item in v if p.file == "many" and isinstance(v, list) else [v]:
            cli_words.append(f"{p.name}={_cli(item)}" if by_name else _cli(item))
    cli_words += ["--session", session_name]
    lines.append(f"  Python: s.call({', '.join(py_args)})")
    lines.append(f"  CLI:    {shlex.join(cli_words)}")
    return "\n".join(lines)


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as aligned columns (the last one unpadded), indented under their heading."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["    " + "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths)), row[-1]]).rstrip()
            for row in rows]


def _type(p: Parameter) -> str:
    if p.file:
        return "file path, URL or FileData" + (" (one or a list)" if p.file == "many" else "")
    return p.python_type


def _default(p: Parameter) -> str:
    return f"default {_py(p.default)}" if p.has_default else "required"


def _component(component: str | None, label: str | None, name: str | None) -> str:
    shown = f" {label!r}" if label and label != name else ""
    return (component or "") + shown


def _sample(p: Parameter) -> Any:
    """A value to copy: the parameter's default, else one of its type (the first choice of a
    list of choices)."""
    if p.has_default:
        return p.default
    if p.file:
        return [_FILE_SAMPLE] if p.file == "many" else _FILE_SAMPLE
    schema = p.schema
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    return _SAMPLES.get(kind, "") if isinstance(kind, str) else ""


def _py(value: Any) -> str:
    """A Python literal of a JSON value to copy, strings in double quotes, any character that is
    not plain text (a control, a bidi override) as an escape; inf and nan as `float("inf")`."""
    if isinstance(value, str):
        return visible(json.dumps(value, ensure_ascii=False))
    if isinstance(value, float) and not math.isfinite(value):
        return f'float("{value}")'
    if isinstance(value, list):
        return "[" + ", ".join(_py(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_py(str(k))}: {_py(v)}" for k, v in value.items()) + "}"
    return repr(value) if value is None or isinstance(value, (bool, int, float)) else _py(str(value))


def visible(text: str) -> str:
    """`text` with every control, invisible or bidi character but newline and tab written as a
    Python escape (`\\x1b`, `\\u202e`): source, or a string literal in it, that shows what it holds."""
    return "".join(_escaped(c) if c not in "\n\t" and unicodedata.category(c) in _HIDDEN else c for c in text)


def _escaped(c: str) -> str:
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def _cli(value: Any) -> str:
    """A value as `gradio-session call` reads it back."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)
