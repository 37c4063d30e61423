"""A Gradio 3.x app without its queue (calls are plain `POST /run/{api}` requests), which
later Gradio serves too: `python gradio3_app.py PORT`."""

from __future__ import annotations

import sys
import time

import gradio as gr


def echo(text: str) -> str:
    return text


def slow(seconds: float) -> str:
    time.sleep(seconds)
    return f"slept {seconds}"


def fail(text: str) -> str:
    raise gr.Error(f"cannot process {text!r}")


with gr.Blocks() as demo:
    text, out = gr.Textbox(label="Text"), gr.Textbox(label="Out")
    gr.Button("echo").click(echo, text, out, api_name="echo")
    seconds = gr.Number(value=1, label="Seconds")
    gr.Button("slow").click(slow, seconds, out, api_name="slow")
    gr.Button("fail").click(fail, text, out, api_name="fail")

if __name__ == "__main__":
    demo.launch(server_name="127.0.0.1", server_port=int(sys.argv[1]), show_error=True)
