"""The CLI's one output sink: human text (Rich) or JSON for scripts; messages go to stderr."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

import click

from .terminal import current

if TYPE_CHECKING:
    from rich.console import Console

    from ..models import Endpoint, Event, Login, SessionRecord, UploadRecord

BAR_FROM = 4 * 1024 * 1024  # bytes: smaller transfers show no bar
STAGE_NEWS = {"SLEEPING": "asleep, waking it up", "STOPPED": "stopped, waking it up", "BUILDING": "building",
              "APP_STARTING": "starting", "RUNNING_APP_STARTING": "starting", "RUNNING": "running",
              "RUNNING_BUILDING": "running (a new build is under way)"}
LEVEL_COLORS = {"warning": "yellow", "error": "red", "success": "green"}
# what a terminal would obey or reorder rather than show: C0 controls but newline and tab, DEL,
# C1 controls, bidi marks and controls; and lone surrogates, which no stream can even encode
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(text: str) -> str:
    """An app's text as people may see it on a terminal: what a terminal would obey (escape
    sequences, a carriage return, a bidi override) written as a visible escape, `\\x1b`."""
    return _HIDDEN.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}",
                       text)


def _json_text(value: Any) -> str:
    """A value as JSON whose text holds no such character either: JSON escapes (`\\u001b`), the
    same data once parsed."""
    return _HIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", _jsonable(value))


def _cells(*values: Any) -> list[Any]:
    """Table cells as plain text: never read as Rich markup, never raw on the terminal."""
    from rich.text import Text

    return [Text(printable("" if v is None else str(v))) for v in values]


def _jsonable(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, default=str)


def _console(file: Any, width: int | None = None) -> Console:
    from rich.console import Console

    return Console(file=file, highlight=False, soft_wrap=True, width=width, _environ=dict(current().environ))


def _space_text(now: dict[str, Any]) -> str:
    """`RUNNING on cpu-basic`, `SLEEPING (t4-small asked, sleeps after 1 h idle)`, or why the Hub can't say."""
    if "error" in now:
        return now["error"]
    text = str(now["stage"]) + (f" on {now['hardware']}" if now.get("hardware") else "")
    asked = [f"{now['requested_hardware']} asked"] if now.get("requested_hardware") not in (None, now.get("hardware")) else []
    if now.get("sleep_time"):
        asked.append(f"sleeps after {_duration(now['sleep_time'])} idle")
    return text + (f" ({', '.join(asked)})" if asked else "")


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _table(**options: Any) -> Any:
    from rich.table import Table

    return Table(**options)


