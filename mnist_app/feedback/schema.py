"""The answers table, how it changed from version to version, and bringing a store up to date.

Both databases keep a schema version (SQLite's ``user_version``, PostgreSQL's one-row
``schema_version`` table): a store made by an older version of the app is migrated when
first opened, one made by a newer one is refused with a message. The migrations are a
handful of SQL statements shared by both databases, so they live here rather than in a
migration framework (Alembic would bring SQLAlchemy, and an ORM, for four ALTER TABLEs).
"""

from __future__ import annotations

import json
from typing import Any, ContextManager, Protocol

from mnist_app.feedback.answers import FeedbackStoreError

SCHEMA_VERSION = 3

# The current schema; the two databases spell two column types differently ({id_type}, {bytes_type}).
SCHEMA = """
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
    review        TEXT    CHECK (review IN ('accepted', 'rejected')),  -- NULL: not reviewed
    confidence    REAL,     -- the probability of the digit read, as shown
    shown_sure    INTEGER   -- 1: shown without an "unsure" flag, 0: flagged, NULL: not recorded (before v3)
);
CREATE INDEX answers_by_profile ON answers (profile, id);
CREATE INDEX answers_for_figures ON answers (source, created_at, label, predicted, confidence, shown_sure);
"""
# From schema version N to N + 1, the same SQL on both databases. Version 1 had no
# version mark (SQLite's user_version reads 0; PostgreSQL has no schema_version table).
MIGRATIONS = {
    1: """
ALTER TABLE answers ADD COLUMN profile TEXT NOT NULL DEFAULT '';
ALTER TABLE answers ADD COLUMN review TEXT CHECK (review IN ('accepted', 'rejected'));
CREATE INDEX answers_by_profile ON answers (profile, id);
""",
    # The operator's figures of the wild, aggregated in the database from an index alone.
    2: """
ALTER TABLE answers ADD COLUMN confidence REAL;
ALTER TABLE answers ADD COLUMN shown_sure INTEGER;
CREATE INDEX answers_for_figures ON answers (source, created_at, label, predicted, confidence, shown_sure);
""",
}
BACKFILL_BATCH = 1000


def backfill_confidence(connection) -> None:
    """After migration 2: each older answer's confidence, from its stored probabilities
    (whether it was shown as sure was not recorded then, and stays NULL)."""
    while True:
        rows = connection.execute("SELECT id, predicted, probabilities FROM answers WHERE confidence IS NULL "
                                  f"ORDER BY id LIMIT {BACKFILL_BATCH}").fetchall()
        for answer_id, predicted, probabilities in rows:
            connection.execute("UPDATE answers SET confidence = ? WHERE id = ?",
                               (float(json.loads(probabilities)[int(predicted)]), int(answer_id)))
        if len(rows) < BACKFILL_BATCH:
            return


class Database(Protocol):
    """What ``ensure_schema`` needs of a database (``SQLiteFile``, ``PostgresDatabase``):
    where it is, its ``schema`` (the DDL of ``SCHEMA`` in its dialect), and the version
    kept in it. ``connection`` is what the database's ``connect()`` yields."""

    location: Any
    schema: str

    def schema_version(self, connection) -> int: ...

    def exclusive(self, connection) -> ContextManager[None]: ...

    def mark_version(self, connection, version: int) -> None: ...


def run_script(connection, script: str) -> None:
    """Run the ``;``-separated statements of ``script`` one by one (none has a ``;`` inside)."""
    for statement in script.split(";"):
        if statement.strip():
            connection.execute(statement)


def refuse_newer(version: int, database: Database) -> None:
    if version > SCHEMA_VERSION:
        raise FeedbackStoreError(f"the feedback store {database.location} was made by a newer version of this app "
                                 f"(schema {version}; this one reads up to {SCHEMA_VERSION}): update the app")


def ensure_schema(database: Database, connection) -> None:
    """Create the tables in a new store, migrate one made by an older version of the app,
    refuse one made by a newer one. One connection at a time does it (``database.exclusive``);
    the others then find the version current. Costs one query once it is.

    connection: what ``database.connect`` yields."""
    version = database.schema_version(connection)
    if version == SCHEMA_VERSION:
        return
    refuse_newer(version, database)
    with database.exclusive(connection):
        version = database.schema_version(connection)  # another process may have done it meanwhile
        if version == 0:
            run_script(connection, database.schema)
        else:
            for step in range(version, SCHEMA_VERSION):
                run_script(connection, MIGRATIONS[step])
                if step == 2:
                    backfill_confidence(connection)
        if version < SCHEMA_VERSION:
            database.mark_version(connection, SCHEMA_VERSION)
    refuse_newer(version, database)
