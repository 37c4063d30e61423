"""An app's endpoints as MCP tools: names within MCP's rules, JSON schemas for their arguments
(choices as `enum`, a slider's bounds, defaults, required ones), files in as a path, a URL or
base64 data, and a call's outputs as MCP content (text, JSON, images, audio, file links).

Plain data and the SDK's types only: no session is touched here."""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
import os
import re
import uuid
from pathlib import Path
from typing import Any

import mcp.types as types

from .. import aio
from ..errors import ParameterError
from ..models import Endpoint, Parameter, is_url

INLINE_MOST = 8 * 2**20  # bytes: a larger image or audio file is linked, not sent inline
_NOT_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
_DATA = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)?(;[^,]*)?;base64,(?P<data>.*)", re.S)


def tool_name(endpoint: str, session: str | None = None) -> str:
    """`/predict` -> `predict`; with several sessions served, `session_predict`. Within MCP's
    name rules ([A-Za-z0-9_.-], at most 128)."""
    name = _NOT_NAME.sub("_", endpoint.strip("/")).strip("_") or "endpoint"
    if session is not None:
        name = f"{_NOT_NAME.sub('_', session).strip('_')}_{name}"
    return name[:128]


FILE_HELP = "A file: a local path, a URL, or base64 data as `data:MIME;base64,...`."


def parameter_schema(p: Parameter) -> dict[str, Any]:
    """A parameter's JSON schema for an agent: the app's, with its label, choices and bounds."""
    if p.file:
        one = {"type": "string", "description": FILE_HELP}
        schema: dict[str, Any] = one if p.file == "one" else {"type": "array", "items": one}
    else:
        schema = {k: v for k, v in p.schema.items() if k not in ("title", "$defs", "additionalProperties")} \
            if isinstance(p.schema, dict) else {}
        if p.open_choices:
            schema.pop("enum", None)
    for bound in ("minimum", "maximum"):
        if p.limits and bound in p.limits:
            schema[bound] = p.limits[bound]
    if p.label:
        schema["title"] = p.label
    what = " ".join(str(x) for x in (p.component, repr(p.label) if p.label else "") if x)
    description = "; ".join(str(x) for x in (schema.get("description"), what) if x)
    if description:
        schema["description"] = description
    if p.has_default:
        schema["default"] = p.default
    return schema


def input_schema(ep: Endpoint) -> dict[str, Any]:
    """The endpoint's arguments by their names in the app's API (hidden `gr.State` is not one)."""
    return {"type": "object", "properties": {p.name: parameter_schema(p) for p in ep.parameters},
            "required": [p.name for p in ep.parameters if not p.has_default], "additionalProperties": False}


def tool(name: str, ep: Endpoint, description: str) -> types.Tool:
    return types.Tool(name=name, description=description, input_schema=input_schema(ep))


def carries_data(ep: Endpoint, arguments: dict[str, Any]) -> bool:
    """Whether a file argument is given as base64 data."""
    def data(value: Any) -> bool:
        return isinstance(value, str) and value.startswith("data:") or \
            isinstance(value, list) and any(isinstance(v, str) and v.startswith("data:") for v in value)

    return any(data(arguments.get(p.name)) for p in ep.parameters if p.file)


def files_in(ep: Endpoint, arguments: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Base64 files written into `folder` (the session's downloads) as local files to upload;
    paths and URLs pass as they are."""
    kinds = {p.name: p.file for p in ep.parameters if p.file}

    def one(name: str, value: Any) -> Any:
        if not isinstance(value, str) or is_url(value) or not value.startswith("data:"):
            return value
        found = _DATA.fullmatch(value)
        if not found:
            raise ParameterError(f"{name}: a file as data must be `data:MIME;base64,...`.")
        try:
            data = base64.b64decode(found["data"], validate=True)
        except (binascii.Error, ValueError):
            raise ParameterError(f"{name}: its data is not base64.") from None
        suffix = mimetypes.guess_extension(found["mime"] or "") or ".bin"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}-{uuid.uuid4().hex[:8]}{suffix}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return str(path)

    out = {}
    for name, value in arguments.items():
        if kinds.get(name) == "many" and isinstance(value, list):
            out[name] = [one(name, v) for v in value]
        else:
            out[name] = one(name, value) if name in kinds else value
    return out


def text_block(text: str) -> types.TextContent:
    """Text content for the agent."""
    return types.TextContent(type="text", text=text)


def _file(path: Path, value: dict[str, Any]) -> list[types.ContentBlock]:
    """A downloaded file: inline when an image or audio of reasonable size, else a link; its
    local path said either way."""
    mime = value.get("mime_type") or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    size = path.stat().st_size
    said = text_block(f"file: {path}")
    if mime.startswith(("image/", "audio/")) and size <= INLINE_MOST:
        data = base64.b64encode(path.read_bytes()).decode()
        media: types.ContentBlock = types.ImageContent(type="image", data=data, mime_type=mime) \
            if mime.startswith("image/") else types.AudioContent(type="audio", data=data, mime_type=mime)
        return [media, said]
    return [types.ResourceLink(type="resource_link", uri=path.as_uri(), name=path.name, mime_type=mime, size=size),
            said]


async def _local(value: Any) -> Path | None:
    """The local copy of a file of the result: only a recorded download (a path an app gave, even
    one naming a file here, is the app's and never read)."""
    return await aio.local_file(value) if isinstance(value, dict) else None


async def result(outputs: Any) -> types.CallToolResult:
    """A call's outputs as content: strings as text, files as images, audio or links, anything
    else as JSON text and `structuredContent` ({"result": [the outputs]})."""
    values = outputs if isinstance(outputs, list) else [outputs]
    content: list[types.ContentBlock] = []
    structured = False
    for value in values:
        many = value if isinstance(value, list) and value else [value]  # a file, or a list of files
        local = [path for path in [await _local(v) for v in many] if path is not None]
        if isinstance(value, str):
            content.append(text_block(value))
        elif len(local) == len(many):
            content += [block for path, v in zip(local, many) for block in _file(path, v)]
        else:
            structured = True
            content.append(text_block(json.dumps(value, ensure_ascii=False, default=str)))
    return types.CallToolResult(content=content or [text_block("(no output)")],
                                structured_content={"result": values} if structured else None)


def error(message: str) -> types.CallToolResult:
    """A tool error the agent reads (`isError`): bad arguments, the app's error, a lost call."""
    return types.CallToolResult(content=[text_block(message)], is_error=True)