class Output:
    """Prints data for people or, with json=True, one JSON document (or line) per item.

    Lines are styled with click (ANSI codes, dropped when the stream is not a terminal); Rich is
    imported only for tables and for the live display of a call on a terminal."""

    def __init__(self, json_mode: bool = False) -> None:
        self.json = json_mode
        self.call: dict[str, str] = {}  # JSON event lines name their call: {"session", "event_id"}
        self.term = current()
        self.stdout, self.stderr = self.term.stdout, self.term.stderr

    @cached_property
    def out(self) -> Console:
        return _console(self.stdout, self.term.width)

    @cached_property
    def err(self) -> Console:
        return _console(self.stderr, self.term.width)

    @cached_property
    def live(self) -> bool:
        """Whether to show a live display: people's output on a terminal."""
        return not self.json and self.stderr.isatty()

    def data(self, value: Any) -> None:
        """Print a JSON document (json mode) - the caller renders human output itself."""
        self.stdout.write(_json_text(value) + "\n")
        self.stdout.flush()

    def _shown(self, text: str) -> str:
        """Data for stdout: exactly as it is into a pipe or a file, printable on a terminal."""
        return printable(text) if self.stdout.isatty() else text

    def line(self, text: str) -> None:
        """A line of data on stdout: exactly as it is (click.echo would drop what looks like a
        color code), but on a terminal (`printable`)."""
        self.stdout.write(self._shown(text) + "\n")
        self.stdout.flush()

    def message(self, text: str, *, dim: bool = False) -> None:
        """A human line to stderr; silent in json mode. Messages quote apps: always `printable`."""
        if not self.json:
            click.secho(printable(text), file=self.stderr, dim=dim)

    def notice(self, text: str) -> None:
        """A line to stderr, in json mode too."""
        click.echo(printable(text), file=self.stderr)

    def warning(self, text: str) -> None:
        click.echo(click.style("Warning:", fg="yellow") + f" {printable(text)}", file=self.stderr)

    def error(self, text: str) -> None:
        click.echo(click.style("Error:", fg="red", bold=True) + f" {printable(text)}", file=self.stderr)

    @contextmanager
    def status(self, text: str) -> Iterator[None]:
        """A spinner with a text on a terminal while something slow runs; nothing otherwise."""
        if not self.live:
            yield
            return
        with self.err.status(text, spinner="dots"):
            yield

    def dash_hint(self, exc: click.NoSuchOption, args: list[str]) -> None:
        """After click's "No such option: -x" from a command taking values (not a typo of one of
        its options): how to pass a value that starts with '-', as the command line fixed."""
        import shlex

        params = exc.ctx.command.params if exc.ctx else []
        if exc.possibilities or not any(isinstance(p, click.Argument) for p in params):
            return
        at = args.index(exc.option_name) if exc.option_name in args else len(args)
        options = {o: p for p in params if isinstance(p, click.Option) for o in (*p.opts, *p.secondary_opts)}
        before, values, rest = args[:at], list[str](), iter(args[at:])
        for arg in rest:  # the command's own options stay before `--`, with their values
            known = options.get(arg.split("=", 1)[0])
            (before if known else values).append(arg)
            if known and not known.is_flag and "=" not in arg:
                before.append(next(rest, ""))
        fixed = shlex.join(["gradio-session", *before, "--", *values])
        click.echo(f"To pass a value that starts with '-', put `--` before the values: {fixed}", file=self.stderr)

    def sessions(self, records: list[SessionRecord]) -> None:
        if self.json:
            self.data([r.to_dict() for r in records])
            return
        if not records:
            self.message("No sessions. Create one with `gradio-session new URL`.")
            return
        table = _table(box=None, pad_edge=False)
        for col in ("", "name", "app", "id", "download path"):
            table.add_column(col)
        for r in records:
            app = f"{r.space} (Space, {r.app_url})" if r.space else r.app_url
            table.add_row(*_cells("*" if r.is_default else "", r.name, app, r.id, r.download_path))
        self.out.print(table)

    def session(self, record: SessionRecord, calls: int, uploads: int, *,
                space_now: dict[str, Any] | None = None, last_login: Login | None = None) -> None:
        info = {**record.to_dict(), "calls": calls, "uploads": uploads}
        if space_now is not None:
            info["space_runtime"] = space_now
        if self.json:
            self.data({**info, "last_login": last_login and last_login.to_dict()})
            return
        for key in ("login", "proxy", "ca_bundle", "insecure", "headers"):  # shown when set
            if not info[key]:
                del info[key]
        if record.network.login:
            info["login"] = f"logged in as {record.network.login}" + _login_text(last_login)
        table = _table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold")
        table.add_column()
        info["created_at"] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created_at))
        if space_now is not None:
            info["space_runtime"] = _space_text(space_now)
        for key, value in info.items():
            table.add_row(*_cells(key, value))
        self.out.print(table)

    def text(self, text: str) -> None:
        """Plain text on stdout: exactly as it is, but on a terminal (`printable`)."""
        self.stdout.write(self._shown(text) + "\n")
        self.stdout.flush()

    def endpoints(self, endpoints: list[Endpoint]) -> None:
        """Endpoints as JSON (people get `Session.view_api`'s text, through `text`)."""
        self.data([_endpoint_dict(e) for e in endpoints])

    def event(self, event: Event) -> None:
        if self.json:
            self.data({**event.to_dict(), **self.call})
        else:
            click.echo(_event_line(event), file=self.stderr)

    @contextmanager
    def live_call(self) -> Iterator[Callable[[Event], None]]:
        """A callback for a running call's events: JSON lines, or event lines and logs on stderr,
        with a live spinner (queue position) / progress bar when stderr is a terminal."""
        if not self.live:
            yield self._plain_event
            return
        from rich.progress import (
            BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn,
        )
        from rich.text import Text

        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                      TimeElapsedColumn(), console=self.err, transient=True) as bar:
            task = bar.add_task("Waiting", total=None)

            def show(event: Event) -> None:
                data = event.data if isinstance(event.data, dict) else {}
                if event.name == "queued":
                    bar.update(task, description=_queue_text(data))
                elif event.name == "started":
                    bar.update(task, description="Running")
                elif event.name == "progress" and isinstance(event.data, list) and event.data \
                        and isinstance(event.data[0], dict):
                    unit = {k: v for k, v in event.data[0].items() if k == "desc" or isinstance(v, (int, float))}
                    total, done = (unit.get("length"), unit.get("index")) if unit.get("length") else (1.0, unit.get("progress"))
                    bar.update(task, total=total, completed=done or 0,
                               description=markup_free(str(unit.get("desc") or "Running")))
                line = _log_line(event) if event.name == "log" else _event_line(event)
                if event.name not in ("progress", "heartbeat"):
                    self.err.print(Text.from_ansi(line))

            yield show

    @contextmanager
    def stages(self, what: str) -> Iterator[Callable[[str], None]]:
        """A callback for a Space's stages while it is waited for: a status line with the time
        waited on a terminal, else a line per stage on stderr."""
        def news(stage: str) -> str:
            return f"{what} is {STAGE_NEWS.get(stage, stage)}..."

        if not self.live:
            yield lambda stage: self.message(news(stage))
            return
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=self.err,
                      transient=True) as bar:
            task = bar.add_task(f"Asking the Hub about {what.lower()}...", total=None)
            yield lambda stage: bar.update(task, description=markup_free(news(stage)))

    def _plain_event(self, event: Event) -> None:
        """An event without a live display: a JSON line, or a line on stderr (no progress, no heartbeats)."""
        if self.json:
            self.event(event)
        elif event.name not in ("progress", "heartbeat"):
            click.echo(_log_line(event) if event.name == "log" else _event_line(event), file=self.stderr)

    def result(self, values: Any, *, downloaded: bool = False) -> None:
        """The final outputs on stdout, one per line: text as is, anything else as JSON. In json
        mode the `complete` event said it all, unless files were downloaded: then one more line."""
        if self.json:
            if downloaded:
                self.data({"event": "downloaded", "data": values, **self.call})
            return
        for value in values if isinstance(values, list) else [values]:
            self.line(value if isinstance(value, str) else _jsonable(value))

    @contextmanager
    def progress(self, what: str) -> Iterator[Callable[[int, int | None], None]]:
        """A progress callback (done, total); a bar on a terminal once a transfer passes a few MB."""
        if not self.live:
            yield lambda done, total: None
            return
        from rich.progress import DownloadColumn, Progress, TaskID, TransferSpeedColumn

        with Progress(*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(),
                      console=self.err, transient=True) as bar:
            task: list[TaskID] = []

            def update(done: int, total: int | None) -> None:
                if not task and (total or done) >= BAR_FROM:
                    task.append(bar.add_task(what, total=total))
                if task:
                    bar.update(task[0], completed=done, total=total)

            yield update

    def files(self, files: list[dict[str, Any]]) -> None:
        """FileData dicts: JSON, or one server path per line."""
        if self.json:
            self.data(files)
            return
        for fd in files:
            self.line(fd["path"])

    def uploads(self, uploads: list[UploadRecord]) -> None:
        if self.json:
            self.data([u.to_dict() for u in uploads])
            return
        if not uploads:
            self.message("No uploads recorded in this session.")
            return
        table = _table(box=None, pad_edge=False)
        for col in ("uploaded", "file", "size", "sha256"):
            table.add_column(col, no_wrap=True)
        table.add_column("local path", overflow="fold")
        for u in uploads:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(u.uploaded_at))
            table.add_row(*_cells(when, os.path.basename(u.local_path), u.size, u.sha256[:12], u.local_path))
        self.out.print(table)

    def batches(self, records: list[Any]) -> None:
        """Batch records (`gradio-session batches`): JSON, or a table."""
        if self.json:
            self.data([r.to_dict() for r in records])
            return
        if not records:
            self.message("No batches recorded.")
            return
        table = _table(box=None, pad_edge=False)
        for col in ("id", "status", "endpoint", "rows", "failed", "started"):
            table.add_column(col, no_wrap=True)
        table.add_column("output", overflow="fold")
        for r in records:
            rows = f"{r.done}/{r.total}" if r.total is not None else str(r.done)
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.started_at))
            table.add_row(*_cells(r.id, r.status, r.endpoint, rows, r.failed, when, r.output))
        wide = self.out if self.out.is_terminal else _console(self.stdout, 160)
        wide.print(table)

    def calls(self, calls: list[Any]) -> None:
        if self.json:
            self.data([c.to_dict() for c in calls])
            return
        if not calls:
            self.message("No calls recorded in this session.")
            return
        table = _table(box=None, pad_edge=False)
        table.add_column("event id", no_wrap=True, min_width=32)
        for col in ("endpoint", "status", "started", "duration", "queue wait"):
            table.add_column(col, overflow="fold")
        for c in calls:
            started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(c.started_at))
            duration = f"{c.duration:.3f}s" if c.duration is not None else ""
            wait = f"{c.queue_wait:.3f}s" if c.queue_wait is not None else ""
            table.add_row(*_cells(c.event_id, c.endpoint, c.status, started, duration, wait))
        wide = self.out if self.out.is_terminal else _console(self.stdout, 160)  # piped: don't squeeze
        wide.print(table)


