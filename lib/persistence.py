"""What a student did, kept across a reload or a lost connection: conversations, the lab's
experiment and the chosen server, in one SQLite file (the standard library's `sqlite3`, WAL mode)
in the data directory.

Everything belongs to a browser: an unguessable id the browser keeps in its URL (`?s=`, see
lib/ui_persistence.py). Every query names it, so a browser reads, lists and deletes only its own
rows; on a dashboard shared by a class nobody sees a list of anyone else's work. A browser keeps at
most MAX_CONVERSATIONS conversations and MAX_BYTES in all: past that a save is refused with a
message (`StoreFull`), never made room for by deleting something.

Plain Python: the caller gives and gets JSON-ready dicts (lib/chat.py and lib/lab_runner.py say what
is in them). The file is created by the first save, not by reading: a visitor who only looks around
leaves nothing behind.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass

from lib.i18n import Refusal

DATA_DIR_ENV = "COMPANION_DATA_DIR"
FILE_NAME = "companion.sqlite3"
MAX_CONVERSATIONS = 50
MAX_BYTES = 20_000_000
TITLE_LENGTH = 60
_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    browser TEXT NOT NULL, id TEXT NOT NULL, title TEXT NOT NULL, turns INTEGER NOT NULL,
    size INTEGER NOT NULL, used REAL NOT NULL, data TEXT NOT NULL, settings TEXT NOT NULL,
    PRIMARY KEY (browser, id));
CREATE TABLE IF NOT EXISTS browsers (
    id TEXT PRIMARY KEY, server TEXT, experiment TEXT, experiment_size INTEGER NOT NULL DEFAULT 0,
    used REAL NOT NULL);
"""


def data_dir(environ=None) -> pathlib.Path:
    """$COMPANION_DATA_DIR, else $XDG_DATA_HOME/ollama-course-companion, else
    ~/.local/share/ollama-course-companion."""
    environ = os.environ if environ is None else environ
    if environ.get(DATA_DIR_ENV):
        return pathlib.Path(environ[DATA_DIR_ENV])
    base = environ.get("XDG_DATA_HOME") or pathlib.Path.home() / ".local" / "share"
    return pathlib.Path(base) / "ollama-course-companion"


def new_id() -> str:
    return secrets.token_urlsafe(16)


def valid_id(value: object) -> bool:
    """An id this module hands out (a browser's or a conversation's), not any text from a URL."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


class StoreUnreadable(Refusal):
    """The file cannot be opened, read or written (corrupt, not a database, no permission)."""


class StoreFull(Refusal):
    """This browser's bound is reached: what was to be saved is not."""


@dataclass(frozen=True)
class Saved:
    """One line of a browser's list of conversations."""

    id: str
    title: str
    turns: int
    used: float  # time.time() of the last change or opening


@dataclass(frozen=True)
class Conversation:
    id: str
    data: dict
    settings: dict


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def title_of(messages: list[dict]) -> str:
    """The first question, on one line, shortened: what a student recognises a conversation by."""
    first = next((m.get("content") or "" for m in messages if m.get("role") == "user"), "")
    text = " ".join(first.split())
    return text if len(text) <= TITLE_LENGTH else text[: TITLE_LENGTH - 1] + "…"


