"""Chaos: 300 calls of one session through a fault-injecting proxy in front of a real Gradio
app (see `chaos.py`). Every call returns its own result or fails with a clear error, none
hangs, and the app's own log shows that no input ran twice. Seeded: CHAOS_SEED replays a run's
choice of faults (the timing of concurrent calls still varies).

A call whose events were lost with a torn connection, while the server goes on holding the
session's stream open, can only end by its own timeout: Gradio does not send events again."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import gradio_session as gs
from chaos import ChaosProxy
from conftest import APPS, AppServer
from gradio_session import aio

SEED = int(os.environ.get("CHAOS_SEED", "20261128"))
TIMEOUT = 10.0  # each call's own timeout: a call whose events were lost with a torn stream ends there
HANG = TIMEOUT + 30.0  # seconds after which a call counts as hung: its timeout, its cancel, and a margin


@pytest.fixture
def counted(tmp_path: Path) -> Iterator[tuple[AppServer, Path]]:
    log = tmp_path / "executions.log"
    log.touch()
    with AppServer(APPS / "count_app.py", str(log)) as server:
        yield server, log


async def _one(s: aio.Session, text: str) -> tuple[str, object]:
    """("ok", result) or ("error", the error); a call that outlives HANG fails the test."""
    async def call() -> object:
        return await (await s.invoke("echo", text)).result(timeout=TIMEOUT)

    try:
        return "ok", await asyncio.wait_for(call(), HANG)
    except asyncio.TimeoutError:
        pytest.fail(f"the call {text} hung (seed {SEED})")
    except gs.GradioSessionError as exc:
        return "error", exc


def test_300_calls_through_a_chaos_proxy(counted: tuple[AppServer, Path]) -> None:
    app, log = counted
    with ChaosProxy(app.port, SEED) as proxy:
        async def scenario() -> dict[str, tuple[str, object]]:
            s = await aio.new_session(proxy.url, name="chaos")
            proxy.active = True
            outcomes = {}
            for i in range(100):
                outcomes[f"s{i}"] = await _one(s, f"s{i}")
            texts = [f"c{i}" for i in range(200)]
            outcomes.update(zip(texts, await asyncio.gather(*(_one(s, t) for t in texts))))
            proxy.active = False
            await s.aclose()
            return outcomes

        outcomes = asyncio.run(scenario())
    errors = Counter(f"{t[0]}:{type(v).__name__}" for t, (kind, v) in outcomes.items() if kind == "error")
    report = f"seed {SEED}, faults {dict(proxy.injected)}, errors {dict(errors)}"
    assert sum(proxy.injected.values()) >= 10, report  # the proxy really did misbehave
    ok = {t for t, (kind, _) in outcomes.items() if kind == "ok"}
    for text, (kind, value) in outcomes.items():
        if kind == "ok":
            assert value == [text], f"{text} got {value!r} ({report})"
        else:  # a clear error: one of ours, with a message saying what happened
            assert isinstance(value, gs.GradioSessionError) and len(str(value)) > 20, f"{text}: {value!r}"
    assert len(ok) >= 100, f"only {len(ok)} of 300 calls succeeded ({report})"
    runs = Counter(log.read_text().split())
    assert {t for t, n in runs.items() if n > 1} == set(), f"inputs ran twice ({report})"
    assert ok <= set(runs), report  # every result came from a real execution
    records = gs.get_session("chaos").calls()
    assert sum(c.status == "complete" for c in records) == len(ok), report
    assert {c.status for c in records} <= {"complete", "failed", "timed_out", "cancelled"}, report
    print(report)
