"""A PostgreSQL database as the feedback store's database, which several app servers can share.

Each process keeps a few open connections per database for its threads to reuse, in a
``psycopg_pool.ConnectionPool``: at most ``POOL_SIZE``, none opened before a call needs
one, each replaced after ``MAX_CONNECTION_AGE_S`` (so a long-running process reads the
schema version again now and then). A new connection gets bounded lock waits and a
current schema before it serves (the pool's ``configure``); one the server closed while
it was idle (a restart) is noticed before use and replaced (the pool's ``check``), so a
restarted server costs no error. Locks are waited for up to ``busy_timeout_s``, a free
connection too, connecting up to ``CONNECT_TIMEOUT_S``.

Why no connection could be had is told at once, in words fit for a user: the pool tries
to connect only when a call needs it (no retrying in the background), and a call that
waits for a connection gives up with the reason as soon as an attempt fails, rather than
at the end of its wait.
"""

from __future__ import annotations

import contextlib
import re
import select
import threading
import time
from typing import Iterator

from mnist_app.feedback.answers import FeedbackStoreError
from mnist_app.feedback.schema import SCHEMA, ensure_schema

try:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict
    from psycopg_pool import ConnectionPool, PoolTimeout
except ImportError:  # only PostgreSQL stores need them; FeedbackStoreError says so when one is used
    psycopg = None

CONNECT_TIMEOUT_S = 3  # libpq counts whole seconds, at least 2
POOL_SIZE = 8  # open connections per process and database, at most
MAX_CONNECTION_AGE_S = 300.0  # then a pooled connection is replaced, and the schema version read again
FAILURE_CHECK_S = 0.1  # how often a call waiting for a connection looks whether an attempt to open one failed


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


def _check_not_closed_by_server(connection: psycopg.Connection) -> None:
    """The pool's check before it hands out an idle connection: one the server closed is
    closed here too, so the pool discards it and opens another."""
    if _closed_by_server(connection):
        connection.close()
        raise psycopg.OperationalError("the server closed the idle connection")


class _Failures:
    """Failed attempts to open a connection for one pool, for the calls waiting on it."""

    def __init__(self):
        self._lock = threading.Lock()
        self.count = 0
        self.last: Exception | None = None

    def add(self, exc: Exception) -> None:
        with self._lock:
            self.count, self.last = self.count + 1, exc


def _connection_class(failures: _Failures) -> type:
    """A psycopg.Connection whose failures to connect are also kept in ``failures``."""

    class RecordedConnection(psycopg.Connection):
        @classmethod
        def connect(cls, *args, **kwargs):
            try:
                return super().connect(*args, **kwargs)
            except Exception as exc:
                failures.add(exc)
                raise

    return RecordedConnection


_POOLS: dict[tuple[str, float], tuple[ConnectionPool, _Failures]] = {}  # by (URL, busy_timeout_s)
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

    schema = SCHEMA.format(id_type="BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", bytes_type="BYTEA")

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
        with self._errors_explained():
            pool, failures = self._pool()
            connection = self._take(pool, failures)
            try:
                yield _PostgresConnection(connection)
            finally:
                pool.putconn(connection)

    def close(self) -> None:
        """Close this process's idle connections to the database."""
        with _POOLS_LOCK:
            pools = [_POOLS.pop(key) for key in list(_POOLS) if key[0] == self._url]
        for pool, _ in pools:
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

    def _connect_defaults(self) -> dict:
        """libpq parameters the URL does not set: short timeouts, the app's name."""
        defaults = {
            "connect_timeout": CONNECT_TIMEOUT_S,
            # Sent data unacknowledged this long (ms) means a vanished server: fail, don't hang.
            "tcp_user_timeout": 10_000,
            "application_name": "mnist_app",
        }
        parameters = self._parameters()
        return {name: value for name, value in defaults.items() if name not in parameters}

    def _open_unchecked(self) -> psycopg.Connection:
        """A new connection of its own (not the pool's) in autocommit mode."""
        return psycopg.connect(self._url, autocommit=True, **self._connect_defaults())

    def _configure(self, connection: psycopg.Connection, failures: _Failures) -> None:
        """Ready a new connection of the pool: lock waits bounded, the schema current."""
        try:
            connection.execute(f"SET lock_timeout = {round(self.busy_timeout_s * 1000)}")
            ensure_schema(self, _PostgresConnection(connection))
        except Exception as exc:
            failures.add(exc)
            connection.close()
            raise

    def _pool(self) -> tuple[ConnectionPool, _Failures]:
        key = (self._url, self.busy_timeout_s)
        with _POOLS_LOCK:
            if key not in _POOLS:
                self._parameters()  # a malformed URL fails here, before any pool
                failures = _Failures()
                pool = ConnectionPool(
                    self._url, kwargs={"autocommit": True, **self._connect_defaults()},
                    connection_class=_connection_class(failures),
                    configure=lambda connection: self._configure(connection, failures),
                    check=_check_not_closed_by_server, min_size=0, max_size=POOL_SIZE,
                    max_lifetime=MAX_CONNECTION_AGE_S, timeout=self.busy_timeout_s,
                    reconnect_timeout=0, name=str(self), open=True)
                _POOLS[key] = pool, failures
            return _POOLS[key]

    def _take(self, pool: ConnectionPool, failures: _Failures) -> psycopg.Connection:
        """A connection from ``pool`` within ``busy_timeout_s``; the reason at once when
        an attempt to open one fails meanwhile."""
        failed_before, deadline = failures.count, time.monotonic() + self.busy_timeout_s
        while True:
            try:
                return pool.getconn(timeout=max(0.001, min(FAILURE_CHECK_S, deadline - time.monotonic())))
            except PoolTimeout:
                if failures.count > failed_before and failures.last is not None:
                    raise failures.last from None
                if time.monotonic() >= deadline:
                    raise FeedbackStoreError(
                        f"the feedback store {self} is busy: all {POOL_SIZE} connections of this process "
                        f"stayed in use for {self.busy_timeout_s:g} s") from None

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
