"""An app with fast heartbeats, for heartbeat-limited waits: `python beat_app.py PORT`.

Gradio's heartbeat comes every 15 s; GRADIO_HEARTBEAT_INTERVAL (set here) makes it 0.2 s.
"""

from __future__ import annotations

import os
import sys
import time

os.environ["GRADIO_HEARTBEAT_INTERVAL"] = "0.2"

import gradio as gr  # noqa: E402 - the interval must be set first


def burst(n: float, pause: float):  # type: ignore[no-untyped-def]
    """Yields 1..n, going quiet for `pause` seconds half way (heartbeats only)."""
    for i in range(1, int(n) + 1):
        if i == int(n) // 2 + 1:
            time.sleep(pause)
        yield str(i)


def quiet(seconds: float) -> str:
    time.sleep(seconds)
    return f"quiet for {seconds}"


with gr.Blocks() as demo:
    n, pause = gr.Number(label="N"), gr.Number(label="Pause")
    out = gr.Textbox(label="Output")
    gr.Button("burst").click(burst, [n, pause], out, api_name="burst")
    gr.Button("quiet").click(quiet, pause, out, api_name="quiet")

if __name__ == "__main__":
    demo.queue(default_concurrency_limit=None).launch(
        server_name="127.0.0.1", server_port=int(sys.argv[1]), show_error=True, quiet=True
    )