def _event_line(event: Event) -> str:
    """`  3 12:00:01.250 complete   ["x"]`, the number, time and data dimmed."""
    clock = time.strftime("%H:%M:%S", time.localtime(event.ts)) + f".{int(event.ts * 1000) % 1000:03d}"
    return (click.style(f"{event.num:>3} {clock}", dim=True) + f" {printable(str(event.name)):<10} "
            + click.style(printable(_jsonable(event.data)), dim=True))


def _log_line(event: Event) -> str:
    """A `gr.Info`/`gr.Warning` message: `warning: text`, its level colored."""
    data = event.data if isinstance(event.data, dict) else {}
    level = printable(str(data.get("level") or "info"))
    return click.style(f"{level}:", fg=LEVEL_COLORS.get(level, "cyan")) + f" {printable(str(data.get('message')))}"


def markup_free(text: str) -> str:
    """Text for a Rich renderable that reads markup (a progress bar's description): printable,
    its `[...]` shown as they are."""
    from rich.markup import escape

    return escape(printable(text))


def _queue_text(data: dict[str, Any]) -> str:
    """`Queued: position 2 of 3, ETA 4s` from a `queued` event's data."""
    rank, size, eta = data.get("rank"), data.get("queue_size"), data.get("eta")
    text = "Queued" + (f": position {rank + 1} of {size}" if isinstance(rank, int) else "")
    return text + (f", ETA {eta:.0f}s" if isinstance(eta, (int, float)) else "")


def _endpoint_dict(ep: Endpoint) -> dict[str, Any]:
    return {
        "name": ep.name,
        "generator": ep.generator,
        "parameters": [
            {"name": p.name, "type": p.python_type, "schema": p.schema, "component": p.component,
             "label": p.label, "required": not p.has_default, "default": p.default}
            for p in ep.parameters
        ],
        "returns": [
            {"type": r.python_type, "schema": r.schema, "component": r.component, "label": r.label}
            for r in ep.returns
        ],
    }


def _login_text(login: Login | None) -> str:
    if login is None:
        return " (no login asked for yet)"
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(login.at))
    return f" (last login {when})" if login.ok else f" (the last login, {when}, was refused: {login.message})"
