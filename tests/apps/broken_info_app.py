"""The demo app on a server whose `/info` answers HTTP 500, as Gradio 4.44's does with a recent
pydantic (gradio#10792): `python broken_info_app.py PORT`. Everything else is Gradio's own."""

from __future__ import annotations

import sys

import gradio as gr
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gradio_session.demo import demo

app = FastAPI()


@app.middleware("http")
async def broken_info(request: Request, call_next):  # type: ignore[no-untyped-def]
    if request.url.path.rstrip("/").endswith("/info"):
        return JSONResponse({"detail": "Internal Server Error"}, status_code=500)
    return await call_next(request)


if gr.__version__.startswith("3."):  # a mounted 3.x app has its queue only if asked (progress needs it)
    demo.queue(concurrency_count=64)
app = gr.mount_gradio_app(app, demo, path="/")

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
