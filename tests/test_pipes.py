"""Pipelines: one call's outputs feed another's parameters, on the same app or across two
(a file in between), in Python (`s.api.<endpoint>.map_from`) and on the command line (`--map`)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import gradio_session as gs
from conftest import DEMO_APP, AppServer, cli


@pytest.fixture(scope="module")
def other_app() -> Iterator[AppServer]:
    """A second app (the demo app again, on another port)."""
    with AppServer(DEMO_APP) as server:
        yield server


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "sample.txt"
    path.write_text("abc def")
    return path


def test_a_file_from_one_app_to_another(demo_app: AppServer, other_app: AppServer, sample: Path) -> None:
    """Downloaded from the first app, uploaded to the second; the downstream call records its feeder."""
    a, b = gs.new_session(demo_app.url, name="a"), gs.new_session(other_app.url, name="b")
    up = a.api.reverse_file.invoke(sample)
    down = b.api.reverse_file.map_from(up, path=0)
    (out,) = down.result()
    assert Path(out["path"]).read_text() == "abc def"  # reversed twice
    assert b.get_call_record(down.event_id).fed_by == {"session": "a", "event_id": up.event_id}
    assert len(b.uploads()) == 1 and json.loads(cli("calls", "--json", "--session", "b").stdout)[0]["fed_by"] == \
        {"session": "a", "event_id": up.event_id}


def test_a_file_on_the_same_app_is_not_moved(demo_app: AppServer, sample: Path) -> None:
    a = gs.new_session(demo_app.url, name="same")
    up = a.api.reverse_file.invoke(sample)
    (out,) = a.api.reverse_file.map_from(up, path=0).result()
    assert Path(out["path"]).read_text() == "abc def"
    assert [u.local_path for u in a.uploads()] == [str(sample)]  # only the first call's file went up


def test_each_partial_result_feeds_the_next_call(demo_app: AppServer) -> None:
    """`each`: every `generating` event of the upstream generator starts the downstream call
    again (the one before cancelled); the call returned is fed the final result."""
    s = gs.new_session(demo_app.url, name="each")
    up = s.api.stream.invoke(4)
    last = s.api.echo.map_from(up, text=0, policy="each", values={"times": 2})
    assert last.result() == ["0 1 2 3 0 1 2 3 "]
    fed = [c for c in s.calls() if c.endpoint == "/echo"]
    assert len(fed) == 5 and all(c.fed_by == {"session": "each", "event_id": up.event_id} for c in fed)  # 4 partial, 1 final
    assert fed[-1].event_id == last.event_id and fed[-1].status == "complete"
    assert all(c.status in ("complete", "cancelled") for c in fed)


def test_the_async_api_too(demo_app: AppServer) -> None:
    async def main() -> None:
        async with await gs.aio.new_session(demo_app.url, name="pipe-aio") as s:
            up = await s.api.add.invoke(2, 3)
            down = await s.api.echo.map_from(up, times=0, values={"text": "ab"})
            assert await down.result() == ["ababababab"]

    asyncio.run(main())


def test_mappings_that_cant_be(demo_app: AppServer) -> None:
    s = gs.new_session(demo_app.url, name="bad-map")
    up = s.api.add.invoke(1, 2)
    with pytest.raises(gs.ParameterError, match=r"/add has 1 output\(s\): text=3 names none of them"):
        s.api.echo.map_from(up, text=3)
    with pytest.raises(gs.ParameterError, match=r"echo\(\) has no parameter 'txt'"):
        s.api.echo.map_from(up, txt=0)
    with pytest.raises(gs.ParameterError, match="given a value and fed from /add"):
        s.api.echo.map_from(up, times=0, values={"times": 2})
    with pytest.raises(gs.ParameterError, match="policy is 'last' or 'each'"):
        s.api.echo.map_from(up, text=0, policy="first")


def _piped(upstream: subprocess.CompletedProcess[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gradio_session", *args], input=upstream.stdout,
                          capture_output=True, text=True, timeout=60, env=os.environ)


def test_the_cli_pipes_json_events_into_another_call(demo_app: AppServer, other_app: AppServer,
                                                     sample: Path) -> None:
    gs.new_session(demo_app.url, name="a")
    gs.new_session(other_app.url, name="b")
    up = cli("call", "reverse_file", str(sample), "--session", "a", "--json")
    lines = [json.loads(line) for line in up.stdout.splitlines()]
    assert up.returncode == 0 and all(line["session"] == "a" and line["event_id"] for line in lines)
    down = _piped(up, "call", "reverse_file", "--map", "path=0", "--session", "b")
    assert down.returncode == 0, down.stderr
    assert Path(json.loads(down.stdout)["path"]).read_text() == "abc def"
    (record,) = json.loads(cli("calls", "--json", "--session", "b").stdout)
    assert record["fed_by"] == {"session": "a", "event_id": lines[0]["event_id"]}
    gs.new_session(demo_app.url, name="a2")  # on the first app: its file is passed as the app gave it
    down = _piped(up, "call", "reverse_file", "--map", "path=0", "--session", "a2")
    assert down.returncode == 0 and Path(json.loads(down.stdout)["path"]).read_text() == "abc def", down.stderr
    assert gs.get_session("a2").uploads() == []
    r = _piped(up, "call", "reverse_file", "--map", "path=1", "--session", "b")
    assert r.returncode == 2 and "has 1 output(s): path=1 names none" in r.stderr
    r = _piped(subprocess.CompletedProcess([], 0, stdout=""), "call", "reverse_file", "--map", "path=0", "--session", "b")
    assert r.returncode == 2 and "no call result on stdin" in r.stderr
    r = _piped(up, "call", "reverse_file", str(sample), "--map", "path=0", "--session", "b")
    assert r.returncode == 2 and "given a value and mapped from stdin" in r.stderr


def test_the_cli_starts_the_call_at_each_partial_result(demo_app: AppServer) -> None:
    s = gs.new_session(demo_app.url, name="each-cli")
    up = cli("call", "stream", "4", "--session", "each-cli", "--json")
    event_id = json.loads(up.stdout.splitlines()[0])["event_id"]
    down = _piped(up, "call", "echo", "--map", "text=0", "--each", "--session", "each-cli")
    assert down.returncode == 0 and down.stdout == "0 1 2 3 \n", down.stderr
    assert down.stderr.count("from a partial result") == 4
    fed = [c for c in s.calls() if c.endpoint == "/echo"]
    assert len(fed) == 5 and all(c.fed_by == {"session": "each-cli", "event_id": event_id} for c in fed)
    assert fed[-1].status == "complete" and all(c.status in ("complete", "cancelled") for c in fed)
    r = cli("call", "echo", "--each", "--session", "each-cli")
    assert r.returncode == 2 and "--each goes with --map" in r.stderr
