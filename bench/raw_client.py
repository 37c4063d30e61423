"""Minimal raw-httpx clients of Gradio's queue protocol: the floor the library is measured against.

`RawQueueClient` (async): one pooled client, `/queue/join` per call, one `/queue/data` reader
per session routing messages by event id, reopened after `close_stream` while calls are
pending. `RawSyncClient`: one call at a time, `/queue/join` then `/queue/data` read until that
call's `process_completed` - the fastest honest client for calls one after another. No
recording, no validation, no diffs: just the wire.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
from httpx_sse import aconnect_sse


class RawQueueClient:
    def __init__(self, api_url: str, fn_index: int) -> None:
        self.api_url = api_url
        self.fn_index = fn_index
        self.session_hash = uuid.uuid4().hex[:12]
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(60, pool=None),
                                        limits=httpx.Limits(max_connections=64))
        self.pending: dict[str, asyncio.Future[Any]] = {}
        self.early: dict[str, dict[str, Any]] = {}
        self.reader: asyncio.Task[None] | None = None
        self.sem = asyncio.Semaphore(32)
        self.joining = 0  # joins sent but not answered: their messages may already be streaming

    async def call(self, *data: Any) -> Any:
        self.joining += 1
        try:
            async with self.sem:
                r = await self.client.post(f"{self.api_url}/queue/join", json={
                    "data": list(data), "fn_index": self.fn_index, "session_hash": self.session_hash})
        finally:
            self.joining -= 1
        event_id = r.json()["event_id"]
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[event_id] = fut
        if event_id in self.early:
            self._done(self.early.pop(event_id))
        if self.reader is None:
            self.reader = asyncio.create_task(self._read())
        return await fut

    def _done(self, msg: dict[str, Any]) -> None:
        fut = self.pending.pop(msg["event_id"])
        if msg.get("success"):
            fut.set_result(msg["output"]["data"])
        else:
            fut.set_exception(RuntimeError(str(msg["output"])))

    async def _read(self) -> None:
        try:
            while self.pending:
                async with aconnect_sse(self.client, "GET", f"{self.api_url}/queue/data",
                                        params={"session_hash": self.session_hash}) as es:
                    async for sse in es.aiter_sse():
                        msg = json.loads(sse.data)
                        if msg["msg"] == "close_stream":
                            break
                        if msg["msg"] == "process_completed":
                            if msg["event_id"] in self.pending:
                                self._done(msg)
                            else:
                                self.early[msg["event_id"]] = msg
                        # Closing the stream while a join is unanswered loses that call's messages.
                        if not self.pending and not self.joining:
                            break
        finally:
            self.reader = None
            if self.pending:  # a call joined while the reader closed
                self.reader = asyncio.create_task(self._read())

    async def aclose(self) -> None:
        await self.client.aclose()


class RawSyncClient:
    """The bare sync client: a pooled `httpx.Client`, a join, then the session's stream read
    until this call's end. Sequential calls only (the stream is the session's)."""

    def __init__(self, api_url: str, fn_index: int) -> None:
        self.api_url, self.fn_index = api_url, fn_index
        self.session_hash = uuid.uuid4().hex[:12]
        self.client = httpx.Client(timeout=60)

    def call(self, *data: Any) -> Any:
        r = self.client.post(f"{self.api_url}/queue/join", json={
            "data": list(data), "fn_index": self.fn_index, "session_hash": self.session_hash})
        event_id = r.json()["event_id"]
        with self.client.stream("GET", f"{self.api_url}/queue/data", params={"session_hash": self.session_hash}) as s:
            for line in s.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("event_id") == event_id and msg["msg"] == "process_completed":
                    if not msg.get("success"):
                        raise RuntimeError(str(msg["output"]))
                    return msg["output"]["data"]
        raise RuntimeError(f"the stream ended before {event_id} completed")

    def close(self) -> None:
        self.client.close()
