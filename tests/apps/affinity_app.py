"""The demo app behind a load balancer's session affinity: a response to a request without the
cookie `replica` sets `replica=r1`; each request's `replica` cookie (or "-") is appended to LOG,
one line each: `python affinity_app.py PORT LOG`."""

from __future__ import annotations

import sys

import gradio as gr
import uvicorn
from fastapi import FastAPI, Request

from gradio_session.demo import demo

LOG = sys.argv[2] if len(sys.argv) > 2 else None
app = FastAPI()


@app.middleware("http")
async def affinity(request: Request, call_next):  # type: ignore[no-untyped-def]
    replica = request.cookies.get("replica")
    if LOG is not None:
        with open(LOG, "a") as f:
            f.write(f"{request.url.path} {replica or '-'}\n")
    response = await call_next(request)
    if replica is None:
        response.set_cookie("replica", "r1", httponly=True)
    return response


app = gr.mount_gradio_app(app, demo.queue(), path="/")

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
