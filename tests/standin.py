"""A stand-in Gradio server for faults a real Gradio won't produce: garbage bytes, a torn
stream, a full queue, a broken diff, a result with hostile file names, a torn download. It
speaks just enough of the queue protocol (HTTP/1.0, so every response ends with its connection)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

CONFIG = {
    "version": "6.31.0", "api_prefix": "/gradio_api", "protocol": "sse_v3",
    "components": [{"id": 1, "type": "textbox"}, {"id": 2, "type": "textbox"}],
    "dependencies": [{"id": 0, "api_name": "echo", "inputs": [1], "outputs": [2],
                      "types": {"generator": True}}],
}
INFO = {"named_endpoints": {"/echo": {
    "parameters": [{"label": "Text", "parameter_name": "text", "parameter_has_default": False,
                    "type": {"type": "string"}, "python_type": {"type": "str"}, "component": "Textbox"}],
    "returns": [{"label": "out", "type": {"type": "string"}, "python_type": {"type": "str"},
                 "component": "Textbox"}],
}}, "unnamed_endpoints": {}}


def _msg(event_id: str, **fields: object) -> bytes:
    return f"data: {json.dumps({'event_id': event_id, **fields})}\n\n".encode()


FILE_BODY = b"file body from the stand-in\n"


def stream(mode: str, event_id: str, output: object = None) -> bytes:
    """The bytes the stand-in's `/queue/data` sends for the last joined call."""
    if mode in ("result", "torn_file", "busy"):
        return _msg(event_id, msg="process_completed", success=True, output={"data": output})
    if mode == "garbage":
        return _msg(event_id, msg="estimation", rank=0, queue_size=1) + b"data: {this is not json\n\n"
    if mode == "torn":
        return _msg(event_id, msg="estimation", rank=0, queue_size=1) + _msg(event_id, msg="process_starts")
    return _msg(event_id, msg="process_generating", success=True, output={"data": ["a"]}) + _msg(
        event_id, msg="process_generating", success=True, output={"data": [[["explode", [], "b"]]]})


@contextmanager
def standin(mode: str, auth_seen: list[str | None] | None = None, *, output: object = None,
            host: str = "127.0.0.1", paths: list[str] | None = None) -> Iterator[str]:
    """Serve the stand-in on a free port of `host`; yields its URL. Each request's
    Authorization header (or None) is appended to auth_seen, its path to `paths`. Like a real
    Gradio, a reopened `/queue/data` stream has nothing more for a call whose stream was torn:
    it answers `close_stream`. In mode "result" a call's
    result is `output`, and `/gradio_api/file=...` serves FILE_BODY ("torn_file": cut short);
    "busy" answers the first two POSTs with 503, then works as "result"."""
    joined: list[str] = []
    refused: list[str] = []
    seen = auth_seen if auth_seen is not None else []
    requested = paths if paths is not None else []
    streamed: set[str] = set()  # calls whose stream was sent once

    class Handler(http.server.BaseHTTPRequestHandler):
        def _json(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            requested.append(self.path.split("?")[0])
            if self.path == "/config":
                self._json(200, CONFIG)
            elif self.path == "/gradio_api/info":
                self._json(200, INFO)
            elif self.path.startswith("/gradio_api/queue/data"):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                event_id = joined[-1] if joined else "none"
                if event_id in streamed:
                    self.wfile.write(b'data: {"msg": "close_stream"}\n\n')
                else:
                    streamed.add(event_id)
                    self.wfile.write(stream(mode, event_id, output))
            elif self.path.startswith("/gradio_api/file="):
                self.send_response(200)
                self.send_header("Content-Length", str(len(FILE_BODY) * (1000 if mode == "torn_file" else 1)))
                self.end_headers()
                self.wfile.write(FILE_BODY)
            else:
                self._json(404, {"detail": "Not Found"})

        def do_POST(self) -> None:
            seen.append(self.headers.get("Authorization"))
            requested.append(self.path.split("?")[0])
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if mode == "full" or (mode == "busy" and len(refused) < 2):
                refused.append(self.path)
                self._json(503, {"detail": "Queue is full."})
            else:
                joined.append(f"ev{len(joined)}")
                self._json(200, {"event_id": joined[-1]})

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer((host, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
