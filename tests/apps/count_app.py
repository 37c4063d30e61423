"""A Gradio app that logs every execution: `python count_app.py PORT LOG`. The chaos test reads
LOG to check that no input ran twice."""

from __future__ import annotations

import sys
import threading
import time

import gradio as gr

_lock = threading.Lock()


def echo(text: str) -> str:
    with _lock, open(sys.argv[2], "a") as log:
        log.write(text + "\n")
    time.sleep(0.02)
    return text


with gr.Blocks() as demo:
    gr.Button("echo").click(echo, gr.Textbox(label="Text"), gr.Textbox(label="Output"), api_name="echo")

if __name__ == "__main__":
    demo.queue(default_concurrency_limit=8).launch(
        server_name="127.0.0.1", server_port=int(sys.argv[1]), show_error=True, quiet=True
    )
