"""An app's endpoints as Python functions (`session.api.<name>`): a real signature built from
the API description (valid identifiers, defaults - falsy ones too -, annotations from the JSON
schema), a docstring, and every value checked before anything is sent. One implementation for
the sync and the async session: only how a result is awaited differs."""

from __future__ import annotations

import difflib
import inspect
import keyword
import math
import os
import re
import unicodedata
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Literal, Union

from .binding import bind, choices_of
from .errors import ParameterError
from .models import Endpoint, FileData, FileDict, Parameter

_KINDS: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool, "null": type(None)}
_LITERALS = (str, int, bool, type(None))  # what a Literal[...] may hold
_DEPTH = 50  # nested lists and dicts a default may have in source (Python's parser stops at 200)
FilePath = Union[str, os.PathLike, FileData]  # what a file parameter takes (a path, a URL, FileData)


def identifier(name: str, taken: set[str]) -> str:
    """A valid Python identifier for an API name (`/image-to-text` -> `image_to_text`, `class` ->
    `class_`, `__init__` -> `_init__`: never a keyword, a dunder or a mangled `__name`), distinct
    from those `taken` (then added to them). Normalized as Python reads names (NFKC), so what is
    written is what Python binds."""
    text = unicodedata.normalize("NFKC", str(name).strip().lstrip("/"))
    ident = "".join(c if f"_{c}".isidentifier() else "_" for c in text) or "_"
    ident = ident if ident[0].isidentifier() else f"_{ident}"  # a digit (or a combining mark) first
    ident = re.sub(r"^__+", "_", ident)
    if not ident.isidentifier() or unicodedata.normalize("NFKC", ident) != ident:
        ident = "_" + re.sub(r"[^A-Za-z0-9_]", "_", ident).lstrip("_")
    ident = f"{ident}_" if keyword.iskeyword(ident) else ident
    base, n = ident, 2
    while ident in taken:
        ident, n = f"{base}_{n}", n + 1
    taken.add(ident)
    return ident


def parameter_names(ep: Endpoint) -> dict[str, str]:
    """Each parameter's identifier -> its name in the app's API, in the API's order (never
    `self` nor `cast`: a generated method uses them)."""
    taken: set[str] = {"self", "cast"}
    return {identifier(p.name, taken): p.name for p in ep.parameters}


def annotation(param: Parameter) -> Any:
    """The Python type a parameter takes, from its JSON schema (`python_type` is only a display
    string): str, int, float, bool, Literal[...] for choices, list[...], dict[str, Any]..."""
    if param.file == "one":
        return FilePath
    if param.file == "many":
        return list[FilePath]  # type: ignore[valid-type]
    return schema_type(param.schema, open_choices=param.open_choices)


def schema_type(schema: Any, *, open_choices: bool = False) -> Any:
    """A JSON schema as a Python type; Any where the schema says nothing we know."""
    if not isinstance(schema, dict):
        return Any
    branches = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(branches, list) and branches:
        return _union([schema_type(b, open_choices=open_choices) for b in branches])
    props = schema.get("properties")
    if isinstance(props, dict) and "path" in props and ("url" in props or "meta" in props):
        return FileDict  # FileData, ImageData...: a file, as a result gives it back
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and not open_choices and all(type(v) in _LITERALS for v in enum):
        return Literal[tuple(enum)]
    kind_of = schema.get("type")
    kinds: list[Any] = kind_of if isinstance(kind_of, list) else [kind_of]
    out: list[Any] = []
    for kind in kinds:
        if kind == "array":
            items = schema.get("items")
            out.append(list[schema_type(items, open_choices=open_choices) if items else Any])  # type: ignore[misc]
        elif kind == "object":
            out.append(dict[str, Any])
        elif isinstance(kind, str) and kind in _KINDS:
            out.append(_KINDS[kind])
        else:
            return Any
    return _union(out)


def _union(types: list[Any]) -> Any:
    if Any in types or not types:
        return Any
    unique = list(dict.fromkeys(types))
    return unique[0] if len(unique) == 1 else Union[tuple(unique)]


def return_type(ep: Endpoint) -> Any:
    """None for no output, the output's type for one, a tuple of them for several."""
    types = [schema_type(r.schema) for r in ep.returns]  # a file comes back as FileData's dict
    if not types:
        return None
    return types[0] if len(types) == 1 else tuple[tuple(types)]  # type: ignore[misc]


def signature(ep: Endpoint) -> inspect.Signature:
    """The endpoint's call signature: required parameters first, then those with defaults."""
    params = dict(zip(parameter_names(ep), ep.parameters))
    made = [inspect.Parameter(ident, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=_optional(p),
                              default=p.default if p.has_default else inspect.Parameter.empty)
            for ident, p in params.items()]
    made.sort(key=lambda p: p.default is not inspect.Parameter.empty)
    return inspect.Signature(made, return_annotation=return_type(ep))


