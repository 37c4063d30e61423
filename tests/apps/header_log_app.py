"""The demo app behind a middleware that appends each request's Authorization header (or
"-") to LOG, one line each: `python header_log_app.py PORT LOG`."""

from __future__ import annotations

import sys

import gradio as gr
import uvicorn
from fastapi import FastAPI, Request

from gradio_session.demo import demo

LOG = sys.argv[2] if len(sys.argv) > 2 else None
app = FastAPI()


@app.middleware("http")
async def log_authorization(request: Request, call_next):  # type: ignore[no-untyped-def]
    if LOG is not None:
        with open(LOG, "a") as f:
            f.write((request.headers.get("authorization") or "-") + "\n")
    return await call_next(request)


app = gr.mount_gradio_app(app, demo.queue(), path="/")

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
