"""Fitting user values to an endpoint's parameters: binding, defaults, type checks and text
conversion."""

from __future__ import annotations

import difflib
import json
import numbers
import reprlib
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import EndpointNotFound, ParameterError
from .models import AppInfo, Endpoint, Parameter

_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}
_PYTHON_KINDS = {"int": "integer", "float": "number", "bool": "boolean", "str": "string"}
_KIND_NAMES = {"string": "a string (str)", "number": "a number (int or float)", "integer": "an integer (int)",
               "boolean": "a boolean (True or False)", "array": "a list", "object": "a dict", "null": "None"}
_short = reprlib.Repr()
_short.maxstring = _short.maxother = 60


def find_endpoint(app: AppInfo, name: str) -> Endpoint:
    """The endpoint called `name` (leading slash optional), or EndpointNotFound with close names."""
    key = "/" + name.strip().lstrip("/")
    if key in app.endpoints:
        return app.endpoints[key]
    known = sorted(app.endpoints)
    raise EndpointNotFound(key, known, difflib.get_close_matches(key, known, n=3, cutoff=0.5))


def endpoint_or_bare(app: AppInfo, name: str) -> Endpoint:
    """The endpoint called `name`, or a bare one of that name: a recorded call outlives changes
    of the app's API, and is still read and cancelled by its name."""
    try:
        return find_endpoint(app, name)
    except EndpointNotFound:
        return Endpoint(name=name)


