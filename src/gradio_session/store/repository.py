"""The session repository: sessions, the default, calls and their events, uploads. No network.

One SQLite file (see `database.py`) shared by every process of the user. Methods are short
transactions; the async core runs them on the store's worker thread (`worker.py`).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import sqlite3
import tempfile
import unicodedata
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from .. import paths, private
from ..errors import RepositoryError, SessionError, SessionExists, SessionNotFound
from ..models import TERMINAL_STATUSES, AppInfo, CallRecord, Event, Network, SessionRecord, UploadRecord
from .batches import BatchBook
from .logins import LoginBook
from .database import SCHEMA_VERSION, Database

__all__ = ["GLOB_CHARS", "SCHEMA_VERSION", "Repository", "check_name"]

_UNSET: Any = object()
_TERMINAL_MARKS = ",".join("?" * len(TERMINAL_STATUSES))
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # `new` makes 12 hex digits; never a path
GLOB_CHARS = "*?[]"  # they make a name a pattern in `list` and `remove`
_WRITABLE_HINT = f"Set {paths.HOME_ENV} to a writable folder."


def check_name(name: str) -> str:
    """`name` if it can name a session, else SessionError saying why. A name is one word or
    `owner/name` (Hugging Face Spaces): no glob characters, control characters, surrounding
    whitespace or backslash, and no empty, `.` or `..` part between slashes, since it also
    names a folder under the repository and must stay inside it."""
    why = None
    if not name:
        why = "it is empty"
    elif name == ".":
        why = "'.' stands for the default session"
    elif name != name.strip():
        why = "it starts or ends with whitespace"
    elif any(unicodedata.category(c) == "Cc" for c in name):
        why = "it contains a control character"
    elif any(c in GLOB_CHARS for c in name):
        why = "'*', '?', '[' and ']' make a pattern in `list` and `remove`"
    elif "\\" in name:
        why = "it contains a backslash (use '/' for owner/name)"
    elif any(part in ("", ".", "..") for part in name.split("/")):
        why = "its parts between slashes can't be empty, '.' or '..' (use a word or owner/name)"
    if why:
        raise SessionError(f"{name!r} can't name a session: {why}. Pick another name.")
    return name


class Repository:
    """Sessions, the default session, calls and their events, in `<home>/sessions.db`."""

    def __init__(self, home: Path | str | None = None) -> None:
        self.home = paths.home(home)
        try:
            self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise RepositoryError(f"Can't create the session repository folder {self.home}: "
                                  f"{exc.strerror or exc}. {_WRITABLE_HINT}") from exc
        private.folder(self.home)  # the user's alone, or a clear refusal
        try:
            private.private_file(paths.database(self.home))
            self._db = Database(paths.database(self.home))
            self.batches = BatchBook(self._db)
            self.logins = LoginBook(self._db)
        except (RepositoryError, OSError) as exc:
            unwritable = self._unwritable()
            if unwritable is not None:
                raise unwritable from exc
            if isinstance(exc, OSError):
                raise RepositoryError(f"Can't open the session repository {paths.database(self.home)}: "
                                      f"{exc.strerror or exc}.") from exc
            raise

    def _unwritable(self) -> RepositoryError | None:
        """Why the repository can't be opened when the folder or the file is read-only, the
        usual cause of SQLite's "unable to open database file"; None when it is not that."""
        try:
            with tempfile.TemporaryFile(dir=self.home):
                pass
        except OSError as exc:
            return RepositoryError(f"The session repository folder {self.home} is not writable: "
                                   f"{exc.strerror or exc}. {_WRITABLE_HINT}")
        db = paths.database(self.home)
        if db.exists() and not os.access(db, os.R_OK | os.W_OK):
            return RepositoryError(f"The session repository {db} is not readable and writable by you. "
                                   f"{_WRITABLE_HINT}")
        return None

    def close(self) -> None:
        self._db.close()

    @staticmethod
    def _default_id(db: sqlite3.Connection) -> str | None:
        row = db.execute(
            "SELECT s.id FROM meta m JOIN sessions s ON s.id = m.value WHERE m.key = 'default'"
        ).fetchone()
        if row:
            return str(row[0])
        rows = db.execute("SELECT id FROM sessions LIMIT 2").fetchall()
        return str(rows[0][0]) if len(rows) == 1 else None

    @staticmethod
    def _record(row: sqlite3.Row, default_id: str | None) -> SessionRecord:
        if not _ID.fullmatch(row["id"]):  # it names files (locks, logs, tokens): never a path
            raise RepositoryError(f"The repository holds a session id that can't be one ({row['id']!r}): "
                                  "it was changed by hand or by someone else. Remove that session.")
        return SessionRecord(
            id=row["id"], name=row["name"], app_url=row["app_url"], api_url=row["api_url"],
            session_hash=row["session_hash"], created_at=row["created_at"],
            app=AppInfo.from_dict(json.loads(row["app_json"])),
            download_path=row["download_path"], max_calls=row["max_calls"],
            max_calls_policy=row["max_calls_policy"], has_secrets=bool(row["has_token"]),
            is_default=row["id"] == default_id, space=row["space"], token_source=row["token_source"],
            network=Network.from_dict(json.loads(row["network_json"] or "{}")),
        )

    # -- sessions ---------------------------------------------------------------------------

    def create_session(self, record: SessionRecord, *, force: bool = False) -> SessionRecord:
        """Insert a session; with force, replace one of the same name (and its calls)."""
        check_name(record.name)

        def op(db: sqlite3.Connection) -> SessionRecord:
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
                " app_json, download_path, max_calls, max_calls_policy, has_token, space, token_source, network_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.id, record.name, record.app_url, record.api_url, record.session_hash,
                 record.created_at, json.dumps(record.app.to_dict()), record.download_path,
                 record.max_calls, record.max_calls_policy, int(record.has_secrets), record.space,
                 record.token_source, json.dumps(record.network.stored())),
            )
            if first or was_default:
                db.execute("INSERT OR REPLACE INTO meta VALUES ('default', ?)", (record.id,))
            row = db.execute("SELECT * FROM sessions WHERE id = ?", (record.id,)).fetchone()
            return self._record(row, self._default_id(db))

        return self._db.write(op)

    def get_session(self, ref: str = ".") -> SessionRecord:
        """One session by name, id, or `.` for the default."""

        def op(db: sqlite3.Connection) -> SessionRecord:
            default_id = self._default_id(db)
            if ref == ".":
                if default_id is None:
                    raise SessionNotFound(self._no_default_message(db))
                row = db.execute("SELECT * FROM sessions WHERE id = ?", (default_id,)).fetchone()
            else:
                row = db.execute(
                    "SELECT * FROM sessions WHERE name = ? OR id = ? ORDER BY name = ? DESC",
                    (ref, ref, ref),
                ).fetchone()
            if row is None:
                names = [r[0] for r in db.execute("SELECT name FROM sessions ORDER BY name")]
                raise SessionNotFound(
                    f"No session named {ref!r}. "
                    + (f"Sessions: {', '.join(names)}." if names else "There are no sessions yet: "
                       "create one with `gradio-session new URL`.")
                )
            return self._record(row, default_id)

        return self._db.read(op)

    @staticmethod
    def _no_default_message(db: sqlite3.Connection) -> str:
        if db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0:
            return "There are no sessions yet: create one with `gradio-session new URL`."
        return "No default session: name one (--session NAME) or pick a default with `gradio-session use NAME`."

    def list_sessions(self, pattern: str = "*") -> list[SessionRecord]:
        """Sessions whose name matches a glob pattern (`*` all, `.` the default, or an id)."""

        def op(db: sqlite3.Connection) -> list[SessionRecord]:
            default_id = self._default_id(db)
            rows = db.execute("SELECT * FROM sessions ORDER BY created_at, name").fetchall()
            if pattern == ".":
                return [self._record(r, default_id) for r in rows if r["id"] == default_id]
            return [self._record(r, default_id) for r in rows
                    if fnmatch.fnmatchcase(r["name"], pattern) or r["id"] == pattern]

        return self._db.read(op)

    def set_default(self, ref: str) -> SessionRecord:
        record = self.get_session(ref)
        self._db.write(lambda db: db.execute("INSERT OR REPLACE INTO meta VALUES ('default', ?)", (record.id,)))
        return self.get_session(record.id)

    def update_session(
        self, ref: str, *, max_calls: Any = _UNSET, max_calls_policy: Any = _UNSET,
        download_path: Any = _UNSET, network: Any = _UNSET, has_secrets: Any = _UNSET,
    ) -> SessionRecord:
        """Change a session's options; an option not given is left as it is."""
        record = self.get_session(ref)
        changes = {k: v for k, v in (("max_calls", max_calls), ("max_calls_policy", max_calls_policy),
                                     ("download_path", download_path), ("has_token", has_secrets),
                                     ("network_json", network if network is _UNSET else json.dumps(network.stored())))
                   if v is not _UNSET}
        if changes:
            sets = ", ".join(f"{k} = ?" for k in changes)
            self._db.write(lambda db: db.execute(f"UPDATE sessions SET {sets} WHERE id = ?",
                                                 (*changes.values(), record.id)))
        return self.get_session(record.id)

    def remove_session(self, ref: str) -> SessionRecord:
        """Remove exactly one session (by name, id, or `.` for the default) with its calls
        and events; a glob character in `ref` is part of the name."""
        record = self.get_session(ref)
        if not self._delete([record]):
            raise SessionNotFound(f"The session {ref!r} was removed meanwhile.")
        return record

    def remove_sessions(self, pattern: str) -> list[SessionRecord]:
        """Remove the sessions matching a glob, id or `.`, with their calls and events."""
        records = self.list_sessions(pattern)
        if not records:
            raise SessionNotFound(f"No session matches {pattern!r}.")
        self._delete(records)
        return records

    def _delete(self, records: list[SessionRecord]) -> int:
        """Delete these sessions (their calls and events cascade); how many were still there."""

        def op(db: sqlite3.Connection) -> int:
            gone = sum(db.execute("DELETE FROM sessions WHERE id = ?", (r.id,)).rowcount for r in records)
            db.execute("DELETE FROM meta WHERE key = 'default' AND value NOT IN (SELECT id FROM sessions)")
            return gone

        return self._db.write(op)

    # -- calls and events ---------------------------------------------------------------------

    def add_call(self, call: CallRecord) -> None:
        self._db.write(lambda db: db.execute(
            "INSERT INTO calls (session_id, event_id, endpoint, inputs_json, status, started_at, reader,"
            " finished_at, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (call.session_id, call.event_id, call.endpoint, _dumps(call.inputs), call.status,
             call.started_at, call.reader, call.finished_at, call.error),
        ))

    def add_event(self, session_id: str, event_id: str, event: Event, *, status: str | None = None,
                  error: str | None = None, finished: bool = False) -> None:
        """Record one event and, in the same transaction, the call's new status."""

        def op(db: sqlite3.Connection) -> None:
            db.execute(  # a call forgotten (with force) while it runs records no more events
                "INSERT OR IGNORE INTO events SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS"
                " (SELECT 1 FROM calls WHERE session_id = ? AND event_id = ?)",
                (session_id, event_id, event.num, event.ts, event.name, _dumps(event.data),
                 session_id, event_id),
            )
            if status:  # an event on the way never undoes an end recorded meanwhile (a cancel)
                db.execute(
                    "UPDATE calls SET status = ?, error = COALESCE(?, error),"
                    " finished_at = CASE WHEN ? THEN ? ELSE finished_at END"
                    f" WHERE session_id = ? AND event_id = ? AND (? OR status NOT IN ({_TERMINAL_MARKS}))",
                    (status, error, finished, event.ts, session_id, event_id, finished, *sorted(TERMINAL_STATUSES)),
                )

        self._db.write(op)

    def set_call_status(self, session_id: str, event_id: str, status: str, *, error: str | None = None,
                        finished_at: float | None = None, if_running: bool = False) -> None:
        """Set a call's status; with if_running, only if it has not ended meanwhile."""
        self._db.write(lambda db: db.execute(
            "UPDATE calls SET status = ?, error = COALESCE(?, error),"
            " finished_at = COALESCE(?, finished_at) WHERE session_id = ? AND event_id = ?"
            + (f" AND status NOT IN ({_TERMINAL_MARKS})" if if_running else ""),
            (status, error, finished_at, session_id, event_id,
             *(sorted(TERMINAL_STATUSES) if if_running else ())),
        ))

    def set_fed_by(self, session_id: str, event_id: str, fed_by: dict[str, Any]) -> None:
        """Record the call whose result fed this one (`{"session", "event_id"}`)."""
        self._db.write(lambda db: db.execute("UPDATE calls SET fed_by = ? WHERE session_id = ? AND event_id = ?",
                                             (_dumps(fed_by), session_id, event_id)))

    def claim_call(self, session_id: str, event_id: str | None, reader: str) -> list[CallRecord]:
        """Become the reader of running calls joined for the session's holder (reader unset):
        the one of `event_id`, or all of them. Returns the calls claimed."""
        where = (f"session_id = ? AND reader IS NULL AND status NOT IN ({_TERMINAL_MARKS})"
                 " AND (? IS NULL OR event_id = ?)")
        args = (session_id, *sorted(TERMINAL_STATUSES), event_id, event_id)
        if self._db.read(lambda db: db.execute(f"SELECT 1 FROM calls WHERE {where} LIMIT 1", args).fetchone()) is None:
            return []  # the usual answer, without taking the write lock

        def op(db: sqlite3.Connection) -> list[str]:
            ids = [str(r[0]) for r in db.execute(f"SELECT event_id FROM calls WHERE {where}", args)]
            db.execute(f"UPDATE calls SET reader = ? WHERE {where}", (reader, *args))
            return ids

        return [c for i in self._db.write(op) for c in self.list_calls(session_id, event_id=i)]

    def list_calls(self, session_id: str, status: str | None = None,
                   event_id: str | None = None) -> list[CallRecord]:
        """The session's calls oldest first, optionally of one status or one event id."""
        rows = self._db.read(lambda db: db.execute(
            "SELECT c.*, (SELECT MIN(e.ts) FROM events e WHERE e.session_id = c.session_id"
            " AND e.event_id = c.event_id AND e.name = 'started') - c.started_at AS queue_wait"
            " FROM calls c WHERE c.session_id = ? AND (? IS NULL OR c.status = ?)"
            " AND (? IS NULL OR c.event_id = ?) ORDER BY c.started_at, c.rowid",
            (session_id, status, status, event_id, event_id),
        ).fetchall())
        return [
            CallRecord(event_id=r["event_id"], session_id=r["session_id"], endpoint=r["endpoint"],
                       inputs=json.loads(r["inputs_json"]), status=r["status"],
                       started_at=r["started_at"], finished_at=r["finished_at"], error=r["error"],
                       queue_wait=r["queue_wait"], reader=r["reader"],
                       fed_by=json.loads(r["fed_by"]) if r["fed_by"] else None)
            for r in rows
        ]

    def get_call(self, session_id: str, event_id: str) -> CallRecord | None:
        calls = self.list_calls(session_id, event_id=event_id)
        return calls[0] if calls else None

    def call_limit(self, session_id: str) -> tuple[int | None, str, int]:
        """(max_calls, max_calls_policy, calls recorded) as stored now: another process may
        have changed them."""

        def op(db: sqlite3.Connection) -> tuple[int | None, str, int]:
            row = db.execute("SELECT max_calls, max_calls_policy FROM sessions WHERE id = ?",
                             (session_id,)).fetchone()
            if row is None:
                raise SessionNotFound(f"The session {session_id} was removed.")
            if not row[0]:
                return None, row[1], 0  # no limit: no need to count
            return row[0], row[1], self._count(db, "calls", session_id)

        return self._db.read(op)

    def count_calls(self, session_id: str) -> int:
        return self._db.read(lambda db: self._count(db, "calls", session_id))

    def count_uploads(self, session_id: str) -> int:
        return self._db.read(lambda db: self._count(db, "uploads", session_id))

    @staticmethod
    def _count(db: sqlite3.Connection, table: str, session_id: str) -> int:
        return int(db.execute(f"SELECT COUNT(*) FROM {table} WHERE session_id = ?", (session_id,)).fetchone()[0])

    def events(self, session_id: str, event_id: str, *, after: int = 0) -> list[Event]:
        """A call's recorded events numbered above `after`, in order."""
        rows = self._db.read(lambda db: db.execute(
            "SELECT num, ts, name, data_json FROM events WHERE session_id = ? AND event_id = ?"
            " AND num > ? ORDER BY num", (session_id, event_id, after),
        ).fetchall())
        return [Event(r[0], r[1], r[2], json.loads(r[3]) if r[3] is not None else None) for r in rows]

    def set_app(self, session_id: str, api_url: str, app: AppInfo) -> None:
        """The app's API as read again (it was redeployed): the session keeps its hash and calls."""
        self._db.write(lambda db: db.execute("UPDATE sessions SET api_url = ?, app_json = ? WHERE id = ?",
                                             (api_url, json.dumps(app.to_dict()), session_id)))

    def beat(self, session_id: str) -> None:
        """The session's stream carried a heartbeat: one write, however many calls are in flight."""
        self._db.write(lambda db: db.execute("UPDATE sessions SET beats = beats + 1 WHERE id = ?", (session_id,)))

    def call_news(self, session_id: str, event_id: str, after: int
                  ) -> tuple[CallRecord | None, list[Event], int]:
        """A followed call's record, its events above `after` and the session's heartbeat count:
        the status first, since a call's final event is committed with it."""
        def beats(db: sqlite3.Connection) -> int:
            row = db.execute("SELECT beats FROM sessions WHERE id = ?", (session_id,)).fetchone()
            return int(row[0]) if row else 0

        return (self.get_call(session_id, event_id), self.events(session_id, event_id, after=after),
                self._db.read(beats))

    def forget_calls(self, session_id: str, *, event_id: str | None = None,
                     statuses: frozenset[str] | None = None, limit: int | None = None,
                     dry_run: bool = False) -> list[str]:
        """Forget the session's calls (oldest first) of one event id and/or of these statuses,
        at most `limit`; with dry_run nothing goes. Returns their event ids."""

        def op(db: sqlite3.Connection) -> list[str]:
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

        return self._db.write(op)

    # -- uploads ------------------------------------------------------------------------------

    def add_uploads(self, uploads: list[UploadRecord]) -> None:
        self._db.write(lambda db: db.executemany(
            "INSERT INTO uploads (session_id, local_path, size, sha256, server_path, uploaded_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(u.session_id, u.local_path, u.size, u.sha256, u.server_path, u.uploaded_at) for u in uploads],
        ))

    def list_uploads(self, session_id: str) -> list[UploadRecord]:
        rows = self._db.read(lambda db: db.execute(
            "SELECT session_id, local_path, size, sha256, server_path, uploaded_at FROM uploads"
            " WHERE session_id = ? ORDER BY uploaded_at, rowid", (session_id,),
        ).fetchall())
        return [UploadRecord(*r) for r in rows]

    def add_downloads(self, session_id: str, downloads: list[tuple[str, str, int]], at: float) -> None:
        """Record a result's files downloaded here, (local path, url, size) each: only these go
        back to an app as local files (see `files.as_upload`)."""
        self._db.write(lambda db: db.executemany(
            "INSERT INTO downloads (session_id, local_path, url, size, downloaded_at) VALUES (?, ?, ?, ?, ?)",
            [(session_id, *d, at) for d in downloads]))

    def downloaded(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (local path, url) pairs some session of this repository downloaded."""
        return self._db.read(lambda db: {key for key in set(keys) if db.execute(
            "SELECT 1 FROM downloads WHERE local_path = ? AND url = ? LIMIT 1", key).fetchone()})

    def batch(self) -> AbstractContextManager[None]:
        """This thread's writes in the block share one transaction (see Database.batch)."""
        return self._db.batch()


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)
