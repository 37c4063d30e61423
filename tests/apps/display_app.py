"""An app whose results are for the eye, each with an app's hostile markup in it: a Dataframe, a
Chatbot conversation, a sound, text, and JSON naming a local file. `python display_app.py PORT`."""

from __future__ import annotations

import sys

import gradio as gr
import numpy as np

SCRIPT = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"


def table() -> dict:  # type: ignore[type-arg]
    return {"headers": ["name", "note"], "data": [["alpha", SCRIPT], ["beta", "plain"]]}


def chat(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}, {"role": "assistant", "content": f"echo: {SCRIPT}"}]


def sound() -> tuple[int, np.ndarray]:
    rate = 8000
    return rate, (np.sin(np.linspace(0, 440 * 2 * np.pi, rate // 4)) * 12000).astype(np.int16)


def claim(text: str) -> dict[str, str]:
    """JSON naming a file of the client's machine, as if it were a result file (it is no FileData)."""
    return {"path": text, "orig_name": "photo.png"}


def markup(text: str) -> str:
    """<script>document.title='description ran'</script>"""
    return text + SCRIPT


with gr.Blocks() as demo:
    text = gr.Textbox(label="Text")
    gr.Button("table").click(table, None, gr.Dataframe(label="Table"), api_name="table")
    chatbot = gr.Chatbot(label="Chat", **({"type": "messages"} if gr.__version__.startswith(("4.", "5.")) else {}))
    gr.Button("chat").click(chat, text, chatbot, api_name="chat")
    gr.Button("sound").click(sound, None, gr.Audio(label="Sound"), api_name="sound")
    gr.Button("claim").click(claim, text, gr.JSON(label="Claim"), api_name="claim")
    gr.Button("markup").click(markup, text, gr.Textbox(label=f"Out {SCRIPT}"), api_name="markup")

if __name__ == "__main__":
    demo.queue().launch(server_name="127.0.0.1", server_port=int(sys.argv[1]), quiet=True)
