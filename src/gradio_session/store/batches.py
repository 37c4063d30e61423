"""Batch runs in the repository: one record per output file, its counts and status.

A batch's rows live in its output file, not here, and its calls are not recorded: the
session's call history stays the user's own calls.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from typing import Any

from ..errors import BatchError
from ..models import BatchRecord
from .database import Database


class BatchBook:
    """The `batches` table: start or resume a run for an output, count it, end it, list runs."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def start(self, sessions: list[str], endpoint: str, input: str, output: str, engine: str,
              total: int | None, *, fresh: bool = False) -> BatchRecord:
        """The batch writing `output`: the one recorded (resumed; it must be the same endpoint
        and input), or a new one (`fresh`: the output is not there, a record of it is old news)."""

        def op(db: sqlite3.Connection) -> str:
            if fresh:
                db.execute("DELETE FROM batches WHERE output = ?", (output,))
            row = db.execute("SELECT id, endpoint, input FROM batches WHERE output = ?", (output,)).fetchone()
            now = time.time()
            if row is None:
                batch_id = uuid.uuid4().hex[:12]
                db.execute(
                    "INSERT INTO batches (id, sessions_json, endpoint, input, output, engine, status, total,"
                    " started_at) VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?)",
                    (batch_id, json.dumps(sessions), endpoint, input, output, engine, total, now))
                return batch_id
            if (row["endpoint"], row["input"]) != (endpoint, input):
                raise BatchError(
                    f"{output} holds the rows of another batch ({row['endpoint']} over {row['input']}): "
                    "choose another output file, or remove that one to start again.")
            db.execute("UPDATE batches SET status = 'running', sessions_json = ?, engine = ?, total = ?,"
                       " finished_at = NULL, error = NULL WHERE id = ?",
                       (json.dumps(sessions), engine, total, row["id"]))
            return str(row["id"])

        return self.get(self._db.write(op))

    def count(self, batch_id: str, done: int, failed: int) -> None:
        self._db.write(lambda db: db.execute("UPDATE batches SET done = ?, failed = ? WHERE id = ?",
                                             (done, failed, batch_id)))

    def add_worker(self, batch_id: str, worker: dict[str, Any]) -> None:
        """A Dask worker's own session (name, session_hash, host) ran rows of the batch."""

        def op(db: sqlite3.Connection) -> None:
            row = db.execute("SELECT workers_json FROM batches WHERE id = ?", (batch_id,)).fetchone()
            workers = json.loads(row[0]) if row else []
            if worker not in workers:
                db.execute("UPDATE batches SET workers_json = ? WHERE id = ?",
                           (json.dumps([*workers, worker]), batch_id))

        self._db.write(op)

    def finish(self, batch_id: str, status: str, done: int, failed: int, error: str | None = None) -> None:
        self._db.write(lambda db: db.execute(
            "UPDATE batches SET status = ?, done = ?, failed = ?, error = ?, finished_at = ? WHERE id = ?",
            (status, done, failed, error, time.time(), batch_id)))

    def get(self, batch_id: str) -> BatchRecord:
        row = self._db.read(lambda db: db.execute("SELECT * FROM batches WHERE id = ?", (batch_id,)).fetchone())
        if row is None:
            raise BatchError(f"No batch {batch_id!r}: list them with `gradio-session batches`.")
        return _record(row)

    def list(self) -> list[BatchRecord]:
        """Every batch, oldest first."""
        rows = self._db.read(lambda db: db.execute("SELECT * FROM batches ORDER BY started_at, rowid").fetchall())
        return [_record(r) for r in rows]


def _record(row: sqlite3.Row) -> BatchRecord:
    return BatchRecord(
        id=row["id"], sessions=json.loads(row["sessions_json"]), endpoint=row["endpoint"], input=row["input"],
        output=row["output"], engine=row["engine"], status=row["status"], started_at=row["started_at"],
        total=row["total"], done=row["done"], failed=row["failed"], finished_at=row["finished_at"],
        error=row["error"], workers=json.loads(row["workers_json"]))
