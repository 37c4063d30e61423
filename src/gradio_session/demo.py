"""The demo Gradio app of the README: `python -m gradio_session.demo [PORT]` serves it on
http://127.0.0.1:PORT (default 7860) until Ctrl+C.

It needs gradio, which gradio-session itself does not depend on (it is a dev/test dependency):
`pip install gradio` first. Its endpoints: text, numbers, a generator, per-session state, an
app error, a file in and out, a slow call, a call reporting progress and logs, an image, and a generator
that writes a marker file after a while (to see a cancel stop it). `make demo`, the tests and
the benchmarks run it too (through `examples/demo_app.py`).
"""

from __future__ import annotations

import inspect
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

try:
    import gradio as gr
except ImportError as exc:  # gradio-session does not need gradio; only this demo app does
    message = ("The demo app needs gradio, which gradio-session does not install: "
               "`pip install gradio` (or `pip install -e '.[dev]'` in a checkout), then run it again.")
    if __name__ == "__main__":
        sys.exit(f"Error: {message}")
    raise ImportError(message) from exc


def echo(text: str, times: float = 1) -> str:
    return text * int(times)


def add(a: float, b: float) -> float:
    return a + b


def stream(n: float):  # type: ignore[no-untyped-def]
    out = ""
    for i in range(int(n)):
        time.sleep(0.02)
        out += f"{i} "
        yield out


def count(text: str, seen: int | None):  # type: ignore[no-untyped-def]
    seen = (seen or 0) + 1
    return f"{text} (call {seen} of this session)", seen


def fail(text: str) -> str:
    raise gr.Error(f"cannot process {text!r}")


def choose(flag: bool, items: list[str]) -> str:
    return f"{'on' if flag else 'off'}: {', '.join(items)}"


def reverse_file(path: str) -> str:
    path = getattr(path, "name", path)  # Gradio 3.x hands a temporary file object
    text = Path(path).read_text(errors="replace")
    out = Path(tempfile.mkdtemp()) / f"reversed-{Path(path).name}"
    out.write_text(text[::-1])
    return str(out)


def slow(seconds: float) -> str:
    time.sleep(seconds)
    return f"slept {seconds}"


def steps(n: float, progress: gr.Progress = gr.Progress()) -> str:  # noqa: B008 - Gradio's idiom
    gr.Info(f"stepping {int(n)} times")
    for i in range(int(n)):
        progress((i, int(n)), desc="Stepping", unit="steps")
        time.sleep(0.1)
    gr.Warning("all steps done")
    return f"{int(n)} steps"


def marker(path: str, seconds: float):  # type: ignore[no-untyped-def]
    """Yields while it waits, then writes `path`: a cancelled call never writes it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
        yield "waiting"
    Path(path).write_text("written")
    yield "written"


def picture(size: float) -> Any:
    """A `size`-pixel square gradient with a disc: an image result."""
    import numpy as np  # gradio's own dependency

    n = int(min(max(size, 8), 512))
    y, x = np.mgrid[0:n, 0:n] / (n - 1)
    image = np.stack([x * 255, y * 255, (1 - x) * 200 + 55], axis=-1)
    image[(x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.08] = 255
    return image.astype("uint8")


GRADIO3 = gr.__version__.startswith("3.")  # its File has no "filepath" type, its queue other options
FILE_TYPE: Any = "file" if GRADIO3 else "filepath"

with gr.Blocks(title="gradio-session demo") as demo:
    text = gr.Textbox(label="Text")
    times = gr.Number(value=1, label="Times")
    out = gr.Textbox(label="Output")
    gr.Button("echo").click(echo, [text, times], out, api_name="echo")
    a, b = gr.Number(label="a"), gr.Number(label="b")
    gr.Button("add").click(add, [a, b], gr.Number(label="sum"), api_name="add")
    n = gr.Number(value=5, label="Steps")
    gr.Button("stream").click(stream, n, out, api_name="stream")
    seen = gr.State()
    gr.Button("count").click(count, [text, seen], [out, seen], api_name="count")
    gr.Button("fail").click(fail, text, out, api_name="fail")
    flag = gr.Checkbox(label="Flag")
    items = gr.CheckboxGroup(["x", "y", "z"], label="Items")
    gr.Button("choose").click(choose, [flag, items], out, api_name="choose")
    gr.Button("reverse_file").click(reverse_file, gr.File(label="File", type=FILE_TYPE),
                                    gr.File(label="Reversed"), api_name="reverse_file")
    seconds = gr.Number(value=1, label="Seconds")
    gr.Button("slow").click(slow, seconds, out, api_name="slow")
    gr.Button("steps").click(steps, n, out, api_name="steps")
    png: dict[str, Any] = {"format": "png"} if "format" in inspect.signature(gr.Image).parameters else {}  # else webp on 5.x
    size = gr.Number(value=64, label="Size")
    gr.Button("picture").click(picture, size, gr.Image(label="Picture", **png), api_name="picture")
    marker_path = gr.Textbox(label="Marker path")
    gr.Button("marker").click(marker, [marker_path, seconds], out, api_name="marker")


def main(argv: list[str] | None = None) -> None:
    """Serve the demo app on 127.0.0.1 at the port given (default 7860) until interrupted;
    `--auth USER:PASSWORD` puts it behind Gradio's login."""
    args = sys.argv[1:] if argv is None else list(argv)
    auth = None
    if "--auth" in args[:-1] and ":" in args[args.index("--auth") + 1]:
        i = args.index("--auth")
        user, _, password = args[i + 1].partition(":")
        auth, args = (user, password), args[:i] + args[i + 2:]
    if len(args) > 1 or (args and not args[0].isdigit()):
        sys.exit("Usage: python -m gradio_session.demo [PORT] [--auth USER:PASSWORD]")
    port = int(args[0]) if args else 7860
    print(f"The gradio-session demo app: http://127.0.0.1:{port}" + (f", behind a login ({auth[0]})" if auth else "")
          + " (Ctrl+C stops it)", flush=True)
    demo.queue(**({"concurrency_count": 64} if GRADIO3 else {"default_concurrency_limit": None})).launch(
        server_name="127.0.0.1", server_port=port, show_error=True, quiet=True, auth=auth
    )


if __name__ == "__main__":
    main()
