"""`call B --map NAME=INDEX`: a call fed by the outputs of the call whose JSON events
(`gradio-session call A ... --json`) come on stdin - its result, or with `--each` also each of
its partial results as they come (the call started from the previous one cancelled)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from .common import _get

if TYPE_CHECKING:
    from ..aio import Call as AsyncCall
    from ..aio import Session as AsyncSession
    from ..models import Endpoint
    from .output import Output

HINT = "pipe `gradio-session call ENDPOINT ... --json` into it"


def mapping(maps: tuple[str, ...], ep: Endpoint, args: list[Any], kwargs: dict[str, Any]) -> dict[str, int]:
    """`NAME=INDEX` words -> {parameter: output index}; a parameter also given a value is refused."""
    out: dict[str, int] = {}
    for item in maps:
        name, _, index = item.partition("=")
        if not name or not index.lstrip("-").isdigit():
            raise click.BadParameter(f"{item!r}: give NAME=INDEX (an output's index).", param_hint="'--map'")
        out[name] = int(index)
    both = sorted(set(out) & set(kwargs)) or [p.name for p in ep.parameters[:len(args)] if p.name in out]
    if both:
        raise click.BadParameter(f"{', '.join(both)}: given a value and mapped from stdin; choose one.",
                                 param_hint="'--map'")
    if sys.stdin.isatty():
        raise click.BadParameter(f"it reads a call's JSON events on stdin: {HINT}.", param_hint="'--map'")
    return out


async def fed(out: Output, s: AsyncSession, endpoint: str, args: list[Any], kwargs: dict[str, Any],
              mapped: dict[str, int], *, each: bool) -> tuple[dict[str, Any], dict[str, str] | None]:
    """Read stdin to its end: the values the mapping takes from the call's result and that call
    (`{"session", "event_id"}`). With `each`, every `generating` event starts the endpoint with
    that partial result meanwhile, the call started before cancelled."""
    import asyncio

    lines: list[dict[str, Any]] = []
    current: AsyncCall | None = None
    loop = asyncio.get_running_loop()
    while raw := await loop.run_in_executor(None, sys.stdin.readline):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError as exc:
            raise click.BadParameter(f"stdin is not the JSON events of a call ({exc}): {HINT}.",
                                     param_hint="'--map'") from None
        lines.append(line)
        if each and isinstance(line, dict) and line.get("event") == "generating" and isinstance(line.get("data"), list):
            if current is not None and not current.done:
                await current.cancel()
            current = await s.invoke(endpoint, *args, **kwargs, **_taken(line["data"], mapped, s.endpoint(endpoint)))
            await _record(s, current, line)
            out.message(f"Started {current.event_id} from a partial result.", dim=True)
    if current is not None and not current.done:
        await current.cancel()
    last = await _result(lines, s.record.app_url)
    return _taken(last.get("data") or [], mapped, s.endpoint(endpoint)), _caller(last)


async def _result(lines: list[Any], app_url: str) -> dict[str, Any]:
    """The event holding the call's result: as the app gave it when that call's session is on
    this app (its files stay there), else as the call downloaded it (uploaded again)."""
    from ..errors import SessionNotFound

    ends = [line for line in lines if isinstance(line, dict) and line.get("event") in ("complete", "downloaded", "error")]
    if not ends:
        raise click.BadParameter(f"no call result on stdin: {HINT}.", param_hint="'--map'")
    last = ends[-1]
    if last["event"] == "error":
        raise click.BadParameter(f"the call on stdin failed ({last.get('data')}): nothing to map.", param_hint="'--map'")
    if last["event"] == "downloaded" and last.get("session"):
        try:
            upstream = await _get(last["session"])
        except SessionNotFound:
            return last
        if upstream.record.app_url == app_url:
            return next(line for line in reversed(ends) if line["event"] == "complete")
    return last


def _taken(results: list[Any], mapped: dict[str, int], ep: Endpoint) -> dict[str, Any]:
    """The mapped outputs, as the app's values (`Endpoint.from_app`: a path is the app's file)."""
    for key, at in mapped.items():
        if not -len(results) <= at < len(results):
            raise click.BadParameter(f"the call on stdin has {len(results)} output(s): {key}={at} names none.",
                                     param_hint="'--map'")
    return ep.from_app({key: results[at] for key, at in mapped.items()})


def _caller(line: dict[str, Any]) -> dict[str, str] | None:
    return {k: line[k] for k in ("session", "event_id") if k in line} or None


async def _record(s: AsyncSession, call: AsyncCall, line: dict[str, Any]) -> None:
    caller = _caller(line)
    if caller:
        await s.store.run(s.repository.set_fed_by, s.id, call.event_id, caller)
