"""What users told us about the model's readings, kept in an SQLite file or a PostgreSQL database.

Every answer holds the 28x28 input the model saw, the original crop of the drawing
or photo, what the model read, what the digit really is, the ten probabilities,
the model version, the time (UTC) and where it came from ("draw" or "photo"), the
handwriting profile of the visitor who gave it, and the operator's review ("accepted"
for training, "rejected", or none yet).

A store opened ``for_profile(name)`` reads, counts, exports and deletes only that
profile's answers, and stores new ones under it: what the pages use, so no visitor
sees or changes another's digits. The plain store sees all: the operator's view and
training (which takes only accepted answers, ``training_split``).

Where the answers are is ``MNIST_FEEDBACK_DB`` (or ``FeedbackStore(location)``):

* a file path (the default, ``feedback.sqlite3`` in the repository root): one embedded
  SQLite file in WAL mode, so readers never block the writer and several browser
  sessions (threads of one server, or several servers) can write at once. Each call
  opens its own connection (sqlite3 connections must not cross threads), waits up to
  ``busy_timeout_s`` for a lock, and writes in one short transaction.
* a ``postgresql://user:password@host:port/database`` URL: a PostgreSQL database that
  several app servers can share. Each process keeps a few open connections for its
  threads to reuse (``_ConnectionPool``), and reads the schema version when it opens
  one; locks are waited for up to ``busy_timeout_s``, connecting up to ``CONNECT_TIMEOUT_S``.

Both run the same SQL (``?`` placeholders; the PostgreSQL side turns them into ``%s``)
through a thin database object, ``SQLiteFile`` or ``PostgresDatabase``, which connects,
keeps the schema version and turns the driver's errors into ``FeedbackStoreError``: a
message fit to show a user (a locked, read-only or corrupt file, a server that cannot
be reached, a wrong password, a database that does not exist), never with a password
in it. The schema has a version (SQLite's ``user_version``, PostgreSQL's one-row
``schema_version`` table); a store made by an older version of the app is migrated
when first opened, one made by a newer one is refused with a message.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import os
import re
import select
import sqlite3
import threading
import time
import urllib.parse
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from PIL import Image

from mnist_app import PROJECT_ROOT
from mnist_app.data import encode_idx

try:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict
except ImportError:  # only PostgreSQL stores need it; FeedbackStoreError says so when one is used
    psycopg = None

DB_ENV = "MNIST_FEEDBACK_DB"
DEFAULT_DB_PATH = PROJECT_ROOT / "feedback.sqlite3"
SOURCES = ("draw", "photo")
BUSY_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 3  # libpq counts whole seconds, at least 2
POOL_SIZE = 8  # open PostgreSQL connections per process and database, at most
MAX_CONNECTION_AGE_S = 300.0  # then a pooled connection is replaced, and the schema version read again
URL_SCHEMES = ("postgresql://", "postgres://")
IDX_IMAGES_NAME = "feedback-images-idx3-ubyte.gz"
IDX_LABELS_NAME = "feedback-labels-idx1-ubyte.gz"

SCHEMA_VERSION = 2
PROFILE_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
REVIEWS = ("accepted", "rejected")
PENDING = "pending"  # the ``review`` filter for answers not reviewed yet

# The current schema; the two databases spell two column types differently ({id_type}, {bytes_type}).
_SCHEMA = """
CREATE TABLE answers (
    id            {id_type},
    created_at    TEXT    NOT NULL,  -- UTC, ISO 8601
    source        TEXT    NOT NULL CHECK (source IN ('draw', 'photo')),
    predicted     INTEGER NOT NULL CHECK (predicted BETWEEN 0 AND 9),
    label         INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    probabilities TEXT    NOT NULL,  -- JSON list of 10 floats
    model_version TEXT    NOT NULL,
    image         {bytes_type} NOT NULL,  -- 784 bytes: uint8 28x28, row-major, 0 = background
    crop_png      {bytes_type},           -- the original crop, PNG
    profile       TEXT    NOT NULL DEFAULT '',  -- the visitor's handwriting profile ('' = none)
    review        TEXT    CHECK (review IN ('accepted', 'rejected'))  -- NULL: not reviewed
);
CREATE INDEX answers_by_profile ON answers (profile, id);
"""
# From schema version N to N + 1, the same SQL on both databases. Version 1 had no
# version mark (SQLite's user_version reads 0; PostgreSQL has no schema_version table).
_MIGRATIONS = {
    1: """
