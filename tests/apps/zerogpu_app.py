"""An app that refuses calls as a ZeroGPU Space does when the caller's GPU quota is used up:
`python zerogpu_app.py PORT`."""

from __future__ import annotations

import sys

import gradio as gr

QUOTA = ("You have exceeded your GPU quota (46s left vs. 60s requested). Sign-up on Hugging Face to get "
         "more quotas or retry in 0:09:48.")


def generate(prompt: str) -> str:
    raise gr.Error(QUOTA)


with gr.Blocks() as demo:
    prompt, out = gr.Textbox(label="Prompt"), gr.Textbox(label="Image")
    gr.Button("generate").click(generate, prompt, out, api_name="generate")

if __name__ == "__main__":
    demo.queue().launch(server_name="127.0.0.1", server_port=int(sys.argv[1]), quiet=True)
