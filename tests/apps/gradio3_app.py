"""A one-endpoint app that Gradio 3.x serves too: `python gradio3_app.py PORT`."""

from __future__ import annotations

import sys

import gradio as gr


def echo(text: str) -> str:
    return text


with gr.Blocks() as demo:
    text, out = gr.Textbox(label="Text"), gr.Textbox(label="Out")
    gr.Button("echo").click(echo, text, out, api_name="echo")

if __name__ == "__main__":
    demo.queue().launch(server_name="127.0.0.1", server_port=int(sys.argv[1]))
