"""A Gradio app behind Gradio's own login (user "alice", password "secret"):
`python auth_app.py PORT [--https CERTFILE KEYFILE]` (with --https, served over TLS with that
certificate; Gradio's own start-up check does not verify it).

Endpoints: `echo` (text -> text), `count` (a gr.State counter: each call of a session adds one and
returns the count), `size` (a file -> its byte count, as text), `make_file` (text -> a .txt file
holding it). Runs on every Gradio from 3.50 on.
"""

from __future__ import annotations

import os
import sys
import tempfile

import gradio as gr

USER, PASSWORD = "alice", "secret"
AUTH_MESSAGE = "Ask Bob for the password."


def echo(text: str) -> str:
    return text


def count(n: int | None) -> tuple[int, int]:
    n = int(n or 0) + 1
    return n, n


def size(file: object) -> str:
    # Gradio 4+ hands a path; Gradio 3 a temporary-file object (its .name is the path)
    path = file if isinstance(file, str) else getattr(file, "name", None)
    if path is None:
        return "0"
    return str(os.path.getsize(path))


def make_file(text: str) -> str:
    path = os.path.join(tempfile.mkdtemp(prefix="auth_app_"), "text.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text or "")
    return path


with gr.Blocks() as demo:
    text, out = gr.Textbox(label="Text"), gr.Textbox(label="Out")
    gr.Button("echo").click(echo, text, out, api_name="echo")
    state, number = gr.State(0), gr.Number(label="Count")
    gr.Button("count").click(count, state, [state, number], api_name="count")
    f_in = gr.File(label="In")
    gr.Button("size").click(size, f_in, gr.Textbox(label="Size"), api_name="size")
    gr.Button("make_file").click(make_file, text, gr.File(label="Out file"), api_name="make_file")

if __name__ == "__main__":
    args = sys.argv[1:]
    tls: dict[str, object] = {}
    if "--https" in args:
        i = args.index("--https")
        tls = {"ssl_certfile": args[i + 1], "ssl_keyfile": args[i + 2], "ssl_verify": False}
    demo.queue().launch(
        server_name="127.0.0.1", server_port=int(args[0]), show_error=True, quiet=True,
        auth=(USER, PASSWORD), auth_message=AUTH_MESSAGE, **tls,
    )
