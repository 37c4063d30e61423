"""The app of the Space `gradio/hello_world` (the README's example): `python hello_world_app.py PORT`."""

from __future__ import annotations

import sys

import gradio as gr


def greet(name: str) -> str:
    return "Hello " + name + "!"


demo = gr.Interface(fn=greet, inputs="text", outputs="text")

if __name__ == "__main__":
    demo.launch(server_name="127.0.0.1", server_port=int(sys.argv[1]), quiet=True)
