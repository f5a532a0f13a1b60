"""What users told us about the model's readings, kept in an embedded SQLite store.

Every answer holds the 28x28 input the model saw, the original crop of the drawing
or photo, what the model read, what the digit really is, the ten probabilities,
the model version, the time (UTC) and where it came from ("draw" or "photo"), the
handwriting profile of the visitor who gave it, and the operator's review ("accepted"
for training, "rejected", or none yet).

A store opened ``for_profile(name)`` reads, counts, exports and deletes only that
profile's answers, and stores new ones under it: what the pages use, so no visitor
sees or changes another's digits. The plain store sees all: the operator's view and
training (which takes only accepted answers, ``training_split``).

The store is one SQLite file (``MNIST_FEEDBACK_DB``, default ``feedback.sqlite3`` in
the repository root) in WAL mode, so readers never block the writer and several
browser sessions (threads of one server, or several servers) can write at once:
each call opens its own connection (sqlite3 connections must not cross threads),
waits up to ``busy_timeout_s`` for a lock, and writes in one short transaction.
Anything that goes wrong (a locked, read-only, corrupt or unreachable file)
raises ``FeedbackStoreError`` with a message fit to show a user. The schema has a
version (SQLite's ``user_version``); a store made by an older version of the app is
migrated when first opened, one made by a newer one is refused with a message.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import os
import re
import sqlite3
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_app import PROJECT_ROOT
from mnist_app.data import encode_idx

DB_ENV = "MNIST_FEEDBACK_DB"
DEFAULT_DB_PATH = PROJECT_ROOT / "feedback.sqlite3"
SOURCES = ("draw", "photo")
BUSY_TIMEOUT_S = 5.0
IDX_IMAGES_NAME = "feedback-images-idx3-ubyte.gz"
IDX_LABELS_NAME = "feedback-labels-idx1-ubyte.gz"

SCHEMA_VERSION = 2
PROFILE_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
REVIEWS = ("accepted", "rejected")
PENDING = "pending"  # the ``review`` filter for answers not reviewed yet

_SCHEMA = """
CREATE TABLE answers (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at    TEXT    NOT NULL,  -- UTC, ISO 8601
    source        TEXT    NOT NULL CHECK (source IN ('draw', 'photo')),
    predicted     INTEGER NOT NULL CHECK (predicted BETWEEN 0 AND 9),
    label         INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    probabilities TEXT    NOT NULL,  -- JSON list of 10 floats
    model_version TEXT    NOT NULL,
    image         BLOB    NOT NULL,  -- 784 bytes: uint8 28x28, row-major, 0 = background
    crop_png      BLOB,              -- the original crop, PNG
    profile       TEXT    NOT NULL DEFAULT '',  -- the visitor's handwriting profile ('' = none)
    review        TEXT    CHECK (review IN ('accepted', 'rejected'))  -- NULL: not reviewed
);
CREATE INDEX answers_by_profile ON answers (profile, id);
"""
# From schema version N to N + 1. Version 1 had no user_version set (it reads 0).
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


def default_db_path() -> Path:
    """``$MNIST_FEEDBACK_DB`` if set, else ``feedback.sqlite3`` in the repository root."""
    return Path(os.environ.get(DB_ENV) or DEFAULT_DB_PATH)


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


def _explain(exc: sqlite3.Error, path: Path) -> str:
    message = str(exc)
    if "locked" in message or "busy" in message:
        return f"the feedback store {path} is busy: another writer held it too long ({message})"
    if "readonly" in message or "read-only" in message:
        return f"the feedback store {path} is read-only ({message})"
    if "not a database" in message:
        return f"{path} is not an SQLite database ({message})"
    if "unable to open" in message:
        return f"cannot open the feedback store {path} ({message})"
    return f"the feedback store {path} failed: {message}"


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


def _ensure_schema(connection: sqlite3.Connection, path: Path) -> None:
    """Create the table in a new file, migrate one made by an older version of the app,
    refuse one made by a newer one. One writer at a time does it (``BEGIN IMMEDIATE``);
    the others then find the version current. Costs one ``PRAGMA`` once it is."""
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise FeedbackStoreError(f"the feedback store {path} was made by a newer version of this app "
                                 f"(schema {version}; this one reads up to {SCHEMA_VERSION}): update the app")
    connection.execute("BEGIN IMMEDIATE")
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        has_table = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'answers'").fetchone() is not None
        if not has_table:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    connection.execute(statement)
        else:
            for step in range(max(1, version), SCHEMA_VERSION):
                for statement in _MIGRATIONS[step].split(";"):
                    if statement.strip():
                        connection.execute(statement)
        if version < SCHEMA_VERSION:
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


class FeedbackStore:
    """The answers in one SQLite file. Safe to use from many threads and processes:
    every method opens, uses and closes its own connection.

    ``profile``: None for the whole store; a name for one visitor's part of it (see
    ``for_profile``)."""

    def __init__(self, path: Path | str | None = None, busy_timeout_s: float = BUSY_TIMEOUT_S,
                 profile: str | None = None):
        self.path = Path(path) if path is not None else default_db_path()
        self.busy_timeout_s = busy_timeout_s
        self.profile = None if profile is None else check_profile(profile)

    def __repr__(self) -> str:
        scope = "" if self.profile is None else f", profile={self.profile!r}"
        return f"FeedbackStore({str(self.path)!r}{scope})"

    def for_profile(self, profile: str) -> FeedbackStore:
        """The same file, seen as one profile: every read, count, export and delete is
        limited to its answers, and ``add`` stores under it."""
        return FeedbackStore(self.path, self.busy_timeout_s, profile)

    @contextlib.contextmanager
    def _connect(self):
        """A fresh connection in autocommit mode (each statement its own transaction,
        unless one is begun explicitly); sqlite3 errors become FeedbackStoreError."""
        if not self.path.parent.is_dir():
            raise FeedbackStoreError(f"cannot open the feedback store {self.path}: "
                                     f"the folder {self.path.parent} does not exist")
        connection = None
        try:
            connection = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
            connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
            _ensure_wal(connection, time.monotonic() + self.busy_timeout_s)
            _ensure_schema(connection, self.path)
            yield connection
        except sqlite3.Error as exc:
            raise FeedbackStoreError(_explain(exc, self.path)) from exc
        finally:
            if connection is not None:
                connection.close()

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
            cursor = connection.execute(
                "INSERT INTO answers (created_at, source, predicted, label, probabilities, "
                "model_version, image, crop_png, profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            return int(cursor.lastrowid)

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
            rows = connection.execute(f"SELECT profile, COUNT(*) FROM answers{where} GROUP BY profile "
                                      "ORDER BY COUNT(*) DESC, profile", values).fetchall()
        return [(name, int(n)) for name, n in rows]

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
            rows = connection.execute(query, [*values, -1 if limit is None else int(limit), int(offset)])
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
