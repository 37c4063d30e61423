"""The demo app on a server whose `/config` names a queue protocol no dialect knows (as a future
Gradio might): `python unknown_protocol_app.py PORT`. Sessions then call through `/call/{api}`."""

from __future__ import annotations

import json
import sys

import gradio as gr
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gradio_session.demo import demo

app = FastAPI()


@app.middleware("http")
async def unknown_protocol(request: Request, call_next):  # type: ignore[no-untyped-def]
    response = await call_next(request)
    if not request.url.path.rstrip("/").endswith("/config"):
        return response
    body = b"".join([chunk async for chunk in response.body_iterator])
    config = json.loads(body)
    config["protocol"] = "sse_v9"
    return JSONResponse(config)


app = gr.mount_gradio_app(app, demo, path="/")

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
