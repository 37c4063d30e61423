"""An app redeployed with another API: `python redeploy_app.py PORT VERSION` (1 or 2).

Version 2 puts its endpoints in another order (so every fn_index moves), gives `echo` a second
parameter and adds `shout`: a session made on version 1 must read the API again.
"""

from __future__ import annotations

import sys

import gradio as gr

VERSION = int(sys.argv[2]) if len(sys.argv) > 2 else 1


def echo(text: str) -> str:
    return f"v1 {text}"


def echo2(text: str, suffix: str = "!") -> str:
    return f"v2 {text}{suffix}"


def add(a: float, b: float) -> float:
    return a + b


def shout(text: str) -> str:
    return text.upper()


with gr.Blocks() as demo:
    text, suffix = gr.Textbox(label="Text"), gr.Textbox(label="Suffix", value="!")
    a, b = gr.Number(label="A"), gr.Number(label="B")
    out = gr.Textbox(label="Output")
    if VERSION == 1:
        gr.Button("echo").click(echo, text, out, api_name="echo")
        gr.Button("add").click(add, [a, b], gr.Number(label="Sum"), api_name="add")
    else:
        gr.Button("shout").click(shout, text, out, api_name="shout")
        gr.Button("add").click(add, [a, b], gr.Number(label="Sum"), api_name="add")
        gr.Button("echo").click(echo2, [text, suffix], out, api_name="echo")

if __name__ == "__main__":
    demo.queue().launch(server_name="127.0.0.1", server_port=int(sys.argv[1]), show_error=True, quiet=True)