def bind(endpoint: Endpoint, args: Sequence[Any], kwargs: Mapping[str, Any]) -> list[Any]:
    """Positional and named values -> the full value list, server defaults filling the gaps."""
    params = endpoint.parameters
    if len(args) > len(params):
        raise ParameterError(
            f"{endpoint.name} takes {len(params)} value(s) ({_names(params)}), got {len(args)}."
        )
    values: dict[str, Any] = {p.name: v for p, v in zip(params, args)}
    by_name = {p.name: p for p in params}
    for key, value in kwargs.items():
        if key not in by_name:
            close = difflib.get_close_matches(key, list(by_name), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ParameterError(
                f"{endpoint.name} has no parameter {key!r}.{hint} Parameters: {_names(params)}."
            )
        if key in values:
            raise ParameterError(f"Parameter {key!r} of {endpoint.name} was given twice.")
        values[key] = value
    out: list[Any] = []
    for p in params:
        if p.name in values:
            check_value(endpoint, p, values[p.name])
            out.append(values[p.name])
        elif p.has_default:
            out.append(p.default)
        else:
            raise ParameterError(f"{endpoint.name} needs a value for {_describe(p)}.")
    return out


def check_value(endpoint: Endpoint, param: Parameter, value: Any) -> None:
    """ParameterError unless `value` has a type the parameter's JSON schema takes (an int is a
    number, a bool is not; None only with a default or where the schema allows null). File
    parameters are checked when their files are read; a schema that names no type takes anything."""
    schema = _schema(param)
    if value is None:
        if param.has_default or _fits(schema, None):
            return
        raise ParameterError(f"{endpoint.name}: {_describe(param)} takes {_expected(schema)}, not None: "
                             "it has no default.")
    if param.file is None and not _fits(schema, value):
        raise ParameterError(f"{endpoint.name}: {_describe(param)} takes {_expected(schema)}, got "
                             f"{_short.repr(value)} ({type(value).__name__}).")
    choices, many = choices_of(param)
    if choices is not None and not param.open_choices:
        wrong = [v for v in (value if many and isinstance(value, (list, tuple)) else [value]) if v not in choices]
        if wrong:
            raise ParameterError(f"{endpoint.name}: {_describe(param)} takes {'values' if many else 'one'} of "
                                 f"{_short.repr(list(choices))}, not {_short.repr(wrong[0])}.")
    low, high = (param.limits or {}).get("minimum"), (param.limits or {}).get("maximum")
    if _is("number", value) and (low is not None and value < low or high is not None and value > high):
        raise ParameterError(f"{endpoint.name}: {_describe(param)} takes a number {_range(low, high)}, not {value!r}.")


def _range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    return f"of at least {low:g}" if low is not None else f"of at most {high:g}"


def choices_of(param: Parameter) -> tuple[tuple[Any, ...] | None, bool]:
    """The values a Dropdown/Radio/CheckboxGroup parameter takes (its schema's `enum`, or its
    items' for a multiselect), and whether it takes a list of them; (None, False) for others."""
    schema = param.schema
    if isinstance(schema.get("enum"), list):
        return tuple(schema["enum"]), False
    items = schema.get("items") if schema.get("type") == "array" else None
    if isinstance(items, dict) and isinstance(items.get("enum"), list):
        return tuple(items["enum"]), True
    return None, False


def _schema(param: Parameter) -> dict[str, Any]:
    """The parameter's JSON schema, or one made from its Python type when the schema has none."""
    if any(k in param.schema for k in ("type", "anyOf", "oneOf")):
        return param.schema
    py = param.python_type.replace(" ", "")
    if py.startswith("Optional[") and py.endswith("]"):
        py, optional = py[len("Optional["):-1], True
    else:
        optional = "|None" in py or "None|" in py
        py = py.replace("|None", "").replace("None|", "")
    kind = _PYTHON_KINDS.get(py)
    return {"type": [kind, "null"] if optional else kind} if kind else {}


def _branches(schema: Any) -> list[Any] | None:
    branches = schema.get("anyOf") or schema.get("oneOf") if isinstance(schema, dict) else None
    return branches if isinstance(branches, list) and branches else None


def _fits(schema: Any, value: Any) -> bool:
    """Whether `value` has one of the JSON types the schema names; a schema naming no type, or
    one we don't know, takes anything."""
    branches = _branches(schema)
    if branches:
        return any(_fits(b, value) for b in branches)
    kind = schema.get("type") if isinstance(schema, dict) else None
    kinds = kind if isinstance(kind, list) else [kind]
    known = [k for k in kinds if isinstance(k, str) and k in _KIND_NAMES]
    if len(known) < len(kinds):
        return True
    return "null" in known if value is None else any(_is(k, value) for k in known)


def _is(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("integer", "number"):
        wanted = numbers.Integral if kind == "integer" else numbers.Real
        return isinstance(value, wanted) and not isinstance(value, bool)
    if kind == "array":
        return isinstance(value, (list, tuple))
    if kind == "object":
        return isinstance(value, Mapping)
    return False  # null: only None, checked apart


def _expected(schema: Any) -> str:
    branches = _branches(schema)
    if branches:
        return " or ".join(dict.fromkeys(_expected(b) for b in branches))
    kind = schema.get("type") if isinstance(schema, dict) else None
    kinds = kind if isinstance(kind, list) else [kind]
    return " or ".join(_KIND_NAMES.get(k, str(k)) for k in kinds if isinstance(k, str)) or "a value"


def convert_text(param: Parameter, text: str) -> Any:
    """Turn command-line text into the parameter's type (number, boolean, JSON list/object).
    A file parameter takes a path or URL, or FileData JSON (a JSON list for many files)."""
    kind = param.schema.get("type")
    if param.file:
        if text.lstrip()[:1] in ("{", "[") and not (param.file == "one" and text.lstrip()[:1] == "["):
            try:
                return json.loads(text)
            except ValueError as exc:
                raise ParameterError(f"{text!r} is not valid JSON for {_describe(param)}.") from exc
        return text
    try:
        if kind == "integer" or param.python_type == "int":
            return int(text)
        if kind == "number" or param.python_type == "float":
            number = float(text)
            return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
        if kind == "boolean" or param.python_type == "bool":
            lowered = text.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError(text)
        if kind == "string":
            return text
        if kind in ("array", "object"):
            value = json.loads(text)
            if not isinstance(value, list if kind == "array" else dict):
                raise ValueError(text)
            return value
    except ValueError as exc:
        raise ParameterError(
            f"{text!r} is not a valid {kind or param.python_type} for {_describe(param)}."
        ) from exc
    try:
        return json.loads(text)
    except ValueError:
        return text


def split_cli_values(endpoint: Endpoint, items: Sequence[str]) -> tuple[list[Any], dict[str, Any]]:
    """`VALUE` and `NAME=VALUE` words -> converted positional and named values. A many-file
    parameter takes several words: the positional ones the parameters after it leave over, or
    its NAME=VALUE repeated."""
    by_name = {p.name: p for p in endpoint.parameters}
    words: list[str] = []
    named: list[tuple[str, str]] = []
    for item in items:
        name, sep, text = item.partition("=")
        if sep and name.isidentifier():
            if name not in by_name:
                close = difflib.get_close_matches(name, list(by_name), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ParameterError(
                    f"{endpoint.name} has no parameter {name!r}.{hint} Parameters: "
                    f"{_names(endpoint.parameters)}. (Text containing '=' goes by name: text=a=b.)"
                )
            named.append((name, text))
        elif named:
            raise ParameterError("Positional values must come before NAME=VALUE ones.")
        else:
            words.append(item)
    kwargs: dict[str, Any] = {}
    for name, text in named:
        value = convert_text(by_name[name], text)
        if name not in kwargs:
            kwargs[name] = value
        elif by_name[name].file == "many":
            kwargs[name] = _as_list(kwargs[name]) + _as_list(value)
        else:
            raise ParameterError(f"Parameter {name!r} of {endpoint.name} was given twice.")
    return _positional(endpoint, words, set(kwargs)), kwargs


def _positional(endpoint: Endpoint, words: list[str], named: set[str]) -> list[Any]:
    params = endpoint.parameters
    args: list[Any] = []
    at = 0  # the next word
    while at < len(words):
        if len(args) >= len(params):
            raise ParameterError(
                f"{endpoint.name} takes {len(params)} value(s) ({_names(params)}), got more."
            )
        p = params[len(args)]
        take = 1
        if p.file == "many":  # the words left over by the positional parameters after it
            after = 0
            for q in params[len(args) + 1:]:
                if q.name in named:
                    break
                after += 1
            take = max(1, len(words) - at - after)
        values = [convert_text(p, word) for word in words[at:at + take]]
        args.append(values[0] if take == 1 else [x for v in values for x in _as_list(v)])
        at += take
    return args


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _describe(p: Parameter) -> str:
    return f"{p.name!r}" + (f" ({p.label})" if p.label and p.label != p.name else "")


def _names(params: Sequence[Parameter]) -> str:
    return ", ".join(p.name for p in params) or "none"
