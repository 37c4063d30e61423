"""The CLI's batch commands: `batch` (a dataset through an endpoint, resumable) and `batches`."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import click

from .common import _run, app, complete_endpoints, complete_sessions, json_option
from .output import Output, markup_free

if TYPE_CHECKING:
    from ..models import BatchRecord

REFRESH = 0.2  # seconds between redraws of the progress bar


def _pairs(maps: tuple[str, ...]) -> dict[str, str]:
    pairs = {}
    for item in maps:
        column, sep, param = item.partition("=")
        if not sep or not column or not param:
            raise click.BadParameter(f"{item!r} is not COLUMN=PARAMETER.", param_hint="'--map'")
        pairs[column] = param
    return pairs


def _rate(text: str | None) -> float | None:
    if text is None:
        return None
    number = text.removesuffix("/s")
    try:
        rate = float(number)
    except ValueError:
        rate = 0.0
    if not rate > 0:
        raise click.BadParameter(f"{text!r} is not a number of calls per second (5, 0.5, 5/s).", param_hint="'--rate'")
    return rate


@app.command()
@click.argument("endpoint", shell_complete=complete_endpoints, help="Endpoint name, with or without the leading '/'.")
@click.option("--input", "-i", "input_", required=True, metavar="FILE",
              help="JSON Lines, CSV or Parquet (by suffix), or - for JSON Lines on stdin.")
@click.option("--output", "-o", required=True, metavar="FILE",
              help="JSON Lines or Parquet: a row per input row. Run again with it to resume.")
@click.option("--map", "maps", multiple=True, metavar="COLUMN=PARAM",
              help="Feed parameter PARAM from input column COLUMN (default: columns named as parameters).")
@click.option("--key", metavar="COLUMN", help="The column naming each row (default: its index in the input).")
@click.option("--concurrency", "-c", type=click.IntRange(min=1), default=8, show_default=True,
              help="Calls in flight per session.")
@click.option("--retries", type=click.IntRange(min=0), default=3, show_default=True,
              help="Tries again after a transient failure (queue full, connection lost), never an app error.")
@click.option("--rate", metavar="R/s", help="At most R calls per second.")
@click.option("--session", "-s", "sessions", multiple=True, metavar="NAME", shell_complete=complete_sessions,
              help="Session (default: the default one); repeat for replicas of one app sharing the rows.")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="dask: partitions on Dask workers, each with its own session on the app.")
@click.option("--scheduler", metavar="ADDRESS", help="With --engine dask: its scheduler (default: a LocalCluster).")
@click.option("--force", is_flag=True, help="With --engine dask: run an endpoint that keeps state (gr.State) anyway.")
@json_option
def batch(endpoint: str, input_: str, output: str, maps: tuple[str, ...], key: str | None, concurrency: int,
          retries: int, rate: str | None, sessions: tuple[str, ...], engine: str, scheduler: str | None,
          force: bool, json_: bool) -> None:
    """Run a dataset through an endpoint: one output row per input row (status, outputs, error,
    duration), result files downloaded into the session's folder. Killed or stopped, the same
    command resumes: rows already in the output are skipped, a torn last line is redone."""
    from .. import aio
    from ..batch import MapStats, arun

    out = Output(json_)
    mapping, per_s = _pairs(maps), _rate(rate)
    stats = MapStats()
    started = time.monotonic()
    before = [0]

    async def run() -> BatchRecord:
        chosen = [await aio.get_session(name) for name in (sessions or (".",))]
        try:
            with _Bar(out, stats) as shown:
                def on_start(record: BatchRecord, done: int) -> None:
                    before[0] = done
                    shown(record, done)

                return await arun(list(chosen), endpoint, input_, output, mapping=mapping, key=key,
                                  concurrency=concurrency, retries=retries, rate=per_s,
                                  engine="dask" if engine == "dask" else "local", scheduler=scheduler,
                                  force=force, stats=stats, on_start=on_start)
        finally:
            for s in chosen:
                await s.aclose()

    try:
        record = _run(run())
    except KeyboardInterrupt:
        out.notice(f"Stopped after {stats.done} rows: run the same command again to resume.")
        raise
    if json_:
        out.data(record.to_dict())
        return
    ran, seconds = stats.done - before[0], time.monotonic() - started
    earlier = f"; {before[0]} written before" if before[0] else ""
    out.message(f"Batch {record.id}: {record.done} rows in {record.output} ({record.done - record.failed} ok, "
                f"{record.failed} failed{earlier}); {ran} ran in {seconds:.1f} s"
                + (f", {ran / seconds:.0f} rows/s." if ran and seconds else "."))
    if record.failed:
        out.warning(f"{record.failed} rows failed: their error is in the output (status \"error\").")


class _Bar:
    """A Rich bar on a terminal (rate, ETA, done/failed/retrying), redrawn from the counts."""

    def __init__(self, out: Output, stats: Any) -> None:
        self.out, self.stats = out, stats
        self.bar: Any = None
        self.task: Any = None
        self.poller: Any = None

    def __enter__(self) -> Any:
        return self.shown

    def shown(self, record: BatchRecord, done: int) -> None:
        if not self.out.live:
            return
        import asyncio

        from rich.progress import (
            BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TaskProgressColumn(), TextColumn("{task.fields[rate]} rows/s"), TimeElapsedColumn(),
                            TextColumn("ETA"), TimeRemainingColumn(),
                            TextColumn("[red]{task.fields[failed]} failed[/] {task.fields[retrying]} retrying"),
                            console=self.out.err, transient=False)
        self.task = self.bar.add_task(markup_free(record.endpoint), total=record.total, completed=done, rate="-",
                                      failed=0, retrying=0)
        self.bar.start()
        self.poller = asyncio.get_running_loop().create_task(self._poll(done))

    async def _poll(self, first: int) -> None:
        import asyncio

        start = time.monotonic()
        while True:
            s, elapsed = self.stats, time.monotonic() - start
            rate = f"{(s.done - first) / elapsed:.0f}" if elapsed > 1 else "-"
            self.bar.update(self.task, completed=s.done, rate=rate, failed=s.failed, retrying=s.retrying)
            await asyncio.sleep(REFRESH)

    def __exit__(self, *exc: object) -> None:
        if self.poller is not None:
            self.poller.cancel()
        if self.bar is not None:
            self.bar.update(self.task, completed=self.stats.done, failed=self.stats.failed, retrying=0)
            self.bar.stop()


@app.command()
@json_option
def batches(json_: bool) -> None:
    """List the batches run: status, rows done and failed, input and output."""
    from ..batch import alist_batches

    Output(json_).batches(_run(alist_batches()))
