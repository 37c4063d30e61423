"""A Hugging Face Hub stand-in on 127.0.0.1, for the Spaces tests (huggingface_hub finds it
through `HF_ENDPOINT`): `python hub_standin.py PORT SPACES_JSON SEEN_FILE`.

SPACES_JSON maps a Space id to `{"host", "sdk", "stages": [...], "error", "private", "token",
"limited", "live", "held", "hardware", "copy_stages"}`:
the Space's runtime stage moves one step along `stages` at each runtime read (the last one
stays). A private Space answers 401 with `X-Error-Code: RepoNotFound`, as the Hub does, unless
the request carries its token; its first `limited` runtime reads answer 429 with the Hub's
`ratelimit` header (`t=1`: wait a second). A `live` Space is RUNNING while its host answers,
else SLEEPING. A `held` Space stays in that stage (STOPPED, SLEEPING) until its owner (the
token's user, `tester`, or its organisation `testers`) restarts it; then it goes along
`stages`. `/pause` pauses a Space until it is restarted. A copy made by `/duplicate` goes along the
source's `copy_stages` (default: it builds, starts, runs), and reports the hardware and sleep
time asked. A token starting with `hf_bad` is refused as an invalid one.
Every request's path and Authorization header is appended to SEEN_FILE (a JSON line each), so
tests can see where a token went.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

SPACES_FILE = Path(sys.argv[2]) if len(sys.argv) > 2 else None
SPACES: dict[str, dict] = {}  # as read from SPACES_FILE, again whenever it changed (tests add Spaces)
SEEN = Path(sys.argv[3]) if len(sys.argv) > 3 else None
READS: dict[str, int] = {}
app = FastAPI()


@app.middleware("http")
async def seen(request: Request, call_next):  # type: ignore[no-untyped-def]
    if SEEN is not None:
        with SEEN.open("a") as f:
            f.write(json.dumps({"path": request.url.path, "auth": request.headers.get("authorization")}) + "\n")
    if (request.headers.get("authorization") or "").startswith("Bearer hf_bad"):  # as the Hub does
        return JSONResponse({"error": "Invalid credentials in Authorization header"}, status_code=401,
                            headers={"X-Error-Message": "Invalid credentials in Authorization header"})
    return await call_next(request)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/config", timeout=1):
            return True
    except OSError:
        return False


def runtime(space: dict, step: int) -> dict:
    stages = space.get("stages") or ["RUNNING"]
    stage = stages[max(0, min(step, len(stages) - 1))]
    if space.get("live"):  # as the Hub: RUNNING while the app answers, else asleep
        stage = "RUNNING" if answers(space["host"]) else "SLEEPING"
    stage = "PAUSED" if space.get("paused") else space.get("held") or stage
    hardware = space.get("hardware", "cpu-basic")
    return {"stage": stage, "hardware": {"current": hardware if stage.startswith("RUNNING") else None,
                                         "requested": hardware},
            "gcTimeout": space.get("sleep_time", 172800),
            "errorMessage": space.get("error") if stage.endswith("ERROR") else None,
            "replicas": {"current": 1, "requested": 1}, "devMode": False, "domains": []}


def owner_of(space_id: str, request: Request) -> JSONResponse | None:
    """None when the request's token is the owner's, else the Hub's refusal."""
    if request.headers.get("authorization") and space_id.split("/")[0] in ("tester", "testers"):
        return None
    return JSONResponse({"error": "You don't have the rights to do this"}, status_code=403)


def find(space_id: str, request: Request) -> dict | JSONResponse:
    if SPACES_FILE is not None:
        for key, spec in json.loads(SPACES_FILE.read_text()).items():
            SPACES.setdefault(key, spec)  # a Space's state (its 429s left) lives here once read
    space, auth = SPACES.get(space_id), request.headers.get("authorization")
    if space is None or space.get("private") and auth != f"Bearer {space['token']}":
        return JSONResponse({"error": "Repository Not Found"}, status_code=404 if auth else 401,
                            headers={"X-Error-Code": "RepoNotFound"})
    return space


