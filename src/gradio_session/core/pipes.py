"""Pipelines: the outputs of one call feed parameters of another, on the same app or another.

A file output passes on as the FileData the upstream app gave when both endpoints are on the
same app (nothing downloaded or uploaded again); to another app it is downloaded, then uploaded.
A path an app gives is its own: never a file of this machine to upload (see `Endpoint.from_app`). Each
call fed this way records which call fed it (`CallRecord.fed_by`)."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from ..binding import bind
from ..errors import ParameterError
from ..models import Endpoint, SessionRecord
from ..store.repository import Repository
from ..store.worker import StoreWorker
from .call import AsyncCall

Policy = Literal["last", "each"]


class Downstream(Protocol):
    """What a pipeline needs of the session it starts calls in (`session.AsyncSession`)."""

    record: SessionRecord
    store: StoreWorker

    @property
    def id(self) -> str: ...

    @property
    def repository(self) -> Repository: ...

    def endpoint(self, name: str) -> Endpoint: ...

    async def invoke(self, endpoint: str, *args: Any, **kwargs: Any) -> AsyncCall: ...


async def feed(down: Downstream, endpoint: str, up: AsyncCall, mapping: dict[str, int],
               values: dict[str, Any] | None = None, policy: Policy = "last") -> AsyncCall:
    """Start `endpoint` of `down` with `mapping` (parameter -> the upstream output's index) and
    `values`, once the upstream call has its result (`last`), or again at each of its
    `generating` events, the previous downstream call cancelled (`each`); the downstream call
    started from the final result is returned."""
    if policy not in ("last", "each"):
        raise ParameterError(f"policy is 'last' or 'each', not {policy!r}.")
    ep, upstream = down.endpoint(endpoint), up.session
    outputs = len(upstream.endpoint(up.endpoint).returns)
    for name, index in mapping.items():
        if not isinstance(index, int) or isinstance(index, bool) or not -outputs <= index < outputs:
            raise ParameterError(f"{up.endpoint} has {outputs} output(s): {name}={index!r} names none of them.")
    fixed = dict(values or {})
    both = sorted(set(fixed) & set(mapping))
    if both:
        raise ParameterError(f"{', '.join(both)}: given a value and fed from {up.endpoint}; choose one.")
    same_app = upstream.record.app_url == down.record.app_url
    fed_by = {"session": upstream.name, "event_id": up.event_id}

    async def start(results: list[Any]) -> AsyncCall:
        fed = ep.from_app({n: results[i] for n, i in mapping.items()})
        call = await down.invoke(ep.name, *bind(ep, (), {**fixed, **fed}))
        await down.store.run(down.repository.set_fed_by, down.id, call.event_id, fed_by)
        return call

    current: AsyncCall | None = None
    if policy == "each":
        async for event in up.events():
            if event.name == "generating" and isinstance(event.data, list) and len(event.data) == outputs:
                if current is not None and not current.done:
                    await current.cancel()
                current = await start(event.data if same_app else await _local(up, event.data))
    results = await up.result(download=not same_app)
    if current is not None and not current.done:
        await current.cancel()
    return await start(results)


async def _local(up: AsyncCall, data: list[Any]) -> list[Any]:
    """A partial result's files downloaded, for an app that can't read them where they are."""
    folder = await up.session.download_folder(None)
    return list(await up.session.download(data, folder))

