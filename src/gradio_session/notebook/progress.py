"""A call someone waits for, shown in its cell while it runs: its place in the queue and its
`gr.Progress` as a bar updated in place (ipywidgets' when installed, else HTML updated in
place), `gr.Info`/`gr.Warning` as lines that stay. The bar is gone when the call ends; a call
with nothing to tell (no queue ahead, no progress, no message) shows nothing at all."""

from __future__ import annotations

import threading
import time
from html import escape
from typing import Any

from IPython.display import display as _display

from gradio_session import aio
from gradio_session.models import Event

def display(obj: Any, **kwargs: Any) -> Any:
    """IPython's `display` (untyped)."""
    return _display(obj, **kwargs)  # type: ignore[no-untyped-call]


EVERY = 0.1  # seconds between two updates of a bar: a fast tqdm loop must not flood the browser
GONE = {"text/plain": "", "text/html": ""}  # what a bar becomes when its call ends
ICONS = {"info": "ℹ️", "warning": "⚠️", "success": "✅", "error": "⛔"}


def watch(call: aio.Call) -> Watched | None:
    """The display of `call` (`aio.watch_calls`); None off the main thread, whose output would
    land in whichever cell runs then."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return Watched(call)


class Watched:
    """One call's display: made at its first news."""

    def __init__(self, call: aio.Call) -> None:
        self.call = call
        self.bar: WidgetBar | HtmlBar | None = None
        self.shown_at = 0.0
        self.percent: int | None = None

    def seen(self, event: Event) -> None:
        data = event.data
        if event.name == "log" and isinstance(data, dict):
            log_line(data)
        elif event.name == "queued" and isinstance(data, dict) and isinstance(data.get("rank"), int) \
                and data["rank"] > 0:
            size = data.get("queue_size")
            self._show(None, f"in the queue: {data['rank']} ahead" + (f" of {size}" if isinstance(size, int) else ""))
        elif event.name == "progress" and isinstance(data, list) and data and isinstance(data[-1], dict):
            self._show(*_progress(data[-1]))
        elif event.name == "started" and self.bar is not None:
            self._show(None, "running", force=True)

    def end(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def _show(self, fraction: float | None, text: str, *, force: bool = False) -> None:
        """Shown when the bar moved a percent or more, else at most every EVERY seconds."""
        now = time.monotonic()
        percent = None if fraction is None else int(fraction * 100)
        if self.bar is not None and not force and percent == self.percent and now - self.shown_at < EVERY:
            return
        self.shown_at, self.percent = now, percent
        if self.bar is None:
            self.bar = _bar(self.call.endpoint)
        self.bar.update(fraction, text)


def _progress(unit: dict[str, Any]) -> tuple[float | None, str]:
    """(fraction done or None, text) of the innermost `gr.Progress` unit."""
    index, length, share = unit.get("index"), unit.get("length"), unit.get("progress")
    fraction = share if isinstance(share, (int, float)) else None
    words = [str(unit["desc"])] if unit.get("desc") else []
    if isinstance(index, (int, float)) and isinstance(length, (int, float)) and length > 0:
        fraction = index / length
        words.append(f"{index:g}/{length:g}" + (f" {unit['unit']}" if unit.get("unit") else ""))
    elif fraction is not None:
        words.append(f"{fraction:.0%}")
    return (None if fraction is None else min(max(float(fraction), 0.0), 1.0)), " ".join(words) or "running"


def _bar(endpoint: str) -> WidgetBar | HtmlBar:
    try:
        return WidgetBar(endpoint)
    except ImportError:  # no ipywidgets: HTML, updated in place
        return HtmlBar(endpoint)


class WidgetBar:
    """An ipywidgets bar with the endpoint's name and a line of text."""

    def __init__(self, endpoint: str) -> None:
        import ipywidgets as widgets  # type: ignore[import-untyped]

        self.bar = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description=endpoint,
                                         style={"description_width": "initial"})
        self.text = widgets.Label()
        self.box = widgets.HBox([self.bar, self.text])
        self.handle = display(self.box, display_id=True)

    def update(self, fraction: float | None, text: str) -> None:
        self.bar.bar_style = "" if fraction is not None else "info"
        self.bar.value = 1.0 if fraction is None else fraction  # an unknown share: a full, pale bar
        self.text.value = text

    def close(self) -> None:
        self.handle.update(GONE, raw=True)  # a saved notebook keeps no widget whose model is gone
        self.box.close()


class HtmlBar:
    """A `<progress>` bar in an HTML display updated in place (every frontend, nbconvert too)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.handle = display(self._bundle(None, "waiting"), raw=True, display_id=True)

    def _bundle(self, fraction: float | None, text: str) -> dict[str, str]:
        value = "" if fraction is None else f" value='{fraction:.3f}'"
        return {"text/html": f"<div><code>{escape(self.endpoint)}</code> <progress max='1'{value} "
                             f"style='width:240px;vertical-align:middle'></progress> {escape(text)}</div>",
                "text/plain": f"{self.endpoint}: {text}"}

    def update(self, fraction: float | None, text: str) -> None:
        self.handle.update(self._bundle(fraction, text), raw=True)

    def close(self) -> None:
        self.handle.update(GONE, raw=True)


def log_line(data: dict[str, Any]) -> None:
    """`gr.Info`/`gr.Warning` (and the like) as a line of the cell."""
    level = str(data.get("level") or "info").lower()
    title = data.get("title")
    message = str(data.get("message") or "")
    name = str(title) if title else level.capitalize()
    display({"text/html": f"<div>{ICONS.get(level, '•')} <b>{escape(name)}</b> {escape(message)}</div>",
             "text/plain": f"{name}: {message}"}, raw=True)