@app.get("/ready")  # not the Hub's: the test fixture's look at whether the stand-in is up
def ready() -> dict:
    return {"ready": True}


@app.get("/api/whoami-v2")
def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"type": "user", "name": "tester", "orgs": [{"type": "org", "name": "testers"}]}
                        if request.headers.get("authorization") else {"error": "Invalid credentials"},
                        status_code=200 if request.headers.get("authorization") else 401)


@app.get("/api/spaces/{owner}/{name}")
def space_info(owner: str, name: str, request: Request) -> JSONResponse:
    space = find(f"{owner}/{name}", request)
    if isinstance(space, JSONResponse):
        return space
    step = READS.setdefault(f"{owner}/{name}", 0)
    host = space.get("host")
    return JSONResponse({"_id": "0" * 24, "id": f"{owner}/{name}", "author": owner, "sdk": space.get("sdk", "gradio"),
                         "private": bool(space.get("private")), "likes": 0, "tags": [], "siblings": [],
                         "lastModified": "2026-01-01T00:00:00.000Z", "createdAt": "2026-01-01T00:00:00.000Z",
                         "host": host, "subdomain": f"{owner}-{name}".lower(), "runtime": runtime(space, step)})


@app.get("/api/spaces/{owner}/{name}/runtime")
def space_runtime(owner: str, name: str, request: Request) -> JSONResponse:
    space = find(f"{owner}/{name}", request)
    if isinstance(space, JSONResponse):
        return space
    if space.get("limited", 0) > 0:  # the Hub's rate limit: the client is to wait t seconds
        space["limited"] -= 1
        return JSONResponse({"error": "rate limited"}, status_code=429,
                            headers={"ratelimit": '"api";r=0;t=1', "ratelimit-policy": '"fixed window";"api";q=500;w=300'})
    READS[f"{owner}/{name}"] = step = READS.get(f"{owner}/{name}", 0) + 1
    return JSONResponse(runtime(space, step))


@app.post("/api/spaces/{owner}/{name}/{action}")
async def manage(owner: str, name: str, action: str, request: Request) -> JSONResponse:
    """The owner's actions, restart and pause, answering the new runtime; and duplicate (anyone's)."""
    space = find(f"{owner}/{name}", request)
    if isinstance(space, JSONResponse):
        return space
    if action == "duplicate":
        return await duplicate(space, request)
    refused = owner_of(f"{owner}/{name}", request)
    if refused is not None:
        return refused
    if action == "restart":
        space["held"] = space["paused"] = None
        READS[f"{owner}/{name}"] = -1  # the next runtime read is the first stage
    elif action == "pause":
        space["paused"] = True
    else:
        return JSONResponse({"error": "Not Found"}, status_code=404)
    return JSONResponse(runtime(space, READS.get(f"{owner}/{name}", 0)))


async def duplicate(space: dict, request: Request) -> JSONResponse:
    """The copy starts building on the hardware asked; it is served by the source Space's host.
    The body is kept for the tests (under the copy's `request`)."""
    if not request.headers.get("authorization"):
        return JSONResponse({"error": "You must be logged in"}, status_code=401)
    body = await request.json()
    target = body["repository"]
    if target in SPACES:
        return JSONResponse({"error": "You already created this space repo"}, status_code=409)
    stages = space.get("copy_stages") or ["BUILDING", "APP_STARTING", "RUNNING"]
    SPACES[target] = {**space, "stages": stages, "request": body,
                      "hardware": body.get("hardware", "cpu-basic"), "sleep_time": body.get("sleepTimeSeconds", 172800),
                      "private": body.get("visibility") == "private" or bool(body.get("private")),
                      "token": request.headers["authorization"].removeprefix("Bearer ")}
    return JSONResponse({"url": f"{request.base_url}spaces/{target}"})


@app.get("/api/duplicates/{owner}/{name}")  # not the Hub's: what a duplicate request asked for
def duplicated(owner: str, name: str) -> JSONResponse:
    return JSONResponse(SPACES.get(f"{owner}/{name}", {}).get("request"))


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
