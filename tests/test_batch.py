"""Batches: `Session.map` in Python, `gradio-session batch` over JSON Lines, CSV and Parquet,
resumed after SIGKILL at random points, replicas sharing rows (one slow, one dying), the Dask
engine on a LocalCluster of two worker processes. Real Gradio apps throughout; the batch app
logs every execution, so a test can tell how many times each input ran."""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import gradio_session as gs
from conftest import APPS, AppServer, cli, on_a_terminal, wait_for

BATCH_APP = APPS / "batch_app.py"


@pytest.fixture(scope="module")
def batch_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppServer, Path]]:
    log = tmp_path_factory.mktemp("batch") / "runs.log"
    with AppServer(BATCH_APP, str(log)) as server:
        yield server, log


def _runs(log: Path) -> collections.Counter[str]:
    return collections.Counter(log.read_text().split()) if log.exists() else collections.Counter()


def _rows(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in path.read_text().splitlines()]


def _jsonl(path: Path, records: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _batch_calls(home: Path) -> int:
    with sqlite3.connect(home / "sessions.db") as db:
        return int(db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])


# -- Session.map ------------------------------------------------------------------------------


def test_map_yields_each_row_in_order_errors_as_results(batch_app: tuple[AppServer, Path], home: Path) -> None:
    s = gs.new_session(batch_app[0].url, name="m")
    rows = [f"r{i}" if i % 7 else f"bad{i}" for i in range(40)]
    results = list(s.map("check", rows, concurrency=6))
    assert [r.index for r in results] == list(range(40))
    assert [r.outputs for r in results if r.ok] == [[t.upper()] for t in rows if not t.startswith("bad")]
    bad = [r for r in results if not r.ok]
    assert len(bad) == 6 and all(r.error_type == "AppError" and "is bad" in (r.error or "") for r in bad)
    assert all(r.attempts == 1 for r in bad)  # an app's error is never retried
    with pytest.raises(gs.AppError, match="bad0 is bad"):
        list(s.map("check", ["ok", "bad0", "ok"], on_error="raise"))
    # a dict is named values, a tuple the values in order; a wrong one is that row's error
    mixed = list(s.map("check", [{"text": "a"}, ("b",), "c", {"nope": 1}]))
    assert [r.outputs for r in mixed[:3]] == [["A"], ["B"], ["C"]]
    assert mixed[3].error_type == "ParameterError"
    assert s.calls() == [] and _batch_calls(home) == 0  # the rows are the record, not the history


def test_map_reads_its_input_lazily(batch_app: tuple[AppServer, Path]) -> None:
    """An endless input: the first results come, and closing the map stops reading it."""
    s = gs.new_session(batch_app[0].url, name="lazy")
    pulled = [0]

    def endless() -> Iterator[str]:
        for i in itertools.count():
            pulled[0] = i
            yield f"x{i}"

    results = s.map("check", endless(), concurrency=4)
    first = list(itertools.islice(results, 30))
    results.close()
    assert [r.outputs for r in first] == [[f"X{i}"] for i in range(30)]
    assert pulled[0] < 30 + 2 * 4 + 64 + 1  # the results, the window, one chunk read ahead


def test_a_stateful_endpoint_runs_one_row_at_a_time(batch_app: tuple[AppServer, Path]) -> None:
    s = gs.new_session(batch_app[0].url, name="state")
    with pytest.warns(UserWarning, match="keeps state"):
        results = list(s.map("tally", ["a", "b", "c", "d"], concurrency=4))
    assert [r.outputs for r in results] == [["a:1"], ["b:2"], ["c:3"], ["d:4"]]


def test_the_async_map(batch_app: tuple[AppServer, Path]) -> None:
    async def rows() -> AsyncIterator[str]:
        for i in range(12):
            yield f"a{i}"

    async def main() -> list[gs.RowResult]:
        async with await gs.aio.new_session(batch_app[0].url, name="async-map") as s:
            return [r async for r in s.map("check", rows(), concurrency=3, ordered=False)]

    got = asyncio.run(main())
    assert sorted(r.index for r in got) == list(range(12))
    assert {r.outputs[0] for r in got} == {f"A{i}" for i in range(12)}


# -- the batch command ------------------------------------------------------------------------


