"""A Gradio app that runs one call at a time, to make a queue: `python queue_app.py PORT [MAX_SIZE]`
(with MAX_SIZE, Gradio refuses a call when that many wait)."""

from __future__ import annotations

import sys
import time

import gradio as gr


def slow(seconds: float) -> str:
    time.sleep(seconds)
    return f"slept {seconds}"


with gr.Blocks() as demo:
    seconds = gr.Number(value=1, label="Seconds")
    gr.Button("slow").click(slow, seconds, gr.Textbox(label="Output"), api_name="slow")

if __name__ == "__main__":
    demo.queue(default_concurrency_limit=1, max_size=int(sys.argv[2]) if len(sys.argv) > 2 else None).launch(
        server_name="127.0.0.1", server_port=int(sys.argv[1]), show_error=True, quiet=True
    )
