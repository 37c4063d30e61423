"""An app whose text would drive a terminal: a window title (OSC), a clear screen, a bidi
override, a C1 CSI and Rich markup, in its results, errors, warnings, progress, labels,
descriptions and an endpoint's name: `python terminal_app.py PORT`. Importing this file (for
TEXT and ODD) needs no Gradio."""

from __future__ import annotations

import sys
import time

TEXT = "\x1b]0;pwned\x07 \x1b[2J clear \u202eevil\u202c [bold red]markup[/bold red] [/oops] \x9b31m end"
ODD = "odd\x1b[2J[/bold]"  # an endpoint's name


def main(port: int) -> None:
    import gradio as gr

    def say(text: str, progress: gr.Progress = gr.Progress()) -> str:  # noqa: B008 - Gradio's way
        """Returns TEXT and the text it is given, after a warning and a progress step that carry TEXT."""
        gr.Warning(TEXT)
        progress(0.5, desc=TEXT)
        time.sleep(0.5)  # Gradio sends progress now and then: let it
        return TEXT + text

    def fail(text: str) -> str:
        raise gr.Error(TEXT)

    with gr.Blocks() as demo:
        box, out = gr.Textbox(label=TEXT), gr.Textbox(label=TEXT)
        gr.Button("say").click(say, box, out, api_name="say", api_description=TEXT)
        gr.Button("fail").click(fail, box, out, api_name="fail")
        gr.Button("odd").click(lambda text: text, box, out, api_name=ODD)
    demo.queue().launch(server_name="127.0.0.1", server_port=port)


if __name__ == "__main__":
    main(int(sys.argv[1]))
