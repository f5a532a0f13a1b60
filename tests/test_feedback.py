"""The feedback store on real SQLite files and a real PostgreSQL server: round trips,
filters, exports, many writers at once (threads and processes), the same tests on both.
Then what only SQLite files have: WAL mode, the file's schema version, a writer killed
mid-way, and every way a file can fail. PostgreSQL's own cases: test_feedback_postgres.py."""

from __future__ import annotations

import csv
import gzip
import io
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_app.data import load_idx, parse_idx
from mnist_app.feedback import (IDX_IMAGES_NAME, IDX_LABELS_NAME, SCHEMA_VERSION, FeedbackStore,
                                FeedbackStoreError, default_db_path, png_bytes, training_split)
from tests.conftest import ROOT


def digit_image(seed: int) -> np.ndarray:
    """A distinct float32 (28, 28) image in [0, 1] per seed, like a model input."""
    return np.random.default_rng(seed).random((28, 28), dtype=np.float32)


def add_answer(store: FeedbackStore, seed: int, label: int = 7, predicted: int = 1,
               source: str = "draw", version: str = "abc123def456") -> int:
    probabilities = np.full(10, 0.05)
    probabilities[predicted] = 0.55
    return store.add(digit_image(seed), label=label, predicted=predicted, probabilities=probabilities,
                     model_version=version, source=source, crop_png=png_bytes(np.full((40, 30), seed % 256, np.uint8)))


@pytest.fixture
def store(store_location):
    """A new store, on each database (``store_location``)."""
    return FeedbackStore(store_location)


@pytest.fixture
def sqlite_store(tmp_path):
    """A new store in an SQLite file, for what only files have."""
    return FeedbackStore(tmp_path / "feedback.sqlite3")


def integrity(path) -> str:
    with sqlite3.connect(path) as connection:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]


def assert_sound(store: FeedbackStore) -> None:
    """SQLite's own check of a file (a PostgreSQL server checks its tables itself)."""
    if isinstance(store.path, Path):
        assert integrity(store.path) == "ok"


# --- round trips ----------------------------------------------------------------------
def test_an_answer_comes_back_as_stored(store):
    image = digit_image(1)
    probabilities = np.linspace(0.01, 0.1, 10)
    crop = png_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    answer_id = store.add(image, label=4, predicted=9, probabilities=probabilities, model_version="v1",
                          source="photo", crop_png=crop, created_at=when)
    answer = store.get(answer_id)
    np.testing.assert_array_equal(answer.image, np.round(image * 255).astype(np.uint8))
    np.testing.assert_allclose(answer.probabilities, probabilities, rtol=1e-6)
    assert (answer.label, answer.predicted, answer.source, answer.model_version) == (4, 9, "photo", "v1")
    assert answer.crop_png == crop
    assert answer.created_at == "2026-01-02T03:04:05.000+00:00"
    assert answer.corrected and answer.confidence == pytest.approx(0.1)
    assert store.get(answer_id + 1) is None


