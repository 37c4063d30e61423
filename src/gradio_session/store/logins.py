"""A session's logins to its app in the repository: who, when, and whether the app took it.

Never the password: that is a secret (`secrets`)."""

from __future__ import annotations

import sqlite3

from ..models import Login
from .database import Database


class LoginBook:
    """The `logins` table: add one, the last ones of a session."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, session_id: str, login: Login) -> None:
        self._db.write(lambda db: db.execute(
            "INSERT INTO logins (session_id, username, at, ok, message) SELECT ?, ?, ?, ?, ?"
            " WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?)",  # a session removed meanwhile: nothing
            (session_id, login.username, login.at, int(login.ok), login.message, session_id)))

    def recent(self, session_id: str, limit: int = 20) -> list[Login]:
        """The session's last logins, newest first."""

        def op(db: sqlite3.Connection) -> list[Login]:
            rows = db.execute("SELECT username, at, ok, message FROM logins WHERE session_id = ?"
                              " ORDER BY at DESC LIMIT ?", (session_id, limit)).fetchall()
            return [Login(r["username"], r["at"], bool(r["ok"]), r["message"]) for r in rows]

        return self._db.read(op)