def _optional(p: Parameter) -> Any:
    """The parameter's type, with None when None is its default."""
    tp = annotation(p)
    if p.has_default and p.default is None and tp is not Any and type(None) not in getattr(tp, "__args__", ()):
        return Union[tp, None]
    return tp


def parameters_text(ep: Endpoint) -> str:
    """The parameters as source: `text: str, times: float = 1`."""
    return ", ".join(f"{p.name}: {type_source(p.annotation)}"
                     + ("" if p.default is p.empty else f" = {literal(p.default)}")
                     for p in signature(ep).parameters.values())


def literal(value: Any, depth: int = 0) -> str:
    """A plain JSON value (str, int, float - inf and nan too -, bool, None, and lists and dicts of
    them) as Python source that evaluates to it. Anything else is refused: an app's value never
    writes source through a repr of its own."""
    kind = type(value)
    if kind in (str, int, bool, type(None)):
        return repr(value)
    if kind is float:
        return repr(value) if math.isfinite(value) else f"float({str(value)!r})"
    if kind is list and depth < _DEPTH:
        return "[" + ", ".join(literal(v, depth + 1) for v in value) + "]"
    if kind is dict and depth < _DEPTH and all(type(k) is str for k in value):
        return "{" + ", ".join(f"{k!r}: {literal(v, depth + 1)}" for k, v in value.items()) + "}"
    raise ParameterError(f"A value of the app's API ({kind.__name__}) can't be written as Python source: only "
                         f"JSON values (strings, numbers, booleans, null, lists and objects up to {_DEPTH} deep).")


def docstring(ep: Endpoint) -> str:
    """What the endpoint does (the app's words), each parameter's type, label, component,
    choices, bounds and default, and the returns."""
    lines = [ep.description.strip() or f"Calls {ep.name} of the app.", ""]
    names = {wire: ident for ident, wire in parameter_names(ep).items()}
    if ep.parameters:
        lines.append("Parameters:")
        for p in ep.parameters:
            renamed = f" ({p.name!r} in the app's API)" if names[p.name] != p.name else ""
            lines.append(f"    {names[p.name]}: {type_source(annotation(p))}{renamed}")
            lines += [f"        {text}" for text in _details(p)]
    if ep.returns:
        lines.append("Returns:" if len(ep.returns) == 1 else "Returns (a tuple):")
        for i, r in enumerate(ep.returns):
            what = " ".join(str(x) for x in (r.component, repr(r.label) if r.label else "") if x)
            lines.append(f"    [{i}] {type_source(schema_type(r.schema))}"
                         + (f": {what}" if what else ""))
    return "\n".join(lines).rstrip()


def endpoint_help(ep: Endpoint) -> str:
    """The endpoint as `help()` shows its function: the call with its signature, then the docstring."""
    call = f"{identifier(ep.name, set())}({parameters_text(ep)}) -> {type_source(return_type(ep))}"
    return f"{call}\n\n{docstring(ep)}"


def _details(p: Parameter) -> list[str]:
    out = []
    what = " ".join(str(x) for x in (p.component, repr(p.label) if p.label else "") if x)
    description = p.schema.get("description")
    if what or description:
        out.append("; ".join(str(x) for x in (what, description) if x) + ".")
    choices, many = choices_of(p)
    if choices is not None:
        out.append(f"{'Any' if many else 'One'} of {list(choices)!r}"
                   + (" (or another value)." if p.open_choices else "."))
    limits = p.limits or {}
    if "minimum" in limits or "maximum" in limits:
        step = f", step {limits['step']:g}" if "step" in limits else ""
        out.append(f"From {limits.get('minimum', float('-inf')):g} to {limits.get('maximum', float('inf')):g}{step}.")
    out.append(f"Default: {p.default!r}." if p.has_default else "Required.")
    return out


