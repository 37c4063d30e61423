"""A Gradio app with file endpoints: `python files_app.py PORT [MAX_FILE_SIZE]`.

File in / file out, many files in and out, an Image (filepath), a nested file output
and a text endpoint; the optional max_file_size makes uploads over it fail with HTTP 413.
"""

from __future__ import annotations

import sys

import gradio as gr


def same(path: str) -> str:
    return path


def many(paths: list[str]) -> list[str]:
    return list(paths or [])


def size(path: str) -> str:
    with open(path, "rb") as f:
        return str(len(f.read()))


def image(path: str) -> str:
    return path


def gallery(paths: list[str]) -> list[tuple[str, str]]:
    return [(p, f"#{i}") for i, p in enumerate(paths or [])]


with gr.Blocks(title="files") as demo:
    f_in, f_out = gr.File(label="In"), gr.File(label="Out")
    gr.Button("same").click(same, f_in, f_out, api_name="same")
    m_in, m_out = gr.File(file_count="multiple", label="Ins"), gr.File(file_count="multiple", label="Outs")
    gr.Button("many").click(many, m_in, m_out, api_name="many")
    gr.Button("size").click(size, f_in, gr.Textbox(label="Size"), api_name="size")
    img = gr.Image(type="filepath", label="Image")
    gr.Button("image").click(image, img, gr.Image(type="filepath", label="Image out"), api_name="image")
    gr.Button("gallery").click(gallery, m_in, gr.Gallery(label="Gallery"), api_name="gallery")

if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7861
    max_size = sys.argv[2] if len(sys.argv) > 2 else None
    demo.queue(default_concurrency_limit=None).launch(
        server_name="127.0.0.1", server_port=port, show_error=True, quiet=True, max_file_size=max_size,
    )
