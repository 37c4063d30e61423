"""Fitting user values to an endpoint's parameters: binding, defaults and text conversion."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import EndpointNotFound, ParameterError
from .models import AppInfo, Endpoint, Parameter

_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


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
            out.append(values[p.name])
        elif p.has_default:
            out.append(p.default)
        else:
            raise ParameterError(f"{endpoint.name} needs a value for {_describe(p)}.")
    return out


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
    """`VALUE` and `NAME=VALUE` words -> converted positional and named values."""
    by_name = {p.name: p for p in endpoint.parameters}
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
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
            kwargs[name] = convert_text(by_name[name], text)
        else:
            if kwargs:
                raise ParameterError("Positional values must come before NAME=VALUE ones.")
            if len(args) >= len(endpoint.parameters):
                raise ParameterError(
                    f"{endpoint.name} takes {len(endpoint.parameters)} value(s) "
                    f"({_names(endpoint.parameters)}), got more."
                )
            args.append(convert_text(endpoint.parameters[len(args)], item))
    return args, kwargs


def _describe(p: Parameter) -> str:
    return f"{p.name!r}" + (f" ({p.label})" if p.label and p.label != p.name else "")


def _names(params: Sequence[Parameter]) -> str:
    return ", ".join(p.name for p in params) or "none"