def test_batch_cli_writes_a_row_per_input_and_a_run_again_skips_them(
        batch_app: tuple[AppServer, Path], tmp_path: Path, home: Path) -> None:
    server, _ = batch_app
    assert cli("new", server.url, "--name", "b").returncode == 0
    source = _jsonl(tmp_path / "in.jsonl", [{"text": f"t{i}", "note": "not a parameter"} for i in range(25)]
                    + [{"text": "bad-one"}])
    out = tmp_path / "out.jsonl"
    done = cli("batch", "check", "-i", str(source), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "26 rows" in done.stderr and "1 rows failed" in done.stderr
    rows = _rows(out)
    assert sorted(r["index"] for r in rows) == list(range(26))
    by_index = {r["index"]: r for r in rows}
    assert by_index[3]["outputs"] == ["T3"] and by_index[3]["status"] == "ok" and by_index[3]["session"] == "b"
    assert by_index[25]["status"] == "error" and "bad-one is bad" in by_index[25]["error"]
    again = cli("batch", "check", "-i", str(source), "-o", str(out), "--json")
    assert again.returncode == 0 and len(_rows(out)) == 26  # nothing ran twice, nothing written twice
    record = json.loads(again.stdout)
    assert (record["status"], record["done"], record["failed"], record["total"]) == ("complete", 26, 1, 26)
    listed = json.loads(cli("batches", "--json").stdout)
    assert [(b["id"], b["output"], b["status"]) for b in listed] == [(record["id"], str(out), "complete")]
    assert json.loads(cli("calls", "--json").stdout) == [] and _batch_calls(home) == 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_batch_killed_at_random_points_resumes_without_losing_or_repeating(
        seed: int, tmp_path: Path) -> None:
    """SIGKILL while rows run (twice, at points the seed picks), then the same command to the
    end: every row once in the output; each input ran once, or twice if in flight at a kill."""
    rng = random.Random(seed)
    log = tmp_path / "runs.log"
    concurrency, total = 6, 240
    with AppServer(BATCH_APP, str(log), "0.03") as server:
        assert cli("new", server.url, "--name", "k").returncode == 0
        source = _jsonl(tmp_path / "in.jsonl", [{"text": f"row{i}"} for i in range(total)])
        out = tmp_path / "out.jsonl"
        command = [sys.executable, "-m", "gradio_session", "batch", "echo", "-i", str(source), "-o", str(out),
                   "-c", str(concurrency)]
        kills = 0
        for _ in range(2):
            before = len(_rows(out)) if out.exists() else 0
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            at = before + rng.randrange(10, 80)
            wait_for(lambda: out.exists() and out.read_bytes().count(b"\n") >= at or proc.poll() is not None)
            time.sleep(rng.random() * 0.1)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
        listed = json.loads(cli("batches", "--json").stdout)
        assert listed[0]["status"] == "interrupted"  # its process is gone
        finish = cli("batch", "echo", "-i", str(source), "-o", str(out), "-c", str(concurrency), timeout=120)
        assert finish.returncode == 0, finish.stderr
        rows = _rows(out)
        assert sorted(r["index"] for r in rows) == list(range(total))
        assert all(r["status"] == "ok" and r["outputs"] == [f"row{r['index']}"] for r in rows)
        wait_for(lambda: sum(_runs(log).values()) >= total)
        runs = _runs(log)
        assert set(runs) == {f"row{i}" for i in range(total)}
        twice = [t for t, n in runs.items() if n > 1]
        assert max(runs.values()) <= 1 + kills and len(twice) <= concurrency * kills, twice


def test_a_torn_last_line_is_cut_and_its_row_redone(batch_app: tuple[AppServer, Path], tmp_path: Path) -> None:
    server, log = batch_app
    s = gs.new_session(server.url, name="torn")
    source = _jsonl(tmp_path / "in.jsonl", [{"text": f"torn{i}"} for i in range(10)])
    out = tmp_path / "out.jsonl"
    gs.batch.run(s, "echo", str(source), out)
    whole = out.read_bytes()
    last = json.loads(whole.splitlines()[-1])
    out.write_bytes(whole[:-15])  # as if killed while writing the last row
    record = gs.batch.run(s, "echo", str(source), out)
    assert record.done == 10 and sorted(r["index"] for r in _rows(out)) == list(range(10))
    assert _runs(log)[f"torn{last['index']}"] == 2 and _runs(log)["torn0" if last["index"] else "torn1"] == 1


def test_replicas_share_the_rows_and_a_slow_one_takes_fewer(tmp_path: Path) -> None:
    with AppServer(BATCH_APP, str(tmp_path / "fast.log"), "0.01") as fast, \
            AppServer(BATCH_APP, str(tmp_path / "slow.log"), "0.4") as slow:
        gs.new_session(fast.url, name="fast")
        gs.new_session(slow.url, name="slow")
        source = _jsonl(tmp_path / "in.jsonl", [{"text": f"s{i}"} for i in range(120)])
        out = tmp_path / "out.jsonl"
        done = cli("batch", "echo", "-i", str(source), "-o", str(out), "-s", "fast", "-s", "slow", "-c", "2",
                   timeout=120)
        assert done.returncode == 0, done.stderr
        share = collections.Counter(r["session"] for r in _rows(out))
        assert sum(share.values()) == 120 and 0 < share["slow"] < share["fast"] / 3, share


def test_a_replica_that_dies_mid_run_leaves_its_rows_to_the_others(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    with AppServer(BATCH_APP, str(log), "0.05") as steady:
        dying = AppServer(BATCH_APP, str(log), "0.05")
        try:
            a = gs.new_session(steady.url, name="steady")
            b = gs.new_session(dying.url, name="dying")
            source = _jsonl(tmp_path / "in.jsonl", [{"text": f"d{i}"} for i in range(150)])
            out = tmp_path / "out.jsonl"
            killer = threading.Thread(target=lambda: (
                wait_for(lambda: out.exists() and out.read_bytes().count(b"\n") >= 30), dying.stop()))
            killer.start()
            record = gs.batch.run([a, b], "echo", str(source), out, concurrency=3)
            killer.join()
        finally:
            dying.stop()
        rows = _rows(out)
        assert record.status == "complete" and record.failed == 0
        assert sorted(r["index"] for r in rows) == list(range(150)) and all(r["status"] == "ok" for r in rows)
        share = collections.Counter(r["session"] for r in rows)
        assert share["dying"] >= 10 and share["steady"] > share["dying"], share


def test_csv_and_parquet_inputs_with_file_columns(batch_app: tuple[AppServer, Path], tmp_path: Path) -> None:
    """CSV: relative paths (the input's folder) and a key column; Parquet: an absolute path and
    a URL (sent as one). The result files are downloaded into the session's folder, their local path written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    server, _ = batch_app
    s = gs.new_session(server.url, name="files", download_path=str(tmp_path / "got"))
    data = tmp_path / "data"
    data.mkdir()
    for i in range(3):
        (data / f"doc{i}.txt").write_text(f"doc number {i}")
    (data / "in.csv").write_text("id,doc\n" + "".join(f"k{i},doc{i}.txt\n" for i in range(3)))
    out = tmp_path / "csv.jsonl"
    done = cli("batch", "shout", "-i", str(data / "in.csv"), "-o", str(out), "--map", "doc=path", "--key", "id",
               "-s", "files", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = {r["key"]: r for r in _rows(out)}
    assert set(rows) == {"k0", "k1", "k2"}
    loud = Path(rows["k1"]["outputs"][0]["path"])
    assert loud.read_text() == "DOC NUMBER 1" and loud.is_relative_to(tmp_path / "got")
    url = rows["k2"]["outputs"][0]["url"]
    assert url.startswith(server.url)

    table = pa.table({"path": [str(data / "doc0.txt"), url], "text": ["x", "y"]})
    pq.write_table(table, tmp_path / "in.parquet")
    record = gs.batch.run(s, "shout", str(tmp_path / "in.parquet"), tmp_path / "out.parquet")
    assert record.done == 2 and not (tmp_path / "out.parquet.rows.jsonl").exists()
    got = pq.read_table(tmp_path / "out.parquet").to_pylist()
    by_index = {r["index"]: r for r in got}
    assert Path(json.loads(by_index[0]["outputs"])[0]["path"]).read_text() == "DOC NUMBER 0"
    # a URL goes to the app as a URL: this Gradio fetches none from 127.0.0.1 (its SSRF guard)
    assert by_index[1]["error_type"] == "AppError" and "127.0.0.1 failed validation" in by_index[1]["error"]
    again = gs.batch.run(s, "shout", str(tmp_path / "in.parquet"), tmp_path / "out.parquet")
    assert again.done == 2 and pq.read_table(tmp_path / "out.parquet").num_rows == 2


def test_dask_engine_on_a_local_cluster_of_two_workers(batch_app: tuple[AppServer, Path], tmp_path: Path) -> None:
    """Each worker opens its own session on the app (its own session_hash), recorded under the
    batch; the rows come back to the one output file."""
    from distributed import Client, LocalCluster

    server, log = batch_app
    s = gs.new_session(server.url, name="parent")
    source = _jsonl(tmp_path / "in.jsonl", [{"text": f"dask{i}"} for i in range(120)])
    out = tmp_path / "out.jsonl"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        record = gs.batch.run(s, "echo", str(source), out, engine="dask", client=client, concurrency=4)
    rows = _rows(out)
    assert sorted(r["index"] for r in rows) == list(range(120)) and all(r["status"] == "ok" for r in rows)
    assert record.engine == "dask" and len(record.workers) == 2
    hashes = {w["session_hash"] for w in record.workers}
    assert s.record.session_hash not in hashes and len(hashes) == 2
    assert {r["session"] for r in rows} == {w["session"] for w in record.workers}
    assert all(_runs(log)[f"dask{i}"] == 1 for i in range(120))
    assert gs.list_sessions() and [x.name for x in gs.list_sessions()] == ["parent"]  # workers' are elsewhere


def test_dask_refuses_a_stateful_endpoint(batch_app: tuple[AppServer, Path], tmp_path: Path) -> None:
    assert cli("new", batch_app[0].url, "--name", "st").returncode == 0
    source = _jsonl(tmp_path / "in.jsonl", [{"text": "a"}])
    refused = cli("batch", "tally", "-i", str(source), "-o", str(tmp_path / "o.jsonl"), "--engine", "dask")
    assert refused.returncode == 1 and "keeps state" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_rate_caps_the_calls_per_second(batch_app: tuple[AppServer, Path], tmp_path: Path) -> None:
    s = gs.new_session(batch_app[0].url, name="rate")
    started = time.monotonic()
    results = list(s.map("check", [f"q{i}" for i in range(16)], rate=10, concurrency=8))
    assert len(results) == 16 and time.monotonic() - started >= 1.4  # 16 starts at most 10 per second
    with pytest.raises(gs.ParameterError, match="rate must be a positive number"):
        list(s.map("check", ["x"], rate=0))


def test_bad_batches_say_so_in_one_line(batch_app: tuple[AppServer, Path], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("new", batch_app[0].url, "--name", "bad").returncode == 0
    source = _jsonl(tmp_path / "in.jsonl", [{"words": "a"}])
    out = str(tmp_path / "o.jsonl")
    cases = {
        ("-i", str(tmp_path / "missing.jsonl"), "-o", out): "is not a file",
        ("-i", str(source), "-o", str(tmp_path / "o.txt")): ".jsonl, .csv or .parquet",
        ("-i", str(source), "-o", str(tmp_path / "o.csv")): "not CSV",
        ("-i", str(source), "-o", out): "No column of the input is a parameter",
        ("-i", str(source), "-o", out, "--map", "words=nope"): "has no parameter 'nope'",
        ("-i", str(source), "-o", out, "--map", "other=text"): "no column 'other'",
    }
    for args, message in cases.items():
        r = cli("batch", "check", *args)
        assert r.returncode == 1 and message in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    good = _jsonl(tmp_path / "good.jsonl", [{"text": "a"}])
    assert cli("batch", "check", "-i", str(good), "-o", out).returncode == 0
    other = cli("batch", "echo", "-i", str(good), "-o", out)  # the output of another batch
    assert other.returncode == 1 and "holds the rows of another batch" in other.stderr
    from gradio_session.batch.sources import need_pyarrow

    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(gs.BatchError, match=r"gradio-session\[batch\]"):
        need_pyarrow()


def test_one_process_at_a_time_writes_an_output(batch_app: tuple[AppServer, Path], tmp_path: Path,
                                                home: Path) -> None:
    assert cli("new", batch_app[0].url, "--name", "lock").returncode == 0
    source = _jsonl(tmp_path / "in.jsonl", [{"text": f"l{i}"} for i in range(400)])
    out = tmp_path / "o.jsonl"
    first = subprocess.Popen([sys.executable, "-m", "gradio_session", "batch", "echo", "-i", str(source), "-o",
                              str(out), "-c", "2"], stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: out.exists() and out.stat().st_size > 0)
        second = cli("batch", "echo", "-i", str(source), "-o", str(out))
        assert second.returncode == 1 and "Another process runs the batch" in second.stderr
    finally:
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=60)
    assert first.returncode == 130 and "run the same command again to resume" in err
    assert json.loads(cli("batches", "--json").stdout)[0]["status"] == "interrupted"
    rows = _rows(out)
    assert 0 < len(rows) < 400 and len({r["index"] for r in rows}) == len(rows)
    assert _batch_calls(home) == 0


def test_on_a_terminal_a_progress_bar_counts_the_rows(batch_app: tuple[AppServer, Path], tmp_path: Path) -> None:
    """stderr a terminal: a Rich bar with the endpoint, done/total, rate, ETA and the failures."""
    assert cli("new", batch_app[0].url, "--name", "bar").returncode == 0
    source = _jsonl(tmp_path / "in.jsonl", [{"text": f"p{i}" if i % 10 else f"bad{i}"} for i in range(60)])
    r, shown = on_a_terminal("batch", "check", "-i", str(source), "-o", str(tmp_path / "out.jsonl"),
                             env={"COLUMNS": "160"})
    assert r.returncode == 0, shown
    assert "/check" in shown and "60/60" in shown and "rows/s" in shown and "ETA" in shown, shown
    assert "6 failed" in shown and "retrying" in shown, shown