class Store:
    """The file at `path`. Each call opens its own connection (script runs happen on many threads,
    and several dashboards may share a data directory); WAL lets readers go on during a write."""

    def __init__(self, path: pathlib.Path | str):
        self.path = pathlib.Path(path)

    # ------------------------------------------------------------------------ connections
    def _connect(self, write: bool) -> sqlite3.Connection | None:
        """A connection, or None when reading a file that does not exist yet."""
        if not write and not self.path.exists():
            return None
        try:
            if write:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        except (OSError, sqlite3.Error) as error:
            raise self._unreadable(error) from None
        try:
            if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                connection.execute("PRAGMA journal_mode=WAL")  # kept by the file from then on
            connection.executescript(_SCHEMA)
        except sqlite3.Error as error:
            connection.close()
            raise self._unreadable(error) from None
        return connection

    def _unreadable(self, error: Exception) -> StoreUnreadable:
        return StoreUnreadable("store.unreadable", path=str(self.path), error=str(error))

    def _read(self, query: str, *values) -> list[tuple]:
        connection = self._connect(write=False)
        if connection is None:
            return []
        try:
            return connection.execute(query, values).fetchall()
        except sqlite3.Error as error:
            raise self._unreadable(error) from None
        finally:
            connection.close()

    def _write(self, change) -> object:
        """`change(connection)` in one transaction that holds the write lock from the start, so a
        bound checked in it still holds when the row is written."""
        connection = self._connect(write=True)
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                result = change(connection)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            return result
        except sqlite3.Error as error:
            raise self._unreadable(error) from None
        finally:
            connection.close()

    @staticmethod
    def _used_bytes(connection: sqlite3.Connection, browser: str, leaving_out: str | None = None) -> int:
        conversations = connection.execute(
            "SELECT COALESCE(SUM(size), 0) FROM conversations WHERE browser = ? AND id IS NOT ?",
            (browser, leaving_out)).fetchone()[0]
        lab = connection.execute("SELECT COALESCE(SUM(experiment_size), 0) FROM browsers WHERE id = ?",
                                 (browser,)).fetchone()[0]
        return conversations + lab

    @staticmethod
    def _check_room(used: int, size: int) -> None:
        if used + size > MAX_BYTES:
            raise StoreFull("store.full.size", limit_mb=MAX_BYTES / 1_000_000)  # the page writes it in its language

    # ------------------------------------------------------------------------ conversations
    def save_conversation(self, browser: str, conversation_id: str, data: dict, settings: dict) -> bool:
        """Writes the whole conversation (`data["messages"]` are its turns) and the settings it was
        had with; StoreFull when it would pass this browser's bounds (nothing is written then)."""
        body, chosen = _json(data), _json(settings)
        size = len(body.encode()) + len(chosen.encode())
        title = title_of(data.get("messages") or [])

        def change(connection):
            exists = connection.execute("SELECT 1 FROM conversations WHERE browser = ? AND id = ?",
                                        (browser, conversation_id)).fetchone()
            if not exists:
                count = connection.execute("SELECT COUNT(*) FROM conversations WHERE browser = ?",
                                           (browser,)).fetchone()[0]
                if count >= MAX_CONVERSATIONS:
                    raise StoreFull("store.full.count", limit=MAX_CONVERSATIONS)
            self._check_room(self._used_bytes(connection, browser, conversation_id), size)
            connection.execute(
                "INSERT INTO conversations (browser, id, title, turns, size, used, data, settings) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (browser, id) DO UPDATE SET title = excluded.title, "
                "turns = excluded.turns, size = excluded.size, used = excluded.used, data = excluded.data, "
                "settings = excluded.settings",
                (browser, conversation_id, title, len(data.get("messages") or []), size, time.time(), body, chosen))

        self._write(change)
        return True

    def conversations(self, browser: str) -> list[Saved]:
        """This browser's conversations, the latest used first."""
        rows = self._read("SELECT id, title, turns, used FROM conversations WHERE browser = ? "
                          "ORDER BY used DESC", browser)
        return [Saved(*row) for row in rows]

    def conversation(self, browser: str, conversation_id: str | None = None) -> Conversation | None:
        """One of this browser's conversations; without an id, the one used last."""
        query = "SELECT id, data, settings FROM conversations WHERE browser = ?"
        rows = (self._read(query + " AND id = ?", browser, conversation_id) if conversation_id
                else self._read(query + " ORDER BY used DESC LIMIT 1", browser))
        if not rows:
            return None
        found, data, settings = rows[0]
        try:
            return Conversation(found, json.loads(data), json.loads(settings))
        except ValueError as error:
            raise self._unreadable(error) from None

    def mark_used(self, browser: str, conversation_id: str) -> bool:
        """Opened from the list: it is the one a reload brings back."""
        self._write(lambda c: c.execute("UPDATE conversations SET used = ? WHERE browser = ? AND id = ?",
                                        (time.time(), browser, conversation_id)))
        return True

    def delete_conversation(self, browser: str, conversation_id: str) -> bool:
        """Removed from the file; False when this browser has no such conversation."""
        return self._write(lambda c: c.execute("DELETE FROM conversations WHERE browser = ? AND id = ?",
                                               (browser, conversation_id)).rowcount) > 0

    # ------------------------------------------------------------------------ the browser's rest
    def _save_browser(self, connection, browser: str, column: str, value) -> None:
        connection.execute(f"INSERT INTO browsers (id, {column}, used) VALUES (?, ?, ?) ON CONFLICT (id) "
                           f"DO UPDATE SET {column} = excluded.{column}, used = excluded.used",
                           (browser, value, time.time()))

    def save_server(self, browser: str, url: str) -> bool:
        self._write(lambda c: self._save_browser(c, browser, "server", url))
        return True

    def server(self, browser: str) -> str | None:
        rows = self._read("SELECT server FROM browsers WHERE id = ?", browser)
        return rows[0][0] if rows else None

    def save_experiment(self, browser: str, data: dict) -> bool:
        """The lab's experiment (one per browser: a new one replaces it); StoreFull past the bound."""
        body = _json(data)
        size = len(body.encode())

        def change(connection):
            conversations = connection.execute("SELECT COALESCE(SUM(size), 0) FROM conversations "
                                               "WHERE browser = ?", (browser,)).fetchone()[0]
            self._check_room(conversations, size)
            self._save_browser(connection, browser, "experiment", body)
            connection.execute("UPDATE browsers SET experiment_size = ? WHERE id = ?", (size, browser))

        self._write(change)
        return True

    def experiment(self, browser: str) -> dict | None:
        rows = self._read("SELECT experiment FROM browsers WHERE id = ?", browser)
        if not rows or rows[0][0] is None:
            return None
        try:
            return json.loads(rows[0][0])
        except ValueError as error:
            raise self._unreadable(error) from None
