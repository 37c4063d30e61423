"""Sessions, calls and results that show themselves in Jupyter; a surface above the public API.

`import gradio_session` in a Jupyter kernel calls `install()`: the notebook's HTML for
sessions, calls, `calls()` and `list_sessions()` tables and result files, and blocking calls
that show their progress in the cell. Outside a kernel nothing here is imported.
"""

from __future__ import annotations

from typing import Any

import gradio_session as gs
from gradio_session import aio
from gradio_session.models import CallRecord

from . import progress, render


def install() -> None:
    """Register the HTML of our objects with the running IPython shell, and the calls' display."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    html = shell.display_formatter.formatters["text/html"]
    shown: dict[type, Any] = {gs.Session: render.session_html, aio.Session: render.session_html,
                              gs.Call: render.call_html, aio.Call: render.call_html}
    for cls, fn in shown.items():
        html.for_type(cls, fn)
    html.for_type(dict, _dict_html)  # results are plain dicts and lists: ours are told apart inside
    html.for_type(list, _list_html)
    html.for_type(str, render.data_uri_html)  # Gradio 3.x sends images and sounds inline: other text as before
    aio.watch_calls(progress.watch)


def _dict_html(value: dict[str, Any]) -> str | None:
    """A file of a result shown alone (what `s.api.<endpoint>(...)` returns); other dicts as before."""
    return render.file_html(value) if render.is_file(value) else None


def _list_html(values: list[Any]) -> str | None:
    """`calls()` and `list_sessions()` as tables, an output list holding files as the outputs;
    other lists as before."""
    if not values:
        return None
    if all(isinstance(v, CallRecord) for v in values):
        return render.calls_html(values)
    if all(isinstance(v, (gs.Session, aio.Session)) for v in values):
        return render.sessions_html(values)
    if any(render.is_file(v) for v in values):
        return render.outputs_html(values)
    return None