class Api:
    """A session's endpoints as attributes: `s.api.echo("hi")` returns the result (the output
    itself, a tuple for several), `.invoke(...)` the Call, `.stream(...)` its events. With an
    async session each returns an awaitable (`.stream` an async iterator)."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self._async = inspect.iscoroutinefunction(session.call)
        self._made: dict[tuple[str, str | None], Callable[..., Any]] = {}
        self._named: tuple[str | None, dict[str, Endpoint]] = ("", {})  # (api_hash, identifier -> endpoint)

    def _endpoints(self) -> dict[str, Endpoint]:
        """Identifier -> endpoint, made again only when the session read another API."""
        app = self._session.app
        if self._named[0] != app.api_hash:
            taken: set[str] = {"_session", "_async", "_made", "_named", "_endpoints", "_function"}  # our own
            self._named = (app.api_hash, {identifier(name, taken): ep for name, ep in app.endpoints.items()})
        return self._named[1]

    def __dir__(self) -> list[str]:
        return sorted(self._endpoints())

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("__") or name in ("_session", "_async", "_made", "_named"):  # copy, pickle: not endpoints
            raise AttributeError(name)
        endpoints = self._endpoints()
        if name not in endpoints:
            close = difflib.get_close_matches(name, list(endpoints), n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise AttributeError(f"The app has no endpoint {name!r}.{hint} Endpoints: {', '.join(sorted(endpoints))}.")
        key = (name, self._session.app.api_hash)
        if key not in self._made:
            self._made[key] = self._function(name, endpoints[name])
        return self._made[key]

    def __repr__(self) -> str:
        return f"<endpoints of {self._session.name}: {', '.join(sorted(self._endpoints()))}>"

    def _function(self, ident: str, ep: Endpoint) -> Callable[..., Any]:
        sig, names, session = signature(ep), parameter_names(ep), self._session

        def checked(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
            """Checked against the signature and the API (types, choices, bounds): nothing is
            sent for a wrong value."""
            try:
                bound = sig.bind(*args, **kwargs)
            except TypeError as exc:
                raise ParameterError(f"{ident}(): {exc}.") from None
            return bind(ep, (), {names[k]: v for k, v in bound.arguments.items()})

        def invoke(*args: Any, **kwargs: Any) -> Any:
            return session.invoke(ep.name, *checked(args, kwargs))

        def map_from(upstream: Any, *, policy: str = "last", values: dict[str, Any] | None = None,
                     **mapping: int) -> Any:
            unknown = sorted(set(mapping) - set(names) | set(values or {}) - set(names))
            if unknown:
                raise ParameterError(f"{ident}() has no parameter {', '.join(map(repr, unknown))}: it takes "
                                     f"{', '.join(names)}.")
            return session.feed(ep.name, upstream, {names[k]: v for k, v in mapping.items()},
                                values={names[k]: v for k, v in (values or {}).items()}, policy=policy)

        if self._async:
            async def function(*args: Any, **kwargs: Any) -> Any:
                return _shaped(ep, await session.call(ep.name, *checked(args, kwargs)))

            async def stream(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
                call = await session.invoke(ep.name, *checked(args, kwargs))
                async for event in call.events():
                    yield event
        else:
            def function(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
                return _shaped(ep, session.call(ep.name, *checked(args, kwargs)))

            def stream(*args: Any, **kwargs: Any) -> Iterator[Any]:  # type: ignore[misc]
                yield from session.invoke(ep.name, *checked(args, kwargs)).events()

        made: Any
        for made, doc in ((function, docstring(ep)), (invoke, f"Start {ident}(...) and return its Call."),
                          (stream, f"Start {ident}(...) and yield its events as they come.")):
            made.__name__ = made.__qualname__ = ident if made is function else f"{ident}.{made.__name__}"
            made.__signature__ = sig if made is function else sig.replace(return_annotation=inspect.Signature.empty)
            made.__doc__ = doc
        map_from.__name__, map_from.__qualname__ = "map_from", f"{ident}.map_from"
        map_from.__doc__ = (f"Start {ident}(...) with another call's outputs: map_from(call, NAME=OUTPUT_INDEX..., "
                            "values={NAME: VALUE}, policy='last' (its result) or 'each' (each partial result, "
                            "the previous call cancelled)). Returns the Call.")
        function.invoke, function.stream, function.map_from = invoke, stream, map_from  # type: ignore[attr-defined]
        return function


def _shaped(ep: Endpoint, outputs: Any) -> Any:
    """`call`'s list of outputs as a function returns them: None, the one output, or a tuple."""
    if not isinstance(outputs, list) or len(ep.returns) != len(outputs):
        return outputs
    return None if not outputs else outputs[0] if len(outputs) == 1 else tuple(outputs)


def type_source(tp: Any) -> str:
    """An annotation as source text for a generated module (`Literal['a', 'b'] | None`...)."""
    if tp is Any:
        return "Any"
    if tp is type(None) or tp is None:
        return "None"
    if tp == FilePath:
        return "str | os.PathLike[str] | FileData"
    if tp is os.PathLike:
        return "os.PathLike[str]"
    origin, args = getattr(tp, "__origin__", None), getattr(tp, "__args__", ())
    if origin is Literal:
        return f"Literal[{', '.join(literal(a) for a in args)}]"
    if origin is Union:
        return " | ".join(type_source(a) for a in args)
    if origin in (list, dict, tuple):
        return f"{origin.__name__}[{', '.join(type_source(a) for a in args)}]"
    return str(tp.__name__)
