"""The SQLite file under the repository: connections, schema and migrations, transactions.

WAL mode lets readers go on while one process writes. Each thread has its own connection;
writes are short `BEGIN IMMEDIATE` transactions, retried while another process holds the file.
Inside `batch()` every write of the thread joins one transaction (the store worker's batches).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from ..errors import RepositoryError

T = TypeVar("T")
SCHEMA_VERSION = 9  # 2: uploads; 3: calls.reader; 4: sessions.beats; 5: sessions.space, token_source;
# 6: calls.fed_by; 7: batches; 8: downloads; 9: sessions.network_json, logins
BUSY_RETRY_S = 120.0  # beyond SQLite's own 30 s busy timeout

SCHEMA = """
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
    has_token INTEGER NOT NULL DEFAULT 0,
    beats INTEGER NOT NULL DEFAULT 0,
    space TEXT,
    token_source TEXT,
    network_json TEXT
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
    fed_by TEXT,
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
CREATE TABLE IF NOT EXISTS logins (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    username TEXT NOT NULL,
    at REAL NOT NULL,
    ok INTEGER NOT NULL,
    message TEXT
);
CREATE INDEX IF NOT EXISTS logins_by_time ON logins (session_id, at);
CREATE TABLE IF NOT EXISTS downloads (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    local_path TEXT NOT NULL,
    url TEXT NOT NULL,
    size INTEGER NOT NULL,
    downloaded_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS downloads_by_path ON downloads (local_path);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    sessions_json TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT NOT NULL UNIQUE,
    engine TEXT NOT NULL,
    status TEXT NOT NULL,
    total INTEGER,
    done INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    started_at REAL NOT NULL,
    finished_at REAL,
    error TEXT,
    workers_json TEXT NOT NULL DEFAULT '[]'
);
"""


class Database:
    """One SQLite file: a connection per thread, transactions, retries, the schema."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        self.read(self._init_schema)

    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
                db.row_factory = sqlite3.Row
                db.execute("PRAGMA busy_timeout = 30000")
                db.execute("PRAGMA foreign_keys = ON")
                db.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.Error as exc:
                raise RepositoryError(f"Can't open the session repository {self.path}: {exc}") from exc
            self._local.db = db
            self._local.batch = None
            with self._opened_lock:
                self._opened.append(db)
        return db

    def close(self) -> None:
        """Close every thread's connection."""
        with self._opened_lock:
            for db in self._opened:
                db.close()
            self._opened.clear()
        self._local = threading.local()

    def _init_schema(self, db: sqlite3.Connection) -> None:
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute("PRAGMA journal_mode = WAL")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RepositoryError(f"The repository {self.path} was written by a newer gradio-session; upgrade it.")
        if version < SCHEMA_VERSION:  # every statement is idempotent: older repos gain new tables
            self.write(self._migrate)

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        call_columns = {r[1] for r in db.execute("PRAGMA table_info(calls)")}
        for column in ("reader", "fed_by"):
            if column not in call_columns:
                db.execute(f"ALTER TABLE calls ADD COLUMN {column} TEXT")
        columns = {r[1] for r in db.execute("PRAGMA table_info(sessions)")}
        for column, kind in (("beats", "INTEGER NOT NULL DEFAULT 0"), ("space", "TEXT"), ("token_source", "TEXT"),
                             ("network_json", "TEXT")):
            if column not in columns:
                db.execute(f"ALTER TABLE sessions ADD COLUMN {column} {kind}")
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a query function on this thread's connection (retried while the file is busy)."""
        return self._retry(lambda: fn(self._connection()))

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn in a write transaction: its own, or the enclosing batch's."""
        db = self._connection()
        batch = self._local.batch
        if batch is not None:
            if not batch:
                db.execute("BEGIN IMMEDIATE")
                batch.append(True)
            return fn(db)

        def transaction() -> T:
            db.execute("BEGIN IMMEDIATE")
            try:
                result = fn(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return result

        return self._retry(transaction)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Writes of this thread inside the block share one transaction, begun at the first
        write and committed at the end (rolled back whole on any error); inside another batch,
        that one's."""
        db = self._connection()
        if self._local.batch is not None:
            yield
            return
        begun: list[bool] = []
        self._local.batch = begun
        try:
            yield
        except BaseException:
            if begun:
                db.execute("ROLLBACK")
            raise
        else:
            if begun:
                self._retry(lambda: db.execute("COMMIT"))
        finally:
            self._local.batch = None

    def _retry(self, fn: Callable[[], T]) -> T:
        """Run fn, retrying while another process holds the database (beyond busy_timeout)."""
        delay, deadline = 0.01, time.monotonic() + BUSY_RETRY_S
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                busy = "locked" in str(exc) or "busy" in str(exc)
                if not busy or time.monotonic() > deadline:
                    raise RepositoryError(f"Session repository error ({self.path}): {exc}") from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
            except sqlite3.DatabaseError as exc:
                raise RepositoryError(f"Session repository error ({self.path}): {exc}") from exc
