"""`gradio-session codegen`: a session's endpoints written out as a typed Python module (one
method per endpoint, with its real signature, types and docstring, several outputs as a
NamedTuple) for IDEs and type checkers; and `Generated`, the base such a module runs on, which
notices when the app's API is no longer the one the module was made from."""

from __future__ import annotations

import keyword
from typing import Any

from .describe import visible
from .errors import ApiChanged, ParameterError
from .functions import (
    annotation, docstring, identifier, literal, parameter_names, return_type, schema_type, parameters_text,
    type_source,
)
from .models import AppInfo, Endpoint
from .sync import Session, get_session
from .version import __version__

_RESERVED = {"session", "SESSION", "API", "API_HASH", "_call", "_checked"}  # the base's: no method takes them
_GLOBALS = {"annotations", "os", "Any", "Literal", "NamedTuple", "cast", "FileData", "FileDict", "Generated",
            "API_HASH"}  # the module's own names: no class takes them


def docstring_body(text: str) -> str:
    """Any text as the body of a triple-quoted docstring whose value is that very text: backslashes
    doubled, a quote escaped where another follows it or the text ends (no run of three can close
    the docstring), and every invisible or control character but newline and tab written as an
    escape (a NUL, a carriage return or a bidi override can't break or disguise the source)."""
    text = text.replace("\\", "\\\\")
    return visible("".join('\\"' if c == '"' and (text[i + 1:i + 2] in ('"', "")) else c for i, c in enumerate(text)))


def module_source(session_name: str, app_url: str, app: AppInfo, class_name: str | None = None) -> str:
    """The module's source for an app's API (as a session read it). Every text of the app is
    written as a docstring body or a plain JSON literal, every name as a checked identifier: no
    endpoint, label or value can add code to the module."""
    cls = class_name or "".join(w.capitalize() for w in identifier(session_name, set()).split("_") if w)
    if class_name is None and not cls.isidentifier():  # `127.0.0.1:7860` -> App12700017860
        cls = f"App{cls}"
    if not cls.isidentifier() or keyword.iskeyword(cls) or cls in _GLOBALS:
        raise ParameterError(f"{cls!r} is not a valid class name here: give one with --class-name.")
    # a result class is a global its methods name: no parameter may hide it
    arguments = {ident for ep in app.endpoints.values() for ident in parameter_names(ep)}
    taken, classes, methods, results = set(_RESERVED), {cls, *_GLOBALS, *arguments}, [], []
    for ep in app.endpoints.values():
        name = identifier(ep.name, taken)
        result = identifier(f"{name.title().replace('_', '')}Result", classes) if len(ep.returns) > 1 else None
        if result:
            results.append(_named_tuple(result, ep))
        methods.append(_method(name, ep, result))
    api = "".join(f"        {literal(name)}: {literal(fingerprint(ep))},\n" for name, ep in app.endpoints.items())
    about = (f"Typed functions for the Gradio app at {app_url} (session {session_name!r}).\n\nWritten by "
             f"`gradio-session codegen` (gradio-session {__version__}) from the app's API {app.api_hash}.")
    head = f'''"""{docstring_body(about)}
Its first call reads the API again, and raises gradio_session.ApiChanged if it changed since.
"""

from __future__ import annotations

import os
from typing import Any, Literal, NamedTuple, cast

from gradio_session import FileData, FileDict
from gradio_session.codegen import Generated

API_HASH = {literal(app.api_hash)}
'''
    about = f"The endpoints of {app_url}: `{cls}()` uses the session {session_name!r}, or pass another."
    body = f'''

class {cls}(Generated):
    """{docstring_body(about)}"""

    SESSION = {literal(session_name)}
    API = {{
{api}    }}
''' + "".join(methods)
    return head + "".join(results) + body


def _named_tuple(cls: str, ep: Endpoint) -> str:
    taken = set(dir(tuple))
    fields = []
    for i, r in enumerate(ep.returns):
        field = identifier(str(r.label or f"output_{i}").lower(), taken)
        field = field if not field.startswith("_") else identifier(f"output_{i}", taken)  # a NamedTuple's own
        fields.append(f"    {field}: {type_source(schema_type(r.schema))}\n")
    return f'\n\nclass {cls}(NamedTuple):\n    """{docstring_body(f"What {ep.name} returns.")}"""\n\n' + "".join(fields)


def _method(name: str, ep: Endpoint, result: str | None) -> str:
    names = parameter_names(ep)  # identifier -> API name, in the API's order
    call = f"self._call({literal(ep.name)}, [{', '.join(names)}])"
    returns = return_type(ep)
    if result:
        ret, line = result, f"return {result}(*{call})"
    elif returns is None:
        ret, line = "None", call
    else:
        ret = type_source(returns)
        line = f"return {call}[0]" if ret == "Any" else f"return cast({literal(ret)}, {call}[0])"
    doc = "\n".join(f"        {text}".rstrip() for text in docstring_body(docstring(ep)).split("\n")).lstrip()
    params = parameters_text(ep)
    return (f"\n    def {name}(self{', ' + params if params else ''}) -> {ret}:\n"
            f'        """{doc}\n        """\n        {line}\n')


def fingerprint(ep: Endpoint) -> list[Any]:
    """What a generated method depends on: each parameter's name and type, and how many outputs."""
    return [[[ident, type_source(annotation(p))] for ident, p in zip(parameter_names(ep), ep.parameters)],
            len(ep.returns)]


def api_changes(app: AppInfo, expected: dict[str, list[Any]]) -> list[str]:
    """How the app's endpoints differ from the fingerprints a module was generated with."""
    out = []
    for name, (params, returns) in expected.items():
        ep = app.endpoints.get(name)
        if ep is None:
            out.append(f"{name} is gone")
            continue
        now = {n: kind for n, kind in fingerprint(ep)[0]}
        was = {n: kind for n, kind in params}
        out += [f"{name}: parameter {n!r} is gone" for n in was if n not in now]
        out += [f"{name}: parameter {n!r} is new" for n in now if n not in was]
        out += [f"{name}: parameter {n!r} now takes {now[n]} (was {was[n]})" for n in was if n in now and now[n] != was[n]]
        if [n for n, _ in params if n in now] != [n for n in now if n in was]:
            out.append(f"{name}: its parameters are in another order")
        if len(ep.returns) != returns:
            out.append(f"{name}: returns {len(ep.returns)} outputs (was {returns})")
    return out


class Generated:
    """The base of a module written by `gradio-session codegen`: its methods call the session's
    endpoints; the first call reads the app's API again and raises ApiChanged, naming what
    changed, when it is not the one the module was made from."""

    SESSION: str = "."
    API: dict[str, list[Any]] = {}

    def __init__(self, session: Session | str | None = None) -> None:
        self.session = session if isinstance(session, Session) else get_session(session or self.SESSION)
        self._checked = False

    def _call(self, endpoint: str, values: list[Any]) -> list[Any]:
        if not self._checked:
            self.session.refresh()
            changes = api_changes(self.session.app, self.API)
            if changes:
                raise ApiChanged(f"The app's API changed since this module was generated: {'; '.join(changes)}. "
                                 f"Generate it again: gradio-session codegen --session {self.session.name}")
            self._checked = True
        outputs: list[Any] = self.session.call(endpoint, *values)
        return outputs
