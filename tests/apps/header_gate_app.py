"""A Gradio app (endpoint `echo`) mounted in FastAPI behind an `auth_dependency`: a request is let in
(as user "key-user") only when it carries the header `X-Api-Key: k-123`: `python header_gate_app.py PORT`.
Written for Gradio 6.31 (runs on 5.50 too; routes under /gradio_api); run by uvicorn."""

from __future__ import annotations

import sys

import gradio as gr
import uvicorn
from fastapi import FastAPI, Request

API_KEY = "k-123"


def key_user(request: Request) -> str | None:
    return "key-user" if request.headers.get("x-api-key") == API_KEY else None


def echo(text: str) -> str:
    return text


with gr.Blocks() as demo:
    gr.Button("echo").click(echo, gr.Textbox(label="Text"), gr.Textbox(label="Out"), api_name="echo")

app = gr.mount_gradio_app(FastAPI(), demo.queue(), path="/", auth_dependency=key_user)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
