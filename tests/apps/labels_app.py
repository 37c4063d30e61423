"""An app whose parameters are named after their labels on Gradio 3.x (its API has no
parameter names): two are Python keywords, two repeat: `python labels_app.py PORT`."""

from __future__ import annotations

import sys

import gradio as gr


def join(a: str, b: str, c: str, d: str) -> str:
    return "|".join((a, b, c, d))


with gr.Blocks() as demo:
    inputs = [gr.Textbox(label="class"), gr.Textbox(label="lambda"), gr.Textbox(label="Text"), gr.Textbox(label="Text")]
    gr.Button("join").click(join, inputs, gr.Textbox(label="Joined"), api_name="join")

if __name__ == "__main__":
    demo.queue().launch(server_name="127.0.0.1", server_port=int(sys.argv[1]))
