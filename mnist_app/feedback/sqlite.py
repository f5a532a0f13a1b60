"""An SQLite file as the feedback store's database: the embedded default.

The file is kept in WAL mode, so readers never block the writer and several browser
sessions (threads of one server, or several servers) can write at once. Each call opens
its own connection (sqlite3 connections must not cross threads), waits up to
``busy_timeout_s`` for a lock, and writes in one short transaction.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path
from typing import Iterator

from mnist_app.feedback.answers import FeedbackStoreError
from mnist_app.feedback.schema import SCHEMA, ensure_schema


def ensure_wal(connection: sqlite3.Connection, deadline: float) -> None:
    """Put the file in WAL mode (a property of the file: a no-op once done).

    Connections racing to convert a new file get "database is locked" at once, without
    SQLite's busy wait; by the time they look again the winner has converted it.
    """
    while True:
        try:
            if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)  # back-off of a bounded retry while another connection converts


# Files this process has seen in WAL mode with a current schema, by (device, inode, change
# time): the checks cost more than the query of a reading. A file deleted and made again
# may reuse the inode, not the change time (which also moves when the WAL is checkpointed:
# then the checks run once more).
_READY_FILES: set[tuple[int, int, int]] = set()


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_dev, status.st_ino, status.st_ctime_ns


class SQLiteFile:
    """An SQLite file as the store's database (the embedded default). Every call opens,
    uses and closes its own connection: sqlite3 connections must not cross threads, and
    opening one is cheap.

    path: the file; busy_timeout_s: how long a call waits for another writer's lock."""

    schema = SCHEMA.format(id_type="INTEGER PRIMARY KEY AUTOINCREMENT", bytes_type="BLOB")

    def __init__(self, path: Path, busy_timeout_s: float):
        self.path = path
        self.busy_timeout_s = busy_timeout_s

    @property
    def location(self) -> Path:
        """What ``FeedbackStore.path`` is for this store: the file."""
        return self.path

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A fresh connection in autocommit mode (each statement its own transaction,
        unless one is begun explicitly) to a file in WAL mode with a current schema;
        sqlite3 errors become FeedbackStoreError."""
        if not self.path.parent.is_dir():
            raise FeedbackStoreError(f"cannot open the feedback store {self.path}: "
                                     f"the folder {self.path.parent} does not exist")
        connection = None
        try:
            connection = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
            connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
            identity = _identity(self.path)
            if identity is None or identity not in _READY_FILES:
                ensure_wal(connection, time.monotonic() + self.busy_timeout_s)
                ensure_schema(self, connection)
                if (identity := _identity(self.path)) is not None:
                    _READY_FILES.add(identity)
            yield connection
        except sqlite3.Error as exc:
            raise FeedbackStoreError(self._explain(exc)) from exc
        finally:
            if connection is not None:
                connection.close()

    def close(self) -> None:
        """Nothing to close: no connection outlives its call."""

    def schema_version(self, connection: sqlite3.Connection) -> int:
        """0: no store in the file yet; 1: the first version's (no ``user_version``); else ``user_version``."""
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version:
            return version
        has_table = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'answers'").fetchone() is not None
        return 1 if has_table else 0

    @contextlib.contextmanager
    def exclusive(self, connection: sqlite3.Connection) -> Iterator[None]:
        """A transaction holding the file's write lock."""
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def mark_version(self, connection: sqlite3.Connection, version: int) -> None:
        connection.execute(f"PRAGMA user_version = {int(version)}")

    def _explain(self, exc: sqlite3.Error) -> str:
        message, path = str(exc), self.path
        if "locked" in message or "busy" in message:
            return f"the feedback store {path} is busy: another writer held it too long ({message})"
        if "readonly" in message or "read-only" in message:
            return f"the feedback store {path} is read-only ({message})"
        if "not a database" in message:
            return f"{path} is not an SQLite database ({message})"
        if "unable to open" in message:
            return f"cannot open the feedback store {path} ({message})"
        return f"the feedback store {path} failed: {message}"
