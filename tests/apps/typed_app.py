"""An app with many kinds of inputs, for typed functions (`session.api`): `python typed_app.py PORT`.
`/settings` echoes what it was given as JSON; `/files` tells what files arrived."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import gradio as gr


def settings(text: str, count: float, ratio: float, steps: float, flag: bool, model: str, tags: list[str],
             mode: str) -> dict[str, Any]:
    """Echo the settings, as the app received them."""
    return {"text": text, "count": count, "ratio": ratio, "steps": steps, "flag": flag, "model": model,
            "tags": tags, "mode": mode}


def files(one: str, many: list[str] | None, image: str | None) -> tuple[str, list[str]]:
    """Read one file, and name the others."""
    names = [Path(p).name for p in many or []] + ([Path(image).name] if image else [])
    return Path(one).read_text(), names


def chat(message: str, history: list[dict[str, Any]], table: Any, data: Any, state: Any) -> tuple[Any, ...]:
    history = [*(history or []), {"role": "user", "content": message}, {"role": "assistant", "content": message[::-1]}]
    turns = (state or 0) + 1
    return history, len(table) if table is not None else 0, data, turns, turns


with gr.Blocks() as demo:
    text = gr.Textbox(label="Prompt", value="")
    count = gr.Number(label="Count", precision=0, value=0)
    ratio = gr.Number(label="Ratio", value=0.5)
    steps = gr.Slider(1, 50, value=20, step=1, label="Steps")
    flag = gr.Checkbox(label="Flag", value=False)
    model = gr.Dropdown(["small", "large"], value="small", label="Model")
    tags = gr.Dropdown([("Red", "r"), ("Green", "g"), ("Blue", "b")], multiselect=True, value=[], label="Tags")
    mode = gr.Radio(["fast", "careful"], value="fast", label="Mode")
    result = gr.JSON(label="Settings")
    gr.Button("settings").click(settings, [text, count, ratio, steps, flag, model, tags, mode], result,
                                api_name="settings")
    one, many, image = gr.File(label="Document", type="filepath"), gr.File(file_count="multiple", label="Attachments"), \
        gr.Image(type="filepath", label="Picture")
    content, names = gr.Textbox(label="Content"), gr.JSON(label="Names")
    gr.Button("files").click(files, [one, many, image], [content, names], api_name="files")
    message, chatbot = gr.Textbox(label="Message"), gr.Chatbot(label="Chat")
    table, data, state, rows = gr.Dataframe(label="Table"), gr.JSON(label="Data"), gr.State(), gr.Number(label="Rows")
    echoed, turns = gr.JSON(label="Echoed"), gr.Number(label="Turns")
    gr.Button("chat").click(chat, [message, chatbot, table, data, state], [chatbot, rows, echoed, turns, state],
                            api_name="chat")

    gr.Button("copy").click(lambda path: path, gr.File(label="Original", type="filepath"), gr.File(label="Copy"),
                            api_name="copy")
    flavour = gr.Dropdown(["vanilla", "mint"], value="vanilla", label="Flavour")  # choices the app changes
    gr.Button("refill").click(lambda: gr.Dropdown(choices=["vanilla", "mint", "mango"]), None, flavour,
                              api_name="refill")
    gr.Button("pick").click(lambda f: f, flavour, gr.Textbox(label="Picked"), api_name="pick")

if __name__ == "__main__":
    demo.queue().launch(server_name="127.0.0.1", server_port=int(sys.argv[1]), quiet=True)
