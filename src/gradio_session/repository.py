"""The session repository: one SQLite file shared by every process of the user. No network.

WAL mode, short `BEGIN IMMEDIATE` transactions and a retry on "busy" make it safe for many
processes at once; one connection per Repository, guarded by a lock, serves all threads.
"""

from __future__ import annotations

import fnmatch
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from .errors import RepositoryError, SessionExists, SessionNotFound
from .models import TERMINAL_STATUSES, AppInfo, CallRecord, Event, SessionRecord, UploadRecord

T = TypeVar("T")
SCHEMA_VERSION = 3  # 2: uploads; 3: calls.reader
_UNSET: Any = object()
_TERMINAL_MARKS = ",".join("?" * len(TERMINAL_STATUSES))

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    app_url TEXT NOT NULL,
    api_url TEXT NOT NULL,
    session_hash TEXT NOT NULL,
    created_at REAL NOT NULL,
    app_json TEXT NOT NULL,
    download_path TEXT,
    max_calls INTEGER,
    max_calls_policy TEXT NOT NULL DEFAULT 'error',
    has_token INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS calls (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    inputs_json TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    error TEXT,
    reader TEXT,
    PRIMARY KEY (session_id, event_id)
);
CREATE INDEX IF NOT EXISTS calls_by_start ON calls (session_id, started_at);
CREATE TABLE IF NOT EXISTS events (
    session_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    num INTEGER NOT NULL,
    ts REAL NOT NULL,
    name TEXT NOT NULL,
    data_json TEXT,
    PRIMARY KEY (session_id, event_id, num),
    FOREIGN KEY (session_id, event_id) REFERENCES calls (session_id, event_id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS uploads (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    local_path TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    server_path TEXT NOT NULL,
    uploaded_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_by_time ON uploads (session_id, uploaded_at);
"""


def default_home() -> Path:
    """`$GRADIO_SESSION_HOME`, else the user's data directory for the app."""
    env = os.environ.get("GRADIO_SESSION_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("gradio-session", appauthor=False))


class Repository:
    """Sessions, the default session, calls and their events, in `<home>/sessions.db`."""

    def __init__(self, home: Path | str | None = None) -> None:
        self.home = Path(home) if home is not None else default_home()
        self._lock = threading.RLock()
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.home / "sessions.db", timeout=30, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise RepositoryError(f"Can't open the session repository in {self.home}: {exc}") from exc
        self._db.row_factory = sqlite3.Row
        self._retry(self._init_schema)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _init_schema(self) -> None:
        self._db.execute("PRAGMA busy_timeout = 30000")
        self._db.execute("PRAGMA foreign_keys = ON")
        if self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RepositoryError(
                f"The repository in {self.home} was written by a newer gradio-session; upgrade it."
            )
        if version < SCHEMA_VERSION:  # every statement is idempotent: older repos gain new tables
            with self._write() as db:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                if "reader" not in {r[1] for r in db.execute("PRAGMA table_info(calls)")}:
                    db.execute("ALTER TABLE calls ADD COLUMN reader TEXT")
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _retry(self, fn: Callable[[], T]) -> T:
        """Run fn, retrying while another process holds the database (beyond busy_timeout)."""
        delay, deadline = 0.01, time.monotonic() + 120
        while True:
            try:
                with self._lock:
                    return fn()
            except sqlite3.OperationalError as exc:
                busy = "locked" in str(exc) or "busy" in str(exc)
                if not busy or time.monotonic() > deadline:
                    raise RepositoryError(f"Session repository error ({self.home}): {exc}") from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
            except sqlite3.DatabaseError as exc:
                raise RepositoryError(f"Session repository error ({self.home}): {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _default_id(self, db: sqlite3.Connection) -> str | None:
        row = db.execute(
            "SELECT s.id FROM meta m JOIN sessions s ON s.id = m.value WHERE m.key = 'default'"
        ).fetchone()
        if row:
            return str(row[0])
        rows = db.execute("SELECT id FROM sessions LIMIT 2").fetchall()
        return str(rows[0][0]) if len(rows) == 1 else None

    def _record(self, row: sqlite3.Row, default_id: str | None) -> SessionRecord:
        return SessionRecord(
            id=row["id"], name=row["name"], app_url=row["app_url"], api_url=row["api_url"],
            session_hash=row["session_hash"], created_at=row["created_at"],
            app=AppInfo.from_dict(json.loads(row["app_json"])),
            download_path=row["download_path"], max_calls=row["max_calls"],
            max_calls_policy=row["max_calls_policy"], has_token=bool(row["has_token"]),
            is_default=row["id"] == default_id,
        )

    # -- sessions ---------------------------------------------------------------------------

    def create_session(self, record: SessionRecord, *, force: bool = False) -> SessionRecord:
        """Insert a session; with force, replace one of the same name (and its calls)."""

        def op() -> SessionRecord:
            with self._write() as db:
                old = db.execute("SELECT id FROM sessions WHERE name = ?", (record.name,)).fetchone()
                was_default = False
                if old:
                    if not force:
                        raise SessionExists(
                            f"A session named {record.name!r} exists already. Pick another --name, "
                            "or re-create it with --force."
                        )
                    was_default = self._default_id(db) == old["id"]
                    db.execute("DELETE FROM sessions WHERE id = ?", (old["id"],))
                first = db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
                db.execute(
                    "INSERT INTO sessions (id, name, app_url, api_url, session_hash, created_at,"
                    " app_json, download_path, max_calls, max_calls_policy, has_token)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (record.id, record.name, record.app_url, record.api_url, record.session_hash,
                     record.created_at, json.dumps(record.app.to_dict()), record.download_path,
                     record.max_calls, record.max_calls_policy, int(record.has_token)),
                )
                if first or was_default:
                    db.execute("INSERT OR REPLACE INTO meta VALUES ('default', ?)", (record.id,))
                row = db.execute("SELECT * FROM sessions WHERE id = ?", (record.id,)).fetchone()
                return self._record(row, self._default_id(db))

        return self._retry(op)

    def get_session(self, ref: str = ".") -> SessionRecord:
        """One session by name, id, or `.` for the default."""

        def op() -> SessionRecord:
            default_id = self._default_id(self._db)
            if ref == ".":
                if default_id is None:
                    raise SessionNotFound(self._no_default_message())
                row = self._db.execute("SELECT * FROM sessions WHERE id = ?", (default_id,)).fetchone()
            else:
                row = self._db.execute(
                    "SELECT * FROM sessions WHERE name = ? OR id = ? ORDER BY name = ? DESC",
                    (ref, ref, ref),
                ).fetchone()
            if row is None:
                names = [r[0] for r in self._db.execute("SELECT name FROM sessions ORDER BY name")]
                raise SessionNotFound(
                    f"No session named {ref!r}. "
                    + (f"Sessions: {', '.join(names)}." if names else "There are no sessions yet: "
                       "create one with `gradio-session new URL`.")
                )
            return self._record(row, default_id)

        return self._retry(op)

    def _no_default_message(self) -> str:
        count = self._db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
        if count == 0:
            return "There are no sessions yet: create one with `gradio-session new URL`."
        return "No default session: name one (--session NAME) or pick a default with `gradio-session use NAME`."

    def list_sessions(self, pattern: str = "*") -> list[SessionRecord]:
        """Sessions whose name matches a glob pattern (`*` all, `.` the default, or an id)."""

        def op() -> list[SessionRecord]:
            default_id = self._default_id(self._db)
            rows = self._db.execute("SELECT * FROM sessions ORDER BY created_at, name").fetchall()
            if pattern == ".":
                return [self._record(r, default_id) for r in rows if r["id"] == default_id]
            return [
                self._record(r, default_id)
                for r in rows
                if fnmatch.fnmatchcase(r["name"], pattern) or r["id"] == pattern
            ]

        return self._retry(op)

    def set_default(self, ref: str) -> SessionRecord:
        record = self.get_session(ref)

        def op() -> None:
            with self._write() as db:
                db.execute("INSERT OR REPLACE INTO meta VALUES ('default', ?)", (record.id,))

        self._retry(op)
        return self.get_session(record.id)

    def update_session(
        self, ref: str, *, max_calls: Any = _UNSET, max_calls_policy: Any = _UNSET,
        download_path: Any = _UNSET,
    ) -> SessionRecord:
        """Change a session's options; an option not given is left as it is."""
        record = self.get_session(ref)
        changes = {k: v for k, v in (("max_calls", max_calls), ("max_calls_policy", max_calls_policy),
                                     ("download_path", download_path)) if v is not _UNSET}
        if changes:
            def op() -> None:
                with self._write() as db:
                    sets = ", ".join(f"{k} = ?" for k in changes)
                    db.execute(f"UPDATE sessions SET {sets} WHERE id = ?", (*changes.values(), record.id))

            self._retry(op)
        return self.get_session(record.id)

    def remove_sessions(self, pattern: str) -> list[SessionRecord]:
        """Remove the sessions matching a name, id, `.` or glob, with their calls and events."""
        records = self.list_sessions(pattern)
        if not records:
            raise SessionNotFound(f"No session matches {pattern!r}.")

        def op() -> None:
            with self._write() as db:
                for r in records:
                    db.execute("DELETE FROM sessions WHERE id = ?", (r.id,))
                db.execute("DELETE FROM meta WHERE key = 'default' AND value NOT IN (SELECT id FROM sessions)")

        self._retry(op)
        return records

    # -- calls and events ---------------------------------------------------------------------

    def add_call(self, call: CallRecord) -> None:
        def op() -> None:
            with self._write() as db:
                db.execute(
                    "INSERT INTO calls (session_id, event_id, endpoint, inputs_json, status, started_at,"
                    " reader) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (call.session_id, call.event_id, call.endpoint, _dumps(call.inputs), call.status,
                     call.started_at, call.reader),
                )

        self._retry(op)

    def add_event(self, session_id: str, event_id: str, event: Event, *, status: str | None = None,
                  error: str | None = None, finished: bool = False) -> None:
        """Record one event and, in the same transaction, the call's new status."""

        def op() -> None:
            with self._write() as db:
                db.execute(  # a call forgotten (with force) while it runs records no more events
                    "INSERT OR IGNORE INTO events SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS"
                    " (SELECT 1 FROM calls WHERE session_id = ? AND event_id = ?)",
                    (session_id, event_id, event.num, event.ts, event.name, _dumps(event.data),
                     session_id, event_id),
                )
                if status:
                    db.execute(
                        "UPDATE calls SET status = ?, error = COALESCE(?, error),"
                        " finished_at = CASE WHEN ? THEN ? ELSE finished_at END"
                        " WHERE session_id = ? AND event_id = ?",
                        (status, error, finished, event.ts, session_id, event_id),
                    )

        self._retry(op)

    def set_call_status(self, session_id: str, event_id: str, status: str, *, error: str | None = None,
                        finished_at: float | None = None, if_running: bool = False) -> None:
        """Set a call's status; with if_running, only if it has not ended meanwhile."""

        def op() -> None:
            with self._write() as db:
                db.execute(
                    "UPDATE calls SET status = ?, error = COALESCE(?, error),"
                    " finished_at = COALESCE(?, finished_at) WHERE session_id = ? AND event_id = ?"
                    + (f" AND status NOT IN ({_TERMINAL_MARKS})" if if_running else ""),
                    (status, error, finished_at, session_id, event_id,
                     *(sorted(TERMINAL_STATUSES) if if_running else ())),
                )

        self._retry(op)

    def claim_call(self, session_id: str, event_id: str | None, reader: str) -> list[CallRecord]:
        """Become the reader of running calls joined for the session's holder (reader unset):
        the one of `event_id`, or all of them. Returns the calls claimed."""
        where = (f"session_id = ? AND reader IS NULL AND status NOT IN ({_TERMINAL_MARKS})"
                 " AND (? IS NULL OR event_id = ?)")
        args = (session_id, *sorted(TERMINAL_STATUSES), event_id, event_id)

        def op() -> list[str]:
            if self._db.execute(f"SELECT 1 FROM calls WHERE {where} LIMIT 1", args).fetchone() is None:
                return []  # the usual answer, without taking the write lock
            with self._write() as db:
                ids = [str(r[0]) for r in db.execute(f"SELECT event_id FROM calls WHERE {where}", args)]
                db.execute(f"UPDATE calls SET reader = ? WHERE {where}", (reader, *args))
                return ids

        return [c for i in self._retry(op) for c in self.list_calls(session_id, event_id=i)]

    def list_calls(self, session_id: str, status: str | None = None,
                   event_id: str | None = None) -> list[CallRecord]:
        """The session's calls oldest first, optionally of one status or one event id."""

        def op() -> list[CallRecord]:
            rows = self._db.execute(
                "SELECT c.*, (SELECT MIN(e.ts) FROM events e WHERE e.session_id = c.session_id"
                " AND e.event_id = c.event_id AND e.name = 'started') - c.started_at AS queue_wait"
                " FROM calls c WHERE c.session_id = ? AND (? IS NULL OR c.status = ?)"
                " AND (? IS NULL OR c.event_id = ?) ORDER BY c.started_at, c.rowid",
                (session_id, status, status, event_id, event_id),
            ).fetchall()
            return [
                CallRecord(event_id=r["event_id"], session_id=r["session_id"], endpoint=r["endpoint"],
                           inputs=json.loads(r["inputs_json"]), status=r["status"],
                           started_at=r["started_at"], finished_at=r["finished_at"], error=r["error"],
                           queue_wait=r["queue_wait"], reader=r["reader"])
                for r in rows
            ]

        return self._retry(op)

    def get_call(self, session_id: str, event_id: str) -> CallRecord | None:
        calls = self.list_calls(session_id, event_id=event_id)
        return calls[0] if calls else None

    def call_limit(self, session_id: str) -> tuple[int | None, str]:
        """(max_calls, max_calls_policy) as stored now: another process may have changed them."""

        def op() -> tuple[int | None, str]:
            row = self._db.execute("SELECT max_calls, max_calls_policy FROM sessions WHERE id = ?",
                                   (session_id,)).fetchone()
            if row is None:
                raise SessionNotFound(f"The session {session_id} was removed.")
            return row[0], row[1]

        return self._retry(op)

    def count_calls(self, session_id: str) -> int:
        return self._retry(
            lambda: int(self._db.execute("SELECT COUNT(*) FROM calls WHERE session_id = ?",
                                         (session_id,)).fetchone()[0])
        )

    def events(self, session_id: str, event_id: str, *, after: int = 0) -> list[Event]:
        """A call's recorded events numbered above `after`, in order."""

        def op() -> list[Event]:
            rows = self._db.execute(
                "SELECT num, ts, name, data_json FROM events WHERE session_id = ? AND event_id = ?"
                " AND num > ? ORDER BY num", (session_id, event_id, after),
            ).fetchall()
            return [Event(r[0], r[1], r[2], json.loads(r[3]) if r[3] is not None else None) for r in rows]

        return self._retry(op)

    def forget_calls(self, session_id: str, *, event_id: str | None = None,
                     statuses: frozenset[str] | None = None, limit: int | None = None,
                     dry_run: bool = False) -> list[str]:
        """Forget the session's calls (oldest first) of one event id and/or of these statuses,
        at most `limit`; with dry_run nothing goes. Returns their event ids."""

        def op() -> list[str]:
            with self._write() as db:
                marks = ",".join("?" * len(statuses or ()))
                rows = db.execute(
                    "SELECT event_id FROM calls WHERE session_id = ? AND (? IS NULL OR event_id = ?)"
                    + (f" AND status IN ({marks})" if statuses is not None else "")
                    + " ORDER BY started_at, rowid LIMIT ?",
                    (session_id, event_id, event_id, *sorted(statuses or ()), -1 if limit is None else limit),
                ).fetchall()
                if not dry_run:
                    db.executemany("DELETE FROM calls WHERE session_id = ? AND event_id = ?",
                                   [(session_id, r[0]) for r in rows])
                return [str(r[0]) for r in rows]

        return self._retry(op)

    # -- uploads ------------------------------------------------------------------------------

    def add_uploads(self, uploads: list[UploadRecord]) -> None:
        def op() -> None:
            with self._write() as db:
                db.executemany(
                    "INSERT INTO uploads (session_id, local_path, size, sha256, server_path, uploaded_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [(u.session_id, u.local_path, u.size, u.sha256, u.server_path, u.uploaded_at)
                     for u in uploads],
                )

        self._retry(op)

    def list_uploads(self, session_id: str) -> list[UploadRecord]:
        def op() -> list[UploadRecord]:
            rows = self._db.execute(
                "SELECT session_id, local_path, size, sha256, server_path, uploaded_at FROM uploads"
                " WHERE session_id = ? ORDER BY uploaded_at, rowid", (session_id,),
            ).fetchall()
            return [UploadRecord(*r) for r in rows]

        return self._retry(op)

    def count_uploads(self, session_id: str) -> int:
        return self._retry(
            lambda: int(self._db.execute("SELECT COUNT(*) FROM uploads WHERE session_id = ?",
                                         (session_id,)).fetchone()[0])
        )


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)
