"""A Gradio app for batches: `python batch_app.py PORT LOG [DELAY]`.

`echo` logs every execution to LOG (so a test can count how often each input ran) and takes
DELAY seconds; `check` fails on inputs starting with "bad"; `tally` keeps a count in gr.State;
`shout` returns an uppercased copy of a text file.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

import gradio as gr

_lock = threading.Lock()
DELAY = float(sys.argv[3]) if len(sys.argv) > 3 else 0.02


def echo(text: str) -> str:
    with _lock, open(sys.argv[2], "a") as log:
        log.write(text + "\n")
    time.sleep(DELAY)
    return text


def check(text: str) -> str:
    if text.startswith("bad"):
        raise gr.Error(f"{text} is bad")
    return text.upper()


def tally(text: str, count: int) -> tuple[str, int]:
    count = (count or 0) + 1
    return f"{text}:{count}", count


def shout(path: str) -> str:
    out = Path(tempfile.mkdtemp()) / f"loud-{Path(path).name}"
    out.write_text(Path(path).read_text().upper())
    return str(out)


with gr.Blocks() as demo:
    text, result = gr.Textbox(label="Text"), gr.Textbox(label="Result")
    gr.Button("echo").click(echo, text, result, api_name="echo")
    gr.Button("check").click(check, text, result, api_name="check")
    state = gr.State(0)
    gr.Button("tally").click(tally, [text, state], [result, state], api_name="tally")
    gr.Button("shout").click(shout, gr.File(label="File"), gr.File(label="Loud"), api_name="shout")

if __name__ == "__main__":
    demo.queue(default_concurrency_limit=16).launch(
        server_name="127.0.0.1", server_port=int(sys.argv[1]), show_error=True, quiet=True
    )
