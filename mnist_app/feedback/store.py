"""The feedback store: what users told us about the model's readings, in an SQLite file or a PostgreSQL database.

``FeedbackStore`` adds, reads, counts, reviews, exports and deletes answers with the same
SQL on both databases (``?`` placeholders), through a thin database object,
``SQLiteFile`` or ``PostgresDatabase``, which connects, keeps the schema current and turns
the driver's errors into ``FeedbackStoreError``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mnist_app import PROJECT_ROOT
from mnist_app.data import encode_idx
from mnist_app.feedback.answers import (PENDING, REVIEWS, SOURCES, Answer, FeedbackStoreError, check_profile,
                                        image_to_uint8, png_bytes)
from mnist_app.feedback.sqlite import SQLiteFile

if TYPE_CHECKING:
    from mnist_app.feedback.postgres import PostgresDatabase

DB_ENV = "MNIST_FEEDBACK_DB"
DEFAULT_DB_PATH = PROJECT_ROOT / "feedback.sqlite3"
BUSY_TIMEOUT_S = 5.0
IDX_IMAGES_NAME = "feedback-images-idx3-ubyte.gz"
IDX_LABELS_NAME = "feedback-labels-idx1-ubyte.gz"
_FILTERS = ("id", "label", "predicted", "source", "model_version", "review", "misread")
_ORDERS = {"newest": "id DESC", "oldest": "id ASC", "most confident": "confidence DESC, id DESC"}
_COLUMNS = ("id, created_at, source, predicted, label, probabilities, model_version, image, crop_png, "
            "profile, review")
_NO_LIMIT = 2**63 - 1  # LIMIT for "all rows": SQLite takes no NULL there, PostgreSQL no -1


URL_SCHEMES = ("postgresql://", "postgres://")


def is_database_url(location: Path | str) -> bool:
    """Whether ``location`` names a PostgreSQL database (a ``postgresql://`` URL, a str)
    rather than an SQLite file."""
    return isinstance(location, str) and location.lower().startswith(URL_SCHEMES)


def _postgres_database(url: str, busy_timeout_s: float) -> PostgresDatabase:
    # Imported when a store is on PostgreSQL: psycopg costs the embedded default ~0.2 s at start.
    from mnist_app.feedback.postgres import PostgresDatabase

    return PostgresDatabase(url, busy_timeout_s)


def default_db_path() -> Path | str:
    """``$MNIST_FEEDBACK_DB`` if set (a PostgreSQL URL as its str, anything else as a Path),
    else ``feedback.sqlite3`` in the repository root."""
    location = os.environ.get(DB_ENV)
    if not location:
        return DEFAULT_DB_PATH
    return location if is_database_url(location) else Path(location)

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
        if name == "misread":  # True: the label is not what was read; False: it is
            clauses.append("label <> predicted" if value else "label = predicted")
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
        self._database = (_postgres_database(self._location, busy_timeout_s) if is_database_url(self._location)
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
            created_at: datetime | None = None, shown_sure: bool | None = None) -> int:
        """Store one answer; returns its id.

        image28: float32 (28, 28) in [0, 1] or uint8 (28, 28), the model's input;
        probabilities: (10,) floats; crop_png: the original crop as PNG bytes;
        shown_sure: whether the reading was shown without an "unsure" flag (None: unknown).
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
            probabilities[int(predicted)],
            None if shown_sure is None else int(bool(shown_sure)),
        )
        with self._connect() as connection:
            # fetchall: SQLite commits a RETURNING statement once it has run to its end.
            [(answer_id,)] = connection.execute(
                "INSERT INTO answers (created_at, source, predicted, label, probabilities, model_version, image, "
                "crop_png, profile, confidence, shown_sure) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
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
                     order: str | None = None, **filters) -> list[Answer]:
        """Answers matching ``filters`` (id, label, predicted, source, model_version,
        review, where ``PENDING`` means none yet, and misread; None = any), ``limit`` of
        them from ``offset``, newest first (or oldest, ``newest_first=False``); order:
        "newest", "oldest" or "most confident" (the reading's confidence) instead."""
        where, values = _where(filters, self.profile)
        order_by = _ORDERS[order or ("newest" if newest_first else "oldest")]
        query = f"SELECT {_COLUMNS} FROM answers{where} ORDER BY {order_by} LIMIT ? OFFSET ?"
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

    # --- figures, aggregated in the database -----------------------------------------
    def daily_figures(self, unsure_below: float) -> list[tuple[str, str, int, int, int, int]]:
        """Per UTC day and source: (day "YYYY-MM-DD", source, answers, read right, shown as
        unsure, wrong while shown as sure), oldest day first. An answer stored before the
        app recorded what it showed counts as unsure when its confidence is below
        ``unsure_below``. One query over an index, whatever the number of answers."""
        where, values = _where({}, self.profile)
        sure = "(CASE WHEN shown_sure IS NOT NULL THEN shown_sure WHEN confidence >= ? THEN 1 ELSE 0 END)"
        query = (f"SELECT SUBSTR(created_at, 1, 10) AS day, source, COUNT(*), "
                 f"SUM(CASE WHEN label = predicted THEN 1 ELSE 0 END), "
                 f"SUM(1 - {sure}), SUM(CASE WHEN label <> predicted THEN {sure} ELSE 0 END) "
                 f"FROM answers{where} GROUP BY day, source ORDER BY day, source")
        with self._connect() as connection:
            rows = connection.execute(query, [float(unsure_below), float(unsure_below), *values]).fetchall()
        return [(day, source, int(n), int(right), int(unsure), int(wrong_sure))
                for day, source, n, right, unsure, wrong_sure in rows]

    def confusion_counts(self, **filters) -> np.ndarray:
        """int64 (10, 10): answers per (label, digit read) matching ``filters``, counted in the database."""
        where, values = _where(filters, self.profile)
        with self._connect() as connection:
            rows = connection.execute(f"SELECT label, predicted, COUNT(*) FROM answers{where} "
                                      f"GROUP BY label, predicted", values).fetchall()
        matrix = np.zeros((10, 10), np.int64)
        for label, predicted, n in rows:
            matrix[int(label), int(predicted)] = int(n)
        return matrix

    # --- exports (oldest first, so exports are stable as answers arrive) ----------------
    def export_csv(self, **filters) -> bytes:
        """One row per answer (matching ``filters``, as ``list_answers``): id, time,
        source, label, predicted, confidence, model version and the image's file name
        inside ``export_png_zip``."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["id", "created_at", "source", "label", "predicted", "confidence",
                         "model_version", "image_file"])
        for a in self.list_answers(newest_first=False, **filters):
            writer.writerow([a.id, a.created_at, a.source, a.label, a.predicted,
                             f"{a.confidence:.6f}", a.model_version, a.image_name])
        return buffer.getvalue().encode()

    def export_png_zip(self, **filters) -> bytes:
        """A zip of ``labels.csv``, ``images/<id>_label<d>.png`` (28x28) and
        ``crops/<id>.png`` (the original crops), of the answers matching ``filters``."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("labels.csv", self.export_csv(**filters))
            for a in self.list_answers(newest_first=False, **filters):
                archive.writestr(a.image_name, png_bytes(a.image))
                if a.crop_png:
                    archive.writestr(f"crops/{a.id:06d}.png", a.crop_png)
        return buffer.getvalue()

    def export_idx(self, **filters) -> dict[str, bytes]:
        """The answers (matching ``filters``) as MNIST-format files, gzip'd: ``{file name:
        bytes}`` for the images (idx3) and the true labels (idx1); readable by
        ``mnist_app.data.load_idx``."""
        _, images, labels = self.images_and_labels(**filters)
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