ALTER TABLE answers ADD COLUMN profile TEXT NOT NULL DEFAULT '';
ALTER TABLE answers ADD COLUMN review TEXT CHECK (review IN ('accepted', 'rejected'));
CREATE INDEX answers_by_profile ON answers (profile, id);
""",
}
_FILTERS = ("id", "label", "predicted", "source", "model_version", "review")
_COLUMNS = ("id, created_at, source, predicted, label, probabilities, model_version, image, crop_png, "
            "profile, review")
_NO_LIMIT = 2**63 - 1  # LIMIT for "all rows": SQLite takes no NULL there, PostgreSQL no -1


class FeedbackStoreError(RuntimeError):
    """The feedback store cannot be read or written; the message says why, for a user."""


@dataclass(frozen=True)
class Answer:
    """One stored answer. image: uint8 (28, 28); probabilities: float32 (10,)."""

    id: int
    created_at: str
    source: str
    predicted: int
    label: int
    probabilities: np.ndarray
    model_version: str
    image: np.ndarray
    crop_png: bytes | None
    profile: str = ""
    review: str | None = None

    @property
    def confidence(self) -> float:
        """The probability the model gave to the digit it read."""
        return float(self.probabilities[self.predicted])

    @property
    def corrected(self) -> bool:
        return self.label != self.predicted

    @property
    def image_name(self) -> str:
        """File name of the 28x28 PNG in exports."""
        return f"images/{self.id:06d}_label{self.label}.png"


def is_database_url(location: Path | str) -> bool:
    """Whether ``location`` names a PostgreSQL database (a ``postgresql://`` URL, a str)
    rather than an SQLite file."""
    return isinstance(location, str) and location.lower().startswith(URL_SCHEMES)


def default_db_path() -> Path | str:
    """``$MNIST_FEEDBACK_DB`` if set (a PostgreSQL URL as its str, anything else as a Path),
    else ``feedback.sqlite3`` in the repository root."""
    location = os.environ.get(DB_ENV)
    if not location:
        return DEFAULT_DB_PATH
    return location if is_database_url(location) else Path(location)


def image_to_uint8(image28: np.ndarray) -> np.ndarray:
    """float32 (28, 28) in [0, 1] (the model's input) or uint8 (28, 28) -> uint8 (28, 28)."""
    image28 = np.asarray(image28)
    if image28.shape != (28, 28):
        raise ValueError(f"expected a 28x28 image, got shape {image28.shape}")
    if image28.dtype == np.uint8:
        return image28
    return np.round(np.clip(image28, 0.0, 1.0) * 255).astype(np.uint8)


def png_bytes(image: np.ndarray) -> bytes:
    """uint8 (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA -> PNG file bytes."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def check_profile(name: str) -> str:
    """``name`` if it can name a profile (1-64 letters, digits, '-' or '_'), else ValueError."""
    if not isinstance(name, str) or not PROFILE_PATTERN.fullmatch(name):
        raise ValueError(f"a profile name is 1-64 letters, digits, '-' or '_', not {name!r}")
    return name


def _where(filters: dict, profile: str | None = None) -> tuple[str, list]:
    """SQL ``WHERE`` clause and its values for ``filters`` (None = any) within ``profile``."""
    unknown = set(filters) - set(_FILTERS)
    if unknown:
        raise TypeError(f"unknown filter(s) {sorted(unknown)}; use {_FILTERS}")
    clauses, values = [], []
    if profile is not None:
        clauses.append("profile = ?")
        values.append(profile)
    for name, value in filters.items():
        if value is None:
            continue
        if name == "review" and value == PENDING:
            clauses.append("review IS NULL")
            continue
        clauses.append(f"{name} = ?")
        values.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), values


def _row_to_answer(row: tuple) -> Answer:
    answer_id, created_at, source, predicted, label, probabilities, version, image, crop_png, profile, review = row
    return Answer(
        id=answer_id,
        created_at=created_at,
        source=source,
        predicted=predicted,
        label=label,
        probabilities=np.asarray(json.loads(probabilities), np.float32),
        model_version=version,
        image=np.frombuffer(image, np.uint8).reshape(28, 28).copy(),
        crop_png=crop_png,
        profile=profile,
        review=review,
    )


def _run_script(connection, script: str) -> None:
    """Run the ``;``-separated statements of ``script`` one by one (none has a ``;`` inside)."""
    for statement in script.split(";"):
        if statement.strip():
            connection.execute(statement)


def _refuse_newer(version: int, database: SQLiteFile | PostgresDatabase) -> None:
    if version > SCHEMA_VERSION:
        raise FeedbackStoreError(f"the feedback store {database.location} was made by a newer version of this app "
                                 f"(schema {version}; this one reads up to {SCHEMA_VERSION}): update the app")


def _ensure_schema(database: SQLiteFile | PostgresDatabase, connection) -> None:
    """Create the tables in a new store, migrate one made by an older version of the app,
    refuse one made by a newer one. One connection at a time does it (``database.exclusive``);
    the others then find the version current. Costs one query once it is.

    connection: what ``database.connect`` yields."""
    version = database.schema_version(connection)
    if version == SCHEMA_VERSION:
        return
    _refuse_newer(version, database)
    with database.exclusive(connection):
        version = database.schema_version(connection)  # another process may have done it meanwhile
        if version == 0:
            _run_script(connection, database.schema)
        else:
            for step in range(version, SCHEMA_VERSION):
                _run_script(connection, _MIGRATIONS[step])
        if version < SCHEMA_VERSION:
            database.mark_version(connection, SCHEMA_VERSION)
    _refuse_newer(version, database)


def _ensure_wal(connection: sqlite3.Connection, deadline: float) -> None:
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


class SQLiteFile:
    """An SQLite file as the store's database (the embedded default). Every call opens,
    uses and closes its own connection: sqlite3 connections must not cross threads, and
    opening one is cheap.

    path: the file; busy_timeout_s: how long a call waits for another writer's lock."""

    schema = _SCHEMA.format(id_type="INTEGER PRIMARY KEY AUTOINCREMENT", bytes_type="BLOB")

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
            _ensure_wal(connection, time.monotonic() + self.busy_timeout_s)
            _ensure_schema(self, connection)
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


def _without_password(url: str) -> str:
    """``url`` with its password, in the user part or a ``password=`` parameter, as ``***``."""
    scheme, _, rest = url.partition("://")
    credentials, at, address = rest.rpartition("@")
    if at and ":" in credentials:
        rest = f"{credentials.split(':', 1)[0]}:***@{address}"
    return re.sub(r"(?i)(password=)[^&]*", r"\1***", f"{scheme}://{rest}")


def _closed_by_server(connection: psycopg.Connection) -> bool:
    """Whether the server closed an idle connection (a restart, an administrator ending it):
    its goodbye is waiting to be read, where nothing else is ever sent to an idle one."""
    if connection.closed:
        return True
    poller = select.poll()
    poller.register(connection.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class _ConnectionPool:
    """Open connections to one PostgreSQL database, reused by this process's threads.

    A call takes an idle connection, or opens one with ``open_connection`` when none is
    idle, and gives it back after; at most ``size`` are in use at once, and a call waits
    up to ``wait_s`` for one to come free. A connection the server closed while it was
    idle is noticed before use and replaced, so a restarted server costs no error; each
    is replaced after ``MAX_CONNECTION_AGE_S``, so a long-running process reads the
    schema version again now and then. name: the database, for messages."""

    def __init__(self, open_connection: Callable[[], psycopg.Connection], wait_s: float, name: str,
                 size: int = POOL_SIZE):
        self._open = open_connection
        self.wait_s = wait_s
        self.name = name
        self.size = size
        self._idle: list[tuple[psycopg.Connection, float]] = []  # (connection, when opened)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)
        self._closed = False

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        if not self._slots.acquire(timeout=self.wait_s):
            raise FeedbackStoreError(f"the feedback store {self.name} is busy: all {self.size} connections "
                                     f"of this process stayed in use for {self.wait_s:g} s")
        try:
            connection, opened = self._take()
            try:
                yield connection
            finally:
                self._give_back(connection, opened)
        finally:
            self._slots.release()

    def _take(self) -> tuple[psycopg.Connection, float]:
        while True:
            with self._lock:
                if not self._idle:
                    break
                connection, opened = self._idle.pop()
            if time.monotonic() - opened < MAX_CONNECTION_AGE_S and not _closed_by_server(connection):
                return connection, opened
            connection.close()
        return self._open(), time.monotonic()

    def _give_back(self, connection: psycopg.Connection, opened: float) -> None:
        idle = connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE  # not lost, not mid-way
        with self._lock:
            if idle and not self._closed:
                self._idle.append((connection, opened))
                return
        connection.close()

    def close(self) -> None:
        """Close the idle connections; those in use are closed when given back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection, _ in idle:
            connection.close()


_POOLS: dict[tuple[str, float], _ConnectionPool] = {}  # by (URL, busy_timeout_s), for this process
_POOLS_LOCK = threading.Lock()
# The server shutting down or starting up (admin_shutdown, crash_shutdown, cannot_connect_now),
# and how libpq says a connection died.
_SERVER_GONE = ("57P01", "57P02", "57P03")
_CONNECTION_LOST = ("server closed the connection", "connection is lost", "consuming input failed")
_SCHEMA_LOCK_KEY = 0x6D6E6973745F6662  # pg_advisory_xact_lock key of schema changes ("mnist_fb")


class _PostgresConnection:
    """A psycopg connection taking the shared SQL: ``?`` placeholders become ``%s`` (none
    of the store's SQL has a literal ``?`` or ``%``). connection: psycopg.Connection."""

    def __init__(self, connection: psycopg.Connection):
        self.connection = connection

    def execute(self, sql: str, parameters: tuple | list = ()) -> psycopg.Cursor:
        return self.connection.execute(sql.replace("?", "%s"), parameters or None)


class PostgresDatabase:
    """A PostgreSQL database as the store's database, named by a ``postgresql://`` URL.

    It also stands where a file store's Path does (``FeedbackStore.path``): ``str()`` is
    the URL without its password, ``exists()`` whether the database holds a store.

    url: ``postgresql://user:password@host:port/database``, libpq's URL (its parameters,
    e.g. ``?sslmode=require``, included); busy_timeout_s: how long a statement waits for a
    lock, and a call for a free connection of the process's pool."""

    schema = _SCHEMA.format(id_type="BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", bytes_type="BYTEA")

    def __init__(self, url: str, busy_timeout_s: float):
        self._url = url
        self.busy_timeout_s = busy_timeout_s
        self.safe_url = _without_password(url)

    def __str__(self) -> str:
        return self.safe_url

    def __repr__(self) -> str:
        return f"PostgresDatabase({self.safe_url!r})"

    @property
    def location(self) -> PostgresDatabase:
        """What ``FeedbackStore.path`` is for this store: the database itself."""
        return self

    def exists(self) -> bool:
        """Whether the database holds a feedback store; creates nothing. FeedbackStoreError
        when it cannot be reached."""
        with self._errors_explained(), self._open_unchecked() as connection:
            return self.schema_version(_PostgresConnection(connection)) > 0

    @contextlib.contextmanager
    def connect(self) -> Iterator[_PostgresConnection]:
        """A pooled connection in autocommit mode to a database with a current schema;
        psycopg errors become FeedbackStoreError."""
        with self._errors_explained(), self._pool().connection() as connection:
            yield _PostgresConnection(connection)

    def close(self) -> None:
        """Close this process's idle connections to the database."""
        with _POOLS_LOCK:
            pools = [_POOLS.pop(key) for key in list(_POOLS) if key[0] == self._url]
        for pool in pools:
            pool.close()

    def schema_version(self, connection: _PostgresConnection) -> int:
        """0: no store in the database yet; 1: the first version's (no ``schema_version``
        table); else the version in that table."""
        # pg_tables, not to_regclass: a query sees tables that another connection created
        # meanwhile (to_regclass may answer from this connection's stale cache of names).
        has_answers, has_version = connection.execute(
            "SELECT COUNT(*) FILTER (WHERE tablename = 'answers') > 0, "
            "COUNT(*) FILTER (WHERE tablename = 'schema_version') > 0 "
            "FROM pg_tables WHERE schemaname = current_schema()").fetchone()
        if has_version:
            return int(connection.execute("SELECT MAX(version) FROM schema_version").fetchone()[0])
        return 1 if has_answers else 0

    @contextlib.contextmanager
    def exclusive(self, connection: _PostgresConnection) -> Iterator[None]:
        """A transaction holding the store's schema lock: several processes opening a new
        database at once create its tables once."""
        with connection.connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK_KEY,))
            yield

    def mark_version(self, connection: _PostgresConnection, version: int) -> None:
        connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")  # one row
        connection.execute("DELETE FROM schema_version")
        connection.execute("INSERT INTO schema_version (version) VALUES (?)", (int(version),))

    # --- connecting -----------------------------------------------------------------------
    def _parameters(self) -> dict[str, str]:
        """libpq's connection parameters of the URL; FeedbackStoreError if it is malformed."""
        try:
            parameters = conninfo_to_dict(self._url)
        except psycopg.ProgrammingError as exc:
            reason = " ".join(str(exc).replace(self._url, self.safe_url).split())
            raise FeedbackStoreError(f"the feedback store URL {self} is malformed ({reason}); expected "
                                     "postgresql://user:password@host:port/database") from None
        if not all(port.isdigit() for port in str(parameters.get("port", "5432")).split(",")):
            raise FeedbackStoreError(f"the feedback store URL {self} is malformed (the port is not a number); "
                                     "expected postgresql://user:password@host:port/database")
        return parameters

    def _open_unchecked(self) -> psycopg.Connection:
        """A new connection in autocommit mode, with short timeouts unless the URL sets them."""
        defaults = {
            "connect_timeout": CONNECT_TIMEOUT_S,
            # Sent data unacknowledged this long (ms) means a vanished server: fail, don't hang.
            "tcp_user_timeout": 10_000,
            "application_name": "mnist_app",
        }
        parameters = self._parameters()
        return psycopg.connect(self._url, autocommit=True,
                               **{name: value for name, value in defaults.items() if name not in parameters})

    def _open(self) -> psycopg.Connection:
        """A new connection for the pool: lock waits bounded, the schema current."""
        connection = self._open_unchecked()
        try:
            connection.execute(f"SET lock_timeout = {round(self.busy_timeout_s * 1000)}")
            _ensure_schema(self, _PostgresConnection(connection))
        except BaseException:
            connection.close()
            raise
        return connection

    def _pool(self) -> _ConnectionPool:
        key = (self._url, self.busy_timeout_s)
        with _POOLS_LOCK:
            if key not in _POOLS:
                self._parameters()  # a malformed URL fails here, before any pool
                _POOLS[key] = _ConnectionPool(self._open, self.busy_timeout_s, str(self))
            return _POOLS[key]

    @contextlib.contextmanager
    def _errors_explained(self) -> Iterator[None]:
        if psycopg is None:
            raise FeedbackStoreError(f"the feedback store {self} is a PostgreSQL database, but the psycopg "
                                     "package is missing: pip install -r requirements.txt")
        try:
            yield
        except psycopg.Error as exc:
            raise FeedbackStoreError(self._explain(exc)) from exc

    def _explain(self, exc: psycopg.Error) -> str:
        parameters = self._parameters()
        message = " ".join(str(exc).split())  # libpq's lines and tabs, on one line
        reason = exc.diag.message_primary or message  # the server's words, without the statement quoted
        if parameters.get("password"):
            message, reason = (text.replace(parameters["password"], "***") for text in (message, reason))
        host = parameters.get("host") or "localhost"
        server = host if host.startswith("/") else f"{host}:{parameters.get('port') or 5432}"
        if exc.sqlstate == "55P03":  # lock_not_available: lock_timeout passed
            return f"the feedback store {self} is busy: another connection held a lock too long ({reason})"
        if "password authentication failed" in message or re.search(r'role "[^"]*" does not exist', message):
            return f"the feedback store {self} refused the login: wrong user name or password"
        if re.search(r'database "[^"]*" does not exist', message):
            return (f"the feedback store {self}: there is no database {parameters.get('dbname')!r} on {server}; "
                    f"create it (createdb) or correct the URL")
        if "Connection refused" in message or "No such file or directory" in message:
            return f"cannot reach the feedback store {self}: nothing is listening on {server} (is PostgreSQL running?)"
        if "timeout expired" in message:
            seconds = parameters.get("connect_timeout", CONNECT_TIMEOUT_S)
            return f"cannot reach the feedback store {self}: {server} did not answer within {seconds} s"
        if "resolve host" in message or "translate host name" in message:
            return f"cannot reach the feedback store {self}: unknown host {host}"
        if exc.sqlstate in _SERVER_GONE or any(sign in message for sign in _CONNECTION_LOST):
            return f"lost the connection to the feedback store {self} (is the server restarting?): try again"
        return f"the feedback store {self} failed: {reason}"


class FeedbackStore:
    """The answers in one SQLite file or PostgreSQL database. Safe to use from many
    threads and processes.

    location: a file path (SQLite) or a ``postgresql://`` URL (PostgreSQL); None for
    ``default_db_path()``. busy_timeout_s: how long a call waits for another writer's
    lock. profile: None for the whole store; a name for one visitor's part of it (see
    ``for_profile``)."""

    def __init__(self, location: Path | str | None = None, busy_timeout_s: float = BUSY_TIMEOUT_S,
                 profile: str | None = None):
        self._location = default_db_path() if location is None else location
        if isinstance(self._location, Path) and is_database_url(str(self._location).replace(":/", "://", 1)):
            # Path() folds a URL's "//" (argparse's type=Path does it); refused, and not echoed: it may hold a password.
            raise FeedbackStoreError("a postgresql:// URL was turned into a file path (Path folds its '//'): "
                                     "pass the URL as a str")
        self.busy_timeout_s = busy_timeout_s
        self.profile = None if profile is None else check_profile(profile)
        self._database = (PostgresDatabase(self._location, busy_timeout_s) if is_database_url(self._location)
                          else SQLiteFile(Path(self._location), busy_timeout_s))

    @property
    def path(self) -> Path | PostgresDatabase:
        """Where the answers are: the SQLite file's Path, or the PostgresDatabase, which
        also has ``exists()`` and whose ``str()`` is its URL without the password."""
        return self._database.location

    def __repr__(self) -> str:
        scope = "" if self.profile is None else f", profile={self.profile!r}"
        return f"FeedbackStore({str(self.path)!r}{scope})"

    def for_profile(self, profile: str) -> FeedbackStore:
        """The same store, seen as one profile: every read, count, export and delete is
        limited to its answers, and ``add`` stores under it."""
        return FeedbackStore(self._location, self.busy_timeout_s, profile)

    def close(self) -> None:
        """Close this process's idle connections to the store's database (a PostgreSQL
        store keeps a few open between calls, an SQLite one none). The store stays usable:
        the next call connects again."""
        self._database.close()

    def _connect(self):
        """A connection to the store's database, with ``execute(sql, parameters)`` taking
        ``?`` placeholders; errors become FeedbackStoreError."""
        return self._database.connect()

    # --- writing --------------------------------------------------------------------
    def add(self, image28: np.ndarray, label: int, predicted: int, probabilities: np.ndarray,
            model_version: str, source: str, crop_png: bytes | None = None,
            created_at: datetime | None = None) -> int:
        """Store one answer; returns its id.

        image28: float32 (28, 28) in [0, 1] or uint8 (28, 28), the model's input;
        probabilities: (10,) floats; crop_png: the original crop as PNG bytes.
        """
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
        for name, digit in (("label", label), ("predicted", predicted)):
            if int(digit) not in range(10):
                raise ValueError(f"{name} must be a digit 0-9, not {digit!r}")
        probabilities = [float(p) for p in np.asarray(probabilities, np.float64).ravel()]
        if len(probabilities) != 10:
            raise ValueError(f"expected 10 probabilities, got {len(probabilities)}")
        created_at = (created_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
        row = (
            created_at.isoformat(timespec="milliseconds"),
            source,
            int(predicted),
            int(label),
            json.dumps(probabilities),
            str(model_version),
            image_to_uint8(image28).tobytes(),
            crop_png,
            self.profile or "",
        )
        with self._connect() as connection:
            # fetchall: SQLite commits a RETURNING statement once it has run to its end.
            [(answer_id,)] = connection.execute(
                "INSERT INTO answers (created_at, source, predicted, label, probabilities, "
                "model_version, image, crop_png, profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                row).fetchall()
            return int(answer_id)

    def delete(self, answer_id: int) -> bool:
        """Remove one answer; False if there was none with that id (in this profile)."""
        where, values = _where({"id": int(answer_id)}, self.profile)
        with self._connect() as connection:
            return connection.execute(f"DELETE FROM answers{where}", values).rowcount == 1

    def delete_all(self) -> int:
        """Remove every answer of this profile; returns how many. Only from a profile."""
        if self.profile is None:
            raise PermissionError("delete_all empties one profile; open the store for_profile(name)")
        where, values = _where({}, self.profile)
        with self._connect() as connection:
            return connection.execute(f"DELETE FROM answers{where}", values).rowcount

    def set_review(self, answer_id: int, review: str | None) -> bool:
        """The operator's decision on one answer: "accepted" (train on it), "rejected", or
        None (undecided). Only on the whole store; False if there is no such answer."""
        if self.profile is not None:
            raise PermissionError("answers are reviewed on the whole store, not from a profile")
        if review is not None and review not in REVIEWS:
            raise ValueError(f"review must be one of {REVIEWS} or None, not {review!r}")
        with self._connect() as connection:
            return connection.execute("UPDATE answers SET review = ? WHERE id = ?",
                                      (review, int(answer_id))).rowcount == 1

    def profiles(self) -> list[tuple[str, int]]:
        """(profile, number of answers) for every profile with answers, most answers first."""
        where, values = _where({}, self.profile)
        with self._connect() as connection:
            rows = connection.execute(f"SELECT profile, COUNT(*) FROM answers{where} GROUP BY profile",
                                      values).fetchall()
        # Ordered here: a PostgreSQL database's collation may order names otherwise than SQLite.
        return sorted(((name, int(n)) for name, n in rows), key=lambda row: (-row[1], row[0]))

    # --- reading ----------------------------------------------------------------------
    def list_answers(self, *, limit: int | None = None, offset: int = 0, newest_first: bool = True,
                     **filters) -> list[Answer]:
        """Answers matching ``filters`` (id, label, predicted, source, model_version,
        review, where ``PENDING`` means none yet; None = any), newest first, ``limit`` of
        them from ``offset``."""
        where, values = _where(filters, self.profile)
        order = "DESC" if newest_first else "ASC"
        query = f"SELECT {_COLUMNS} FROM answers{where} ORDER BY id {order} LIMIT ? OFFSET ?"
        with self._connect() as connection:
            rows = connection.execute(query, [*values, _NO_LIMIT if limit is None else int(limit), int(offset)])
            return [_row_to_answer(row) for row in rows.fetchall()]

    def get(self, answer_id: int) -> Answer | None:
        """The answer with this id, or None (also when it belongs to another profile)."""
        where, values = _where({"id": int(answer_id)}, self.profile)
        with self._connect() as connection:
            row = connection.execute(f"SELECT {_COLUMNS} FROM answers{where}", values).fetchone()
        return _row_to_answer(row) if row else None

    def count(self, **filters) -> int:
        where, values = _where(filters, self.profile)
        with self._connect() as connection:
            return int(connection.execute(f"SELECT COUNT(*) FROM answers{where}", values).fetchone()[0])

    def labels_and_predictions(self, **filters) -> tuple[np.ndarray, np.ndarray]:
        """True labels and model readings, uint8 (n,) each, oldest first."""
        where, values = _where(filters, self.profile)
        with self._connect() as connection:
            rows = connection.execute(f"SELECT label, predicted FROM answers{where} ORDER BY id",
                                      values).fetchall()
        pairs = np.asarray(rows, np.uint8).reshape(-1, 2)
        return pairs[:, 0].copy(), pairs[:, 1].copy()

    def revision(self) -> tuple[int, int]:
        """(number of answers, highest id) in this scope: changes whenever an answer is
        added or deleted (answers are never edited), so a cache of them can check it cheaply."""
        where, values = _where({}, self.profile)
        with self._connect() as connection:
            count, highest = connection.execute(f"SELECT COUNT(*), COALESCE(MAX(id), 0) FROM answers{where}",
                                                values).fetchone()
        return int(count), int(highest)

    def ids(self) -> np.ndarray:
        """The ids of every answer in this scope, int64 (n,), oldest first."""
        where, values = _where({}, self.profile)
        with self._connect() as connection:
            rows = connection.execute(f"SELECT id FROM answers{where} ORDER BY id", values).fetchall()
        return np.asarray(rows, np.int64).reshape(-1)

    def examples_after(self, answer_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Answers with an id above ``answer_id``: ids int64 (n,), images uint8 (n, 28, 28)
        and labels uint8 (n,), oldest first (what a cache of them has not seen yet)."""
        where, values = _where({}, self.profile)
        where = f"{where} AND id > ?" if where else " WHERE id > ?"
        with self._connect() as connection:
            rows = connection.execute(f"SELECT id, image, label FROM answers{where} ORDER BY id",
                                      [*values, int(answer_id)]).fetchall()
        ids = np.asarray([r[0] for r in rows], np.int64)
        images = (np.stack([np.frombuffer(r[1], np.uint8).reshape(28, 28) for r in rows]) if rows
                  else np.zeros((0, 28, 28), np.uint8))
        return ids, images, np.asarray([r[2] for r in rows], np.uint8)

    def model_versions(self) -> list[str]:
        """The model versions answers were given about, most recent first."""
        where, values = _where({}, self.profile)
        with self._connect() as connection:
            rows = connection.execute(f"SELECT model_version FROM answers{where} GROUP BY model_version "
                                      "ORDER BY MAX(id) DESC", values).fetchall()
        return [version for (version,) in rows]

    def images_and_labels(self, **filters) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For training: ids int64 (n,), images uint8 (n, 28, 28), labels uint8 (n,), oldest first."""
        answers = self.list_answers(newest_first=False, **filters)
        ids = np.asarray([a.id for a in answers], np.int64)
        images = np.stack([a.image for a in answers]) if answers else np.zeros((0, 28, 28), np.uint8)
        labels = np.asarray([a.label for a in answers], np.uint8)
        return ids, images, labels

    # --- exports (oldest first, so exports are stable as answers arrive) ----------------
    def export_csv(self) -> bytes:
        """One row per answer: id, time, source, label, predicted, confidence, model
        version and the image's file name inside ``export_png_zip``."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["id", "created_at", "source", "label", "predicted", "confidence",
                         "model_version", "image_file"])
        for a in self.list_answers(newest_first=False):
            writer.writerow([a.id, a.created_at, a.source, a.label, a.predicted,
                             f"{a.confidence:.6f}", a.model_version, a.image_name])
        return buffer.getvalue().encode()

    def export_png_zip(self) -> bytes:
        """A zip of ``labels.csv``, ``images/<id>_label<d>.png`` (28x28) and
        ``crops/<id>.png`` (the original crops)."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("labels.csv", self.export_csv())
            for a in self.list_answers(newest_first=False):
                archive.writestr(a.image_name, png_bytes(a.image))
                if a.crop_png:
                    archive.writestr(f"crops/{a.id:06d}.png", a.crop_png)
        return buffer.getvalue()

    def export_idx(self) -> dict[str, bytes]:
        """The answers as MNIST-format files, gzip'd: ``{file name: bytes}`` for the
        images (idx3) and the true labels (idx1); readable by ``mnist_app.data.load_idx``."""
        _, images, labels = self.images_and_labels()
        return {
            IDX_IMAGES_NAME: gzip.compress(encode_idx(images), mtime=0),
            IDX_LABELS_NAME: gzip.compress(encode_idx(labels), mtime=0),
        }


def training_split(store: FeedbackStore, holdout_every: int = 5):
    """The answers an operator accepted, for training: ``((x_train, y_train), (x_held_out,
    y_held_out))``, images uint8 (n, 28, 28), labels uint8 (n,). Every ``holdout_every``-th
    answer (by id) is held out to measure the model on users' digits; an answer never
    changes side as more arrive. Only accepted answers: no visitor alone can change what
    the shared model learns."""
    if not store.path.exists():
        raise FeedbackStoreError(f"no feedback store at {store.path}")
    ids, images, labels = store.images_and_labels(review="accepted")
    held_out = ids % holdout_every == 0
    return (images[~held_out], labels[~held_out]), (images[held_out], labels[held_out])