def test_the_store_is_in_wal_mode(sqlite_store):
    add_answer(sqlite_store, 0)
    with sqlite3.connect(sqlite_store.path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_list_is_newest_first_with_filters_and_paging(store):
    ids = [add_answer(store, i, label=i % 3, predicted=1, source="draw" if i % 2 else "photo",
                      version="old" if i < 4 else "new") for i in range(10)]
    assert [a.id for a in store.list_answers()] == ids[::-1]
    assert [a.id for a in store.list_answers(limit=3, offset=2)] == ids[::-1][2:5]
    assert [a.id for a in store.list_answers(newest_first=False)] == ids
    assert {a.label for a in store.list_answers(label=2)} == {2}
    assert store.count() == 10
    assert store.count(label=0, predicted=1) == 4
    assert store.count(source="photo") == 5
    assert store.count(model_version="old") == 4
    assert store.model_versions() == ["new", "old"]
    labels, predicted = store.labels_and_predictions(model_version="new")
    assert labels.tolist() == [i % 3 for i in range(4, 10)] and predicted.tolist() == [1] * 6
    with pytest.raises(TypeError):
        store.count(colour="red")


def test_delete_removes_exactly_one(store):
    ids = [add_answer(store, i) for i in range(5)]
    assert store.delete(ids[2]) is True
    assert store.count() == 4
    assert [a.id for a in store.list_answers(newest_first=False)] == ids[:2] + ids[3:]
    assert store.delete(ids[2]) is False  # already gone
    assert store.count() == 4


def test_bad_answers_are_refused(store):
    with pytest.raises(ValueError):
        store.add(digit_image(0), 10, 1, np.full(10, 0.1), "v", "draw")
    with pytest.raises(ValueError):
        store.add(digit_image(0), 1, 1, np.full(10, 0.1), "v", "upload")
    with pytest.raises(ValueError):
        store.add(digit_image(0), 1, 1, np.full(9, 0.1), "v", "draw")
    with pytest.raises(ValueError):
        store.add(np.zeros((20, 20)), 1, 1, np.full(10, 0.1), "v", "draw")
    assert store.count() == 0


def test_the_default_path_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_FEEDBACK_DB", str(tmp_path / "x.sqlite3"))
    assert default_db_path() == tmp_path / "x.sqlite3"
    assert FeedbackStore().path == tmp_path / "x.sqlite3"
    monkeypatch.setenv("MNIST_FEEDBACK_DB", "postgresql://app:secret@db.example:5432/feedback")
    assert default_db_path() == "postgresql://app:secret@db.example:5432/feedback"  # a URL, not a Path
    assert str(FeedbackStore().path) == "postgresql://app:***@db.example:5432/feedback"
    monkeypatch.delenv("MNIST_FEEDBACK_DB")
    assert default_db_path() == ROOT / "feedback.sqlite3"


# --- exports ------------------------------------------------------------------------------
def test_exports_round_trip(store, tmp_path):
    ids = [add_answer(store, i, label=i % 10, predicted=(i + 1) % 10) for i in range(12)]
    store.delete(ids[5])
    answers = store.list_answers(newest_first=False)

    rows = list(csv.DictReader(io.StringIO(store.export_csv().decode())))
    assert len(rows) == store.count() == 11
    assert [int(r["id"]) for r in rows] == [a.id for a in answers]
    assert [int(r["label"]) for r in rows] == [a.label for a in answers]

    with zipfile.ZipFile(io.BytesIO(store.export_png_zip())) as archive:
        names = set(archive.namelist())
        assert "labels.csv" in names
        for a in answers:
            png = np.asarray(Image.open(io.BytesIO(archive.read(a.image_name))))
            np.testing.assert_array_equal(png, a.image)
            assert archive.read(f"crops/{a.id:06d}.png") == a.crop_png

    files = store.export_idx()
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    images = load_idx(tmp_path / IDX_IMAGES_NAME)
    labels = load_idx(tmp_path / IDX_LABELS_NAME)
    assert images.shape == (11, 28, 28) and labels.shape == (11,)
    np.testing.assert_array_equal(images, np.stack([a.image for a in answers]))
    np.testing.assert_array_equal(labels, [a.label for a in answers])
    np.testing.assert_array_equal(parse_idx(gzip.decompress(files[IDX_LABELS_NAME])), labels)


def test_an_empty_store_exports_empty_files(store):
    assert len(list(csv.reader(io.StringIO(store.export_csv().decode())))) == 1  # the header
    assert parse_idx(gzip.decompress(store.export_idx()[IDX_IMAGES_NAME])).shape == (0, 28, 28)


def test_training_split_takes_accepted_answers_and_holds_out_every_fifth_for_good(store):
    for i in range(12):
        answer_id = add_answer(store.for_profile(f"visitor-{i % 3}"), i, label=i % 10)
        assert store.set_review(answer_id, "accepted")
    pending, rejected = add_answer(store, 100), add_answer(store, 101)
    store.set_review(rejected, "rejected")
    (x_train, y_train), (x_held, y_held) = training_split(store)
    assert len(x_train) + len(x_held) == 12 and len(x_held) == 2  # ids 5 and 10
    assert x_train.dtype == np.uint8 and x_train.shape[1:] == (28, 28)
    assert y_held.tolist() == [4, 9]
    store.set_review(add_answer(store, 12), "accepted")  # id 15: held out too
    (_, _), (x_held_later, _) = training_split(store)
    assert len(x_held_later) == 3
    np.testing.assert_array_equal(x_held_later[:2], x_held)  # new answers do not move old ones


def test_training_split_needs_a_store_and_makes_none(store_location):
    store = FeedbackStore(store_location)  # a file that does not exist, an empty database
    with pytest.raises(FeedbackStoreError, match="no feedback store"):
        training_split(store)
    assert not store.path.exists()


def test_a_profile_sees_and_changes_only_its_own_answers(store):
    ann, bob = store.for_profile("ann"), store.for_profile("bob")
    ann_ids = [add_answer(ann, i, label=3, version="v1") for i in range(3)]
    bob_id = add_answer(bob, 10, label=5, version="v2")
    add_answer(store, 11)  # no profile (e.g. from the CLI)
    assert store.count() == 5 and ann.count() == 3 and bob.count() == 1
    assert [a.id for a in ann.list_answers(newest_first=False)] == ann_ids
    assert {a.profile for a in ann.list_answers()} == {"ann"}
    assert ann.get(bob_id) is None and bob.get(bob_id).label == 5
    assert ann.model_versions() == ["v1"] and bob.labels_and_predictions()[0].tolist() == [5]
    assert ann.delete(bob_id) is False and store.get(bob_id) is not None  # not hers to delete
    rows = list(csv.DictReader(io.StringIO(ann.export_csv().decode())))
    assert [int(r["id"]) for r in rows] == ann_ids
    with zipfile.ZipFile(io.BytesIO(bob.export_png_zip())) as archive:
        assert [n for n in archive.namelist() if n.startswith("images/")] == [f"images/{bob_id:06d}_label5.png"]
    assert parse_idx(gzip.decompress(ann.export_idx()[IDX_IMAGES_NAME])).shape == (3, 28, 28)
    assert store.profiles() == [("ann", 3), ("", 1), ("bob", 1)] and ann.profiles() == [("ann", 3)]
    with pytest.raises(PermissionError):
        ann.set_review(ann_ids[0], "accepted")
    assert bob.delete(bob_id) is True and store.count() == 4


@pytest.mark.parametrize("name", ["", "a b", "../x", "x" * 65, "é"])
def test_a_profile_name_is_checked(sqlite_store, name):
    with pytest.raises(ValueError, match="profile name"):
        sqlite_store.for_profile(name)


# --- the schema version of SQLite files (of PostgreSQL databases: test_feedback_postgres.py) --
V1_SCHEMA = """CREATE TABLE answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('draw', 'photo')),
    predicted INTEGER NOT NULL CHECK (predicted BETWEEN 0 AND 9),
    label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9), probabilities TEXT NOT NULL,
    model_version TEXT NOT NULL, image BLOB NOT NULL, crop_png BLOB)"""


def test_a_store_made_by_the_first_version_is_migrated_and_keeps_its_answers(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as connection:  # as the app before profiles wrote it
        connection.execute(V1_SCHEMA)
        connection.execute("INSERT INTO answers (created_at, source, predicted, label, probabilities, "
                           "model_version, image) VALUES ('2026-11-01T10:00:00.000+00:00', 'draw', 1, 7, ?, "
                           "'old', ?)", (json_probabilities(), bytes(784)))
    store = FeedbackStore(path)
    [old] = store.list_answers()
    assert (old.label, old.predicted, old.model_version, old.profile, old.review) == (7, 1, "old", "", None)
    new_id = add_answer(store.for_profile("ann"), 1)
    assert store.set_review(new_id, "accepted") and store.get(new_id).review == "accepted"
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        # Its confidence filled in from its probabilities; whether it was shown as sure was not recorded then.
        assert connection.execute("SELECT confidence, shown_sure FROM answers WHERE id = ?",
                                  (old.id,)).fetchone() == (pytest.approx(0.1), None)
    assert integrity(path) == "ok"


def test_a_store_made_by_a_newer_version_is_refused_with_a_message(sqlite_store):
    add_answer(sqlite_store, 0)
    with sqlite3.connect(sqlite_store.path) as connection:
        connection.execute("PRAGMA user_version = 99")
    with pytest.raises(FeedbackStoreError, match="newer version of this app"):
        sqlite_store.count()


def json_probabilities() -> str:
    return "[" + ", ".join(["0.1"] * 10) + "]"


# --- many writers ---------------------------------------------------------------------------
def test_threads_writing_at_once_lose_nothing(store):
    threads, per_thread = 8, 50
    errors = []

    def write(t):
        try:
            for i in range(per_thread):
                add_answer(store, t * 1000 + i, label=t, predicted=i % 10)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=write, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors, errors
    assert store.count() == threads * per_thread
    for t in range(threads):
        assert store.count(label=t) == per_thread
    assert_sound(store)


WRITER = """
import sys
import numpy as np
from mnist_app.feedback import FeedbackStore
store = FeedbackStore(sys.argv[1])
writer, n = int(sys.argv[2]), int(sys.argv[3])
for i in range(n if n >= 0 else 10**9):
    image = np.full((28, 28), (writer * 37 + i) % 256, np.uint8)
    store.add(image, label=writer % 10, predicted=i % 10, probabilities=np.full(10, 0.1),
              model_version=f"writer{writer}", source="draw")
    print(i, flush=True)
"""


def start_writer(location, writer: int, n: int) -> subprocess.Popen:
    """A process adding ``n`` answers (-1: until killed) to the store at ``location`` (a path or URL)."""
    return subprocess.Popen([sys.executable, "-c", WRITER, str(location), str(writer), str(n)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_processes_writing_at_once_lose_nothing(store, store_location):
    # They all start on a file that does not exist yet, or an empty database: creating the store races too.
    processes, per_process = 4, 50
    writers = [start_writer(store_location, w, per_process) for w in range(processes)]
    for w in writers:
        out, err = w.communicate(timeout=120)
        assert w.returncode == 0, err[-2000:]
    assert store.count() == processes * per_process
    for w in range(processes):
        assert store.count(model_version=f"writer{w}") == per_process
    assert_sound(store)


def test_a_killed_writer_leaves_a_sound_store(sqlite_store):
    store = sqlite_store
    add_answer(store, 0)
    writer = start_writer(store.path, 1, -1)  # writes until killed
    committed = -1
    for line in writer.stdout:  # each line is printed after its insert committed
        committed = int(line)
        if committed >= 30:
            break
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    writer.stdout.close()
    writer.stderr.close()
    assert writer.returncode == -signal.SIGKILL
    assert integrity(store.path) == "ok"
    assert store.count(model_version="writer1") >= committed + 1
    before = store.count()
    add_answer(store, 99)
    assert store.count() == before + 1


# --- failures are FeedbackStoreError, with a reason -----------------------------------------
def test_a_missing_folder(tmp_path):
    with pytest.raises(FeedbackStoreError, match="does not exist"):
        FeedbackStore(tmp_path / "no" / "such" / "feedback.sqlite3").count()
    with pytest.raises(FeedbackStoreError):
        add_answer(FeedbackStore(tmp_path / "no" / "feedback.sqlite3"), 0)


def test_an_unopenable_path(tmp_path):
    with pytest.raises(FeedbackStoreError, match="cannot open"):
        FeedbackStore(tmp_path).count()  # a folder, not a file
    with pytest.raises(FeedbackStoreError):
        add_answer(FeedbackStore("/proc/feedback.sqlite3"), 0)  # nobody may create files there


def test_a_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "feedback.sqlite3"
    path.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(FeedbackStoreError, match="not an SQLite database"):
        FeedbackStore(path).count()


def test_a_locked_store(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.sqlite3", busy_timeout_s=0.2)
    add_answer(store, 0)
    holder = sqlite3.connect(store.path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
        assert store.count() == 1  # WAL: readers still read
        with pytest.raises(FeedbackStoreError, match="busy"):
            add_answer(store, 1)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    add_answer(store, 2)
    assert store.count() == 2


@pytest.fixture
def read_only_file(tmp_path):
    """A store file nobody may write, root included (the immutable attribute), or skip."""
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    add_answer(store, 0)
    with sqlite3.connect(store.path) as connection:  # fold the WAL into the file
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    if os.geteuid() != 0:
        store.path.chmod(0o444)
        yield store
        store.path.chmod(0o644)
        return
    if subprocess.run(["chattr", "+i", str(store.path)], capture_output=True).returncode != 0:
        pytest.skip("running as root without chattr +i: cannot make a file read-only")
    try:
        yield store
    finally:
        subprocess.run(["chattr", "-i", str(store.path)], check=True)


def test_a_read_only_store(read_only_file):
    with pytest.raises(FeedbackStoreError, match="read-only"):
        add_answer(read_only_file, 1)
