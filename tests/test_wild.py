"""The operator's figures of the wild (``mnist_app.wild``), counted in the database on
both databases, against the same figures counted answer by answer in Python; and how
long the Operator page's first view takes to query 100,000 stored answers."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from mnist_app import wild
from mnist_app.feedback import FeedbackStore
from tests.browser_support import ARTIFACTS

UNSURE_BELOW = 0.64


def stored_answers(store: FeedbackStore, x: np.ndarray, y: np.ndarray, n: int, seed: int = 35) -> list[dict]:
    """``n`` answers of real MNIST test digits by two profiles over nine days, both sources,
    a fifth of them misread, some stored as older versions of the app stored them (not
    saying whether they were shown as sure); what was stored, as dicts."""
    rng = np.random.default_rng(seed)
    stored = []
    for i in range(n):
        label = int(y[i])
        predicted = label if rng.random() < 0.8 else int((label + rng.integers(1, 10)) % 10)
        confidence = float(rng.uniform(0.3, 1.0))
        probabilities = np.full(10, (1 - confidence) / 9)
        probabilities[predicted] = confidence
        shown_sure = None if i % 7 == 0 else bool(confidence >= UNSURE_BELOW and rng.random() < 0.9)
        created_at = datetime(2026, 12, 1, 9, tzinfo=timezone.utc) + timedelta(days=int(i % 9), minutes=i)
        source = str(rng.choice(["draw", "photo"]))
        answer_id = store.for_profile(["ann", "bob"][i % 2]).add(
            x[i], label, predicted, probabilities, "v1", source, created_at=created_at, shown_sure=shown_sure)
        stored.append({"id": answer_id, "day": created_at.date().isoformat(), "source": source, "label": label,
                       "predicted": predicted, "confidence": confidence,
                       "sure": confidence >= UNSURE_BELOW if shown_sure is None else shown_sure})
    return stored


def test_the_wild_is_counted_in_the_database_as_answer_by_answer(store_location, mnist_test):
    x, y = mnist_test
    store = FeedbackStore(store_location)
    answers = stored_answers(store, x, y, 150)

    expected = {}
    for a in answers:
        counts = expected.setdefault((a["day"], a["source"]), [0, 0, 0, 0])
        right = a["label"] == a["predicted"]
        for k, value in enumerate((1, right, not a["sure"], not right and a["sure"])):
            counts[k] += int(value)
    rows = store.daily_figures(UNSURE_BELOW)
    assert rows == [(day, source, *counts) for (day, source), counts in sorted(expected.items())]

    everything = wild.total(rows)
    assert everything.answers == 150
    assert everything.accuracy == pytest.approx(np.mean([a["label"] == a["predicted"] for a in answers]))
    drawn = [a for a in answers if a["source"] == "draw"]
    assert wild.total(rows, "draw").wrong_but_sure == sum(a["label"] != a["predicted"] and a["sure"] for a in drawn)

    weekly = wild.trend(rows, "week")
    assert {p["period"] for p in weekly} == {"2026-11-30", "2026-12-07"}  # the Mondays of the two weeks
    assert sum(p["answers"] for p in weekly if p["source"] == "all") == 150
    assert sum(p["answers"] for p in weekly if p["source"] == "photo") == 150 - len(drawn)

    matrix = np.zeros((10, 10), np.int64)
    for a in drawn:
        matrix[a["label"], a["predicted"]] += 1
    np.testing.assert_array_equal(store.confusion_counts(source="draw"), matrix)

    mistakes = store.list_answers(order="most confident", misread=True)
    assert [m.id for m in mistakes] == [a["id"] for a in sorted(
        (a for a in answers if a["label"] != a["predicted"]), key=lambda a: (-a["confidence"], -a["id"]))]
    cell = store.list_answers(order="most confident", label=3, predicted=3, source="photo")
    assert {c.id for c in cell} == {a["id"] for a in answers
                                    if (a["label"], a["predicted"], a["source"]) == (3, 3, "photo")}


def test_the_accepted_answers_export_as_an_mnist_style_dataset(tmp_path, mnist_test):
    from mnist_app.data import load_idx
    from mnist_app.feedback import IDX_IMAGES_NAME, IDX_LABELS_NAME

    x, y = mnist_test
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    answers = stored_answers(store, x, y, 12)
    accepted = [a for a in answers[::3]]
    for a in accepted:
        store.set_review(a["id"], "accepted")
    files = store.export_idx(review="accepted")
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    images, labels = load_idx(tmp_path / IDX_IMAGES_NAME), load_idx(tmp_path / IDX_LABELS_NAME)
    assert labels.tolist() == [a["label"] for a in accepted]  # the visitors' labels, oldest first
    np.testing.assert_array_equal(images, (x[[answers.index(a) for a in accepted]] * 255).round().astype(np.uint8))
    rows = store.export_csv(review="accepted").decode().splitlines()
    assert len(rows) == 1 + len(accepted) and rows[1].startswith(f"{accepted[0]['id']},")


def test_the_lab_beside_the_wild_is_the_same_kind_of_input():
    report = {"sets": {"mnist": {"n": 10000, "accuracy": 0.9967}, "pen": {"n": 1499, "accuracy": 0.98},
                       "skahl": {"n": 473, "accuracy": 0.998}, "kensanata": {"n": 3040, "accuracy": 0.9875}}}
    assert [row["set"] for row in wild.lab_figures(report, "draw")] == ["pen", "skahl"]
    assert [row["set"] for row in wild.lab_figures(report, "photo")] == ["mnist", "kensanata"]
    assert wild.lab_figures(None, "draw") == []


def test_the_first_view_queries_over_100000_answers(store_location, mnist_test):
    """Times the queries of the Operator page's first view on 100,000 stored answers;
    reports the figures (test-artifacts/wild-timing.txt), asserts only that they come back."""
    x, y = mnist_test
    store = FeedbackStore(store_location)
    stored_answers(store, x, y, 1)  # the store made, its schema current
    bulk_insert(store_location, x, y, 100_000)
    timings = {}

    def timed(name, call):
        started = time.perf_counter()
        result = call()
        timings[name] = (time.perf_counter() - started) * 1000
        return result

    rows = timed("figures per day and source", lambda: store.daily_figures(UNSURE_BELOW))
    matrix = timed("confusion matrix", lambda: store.confusion_counts())
    mistakes = timed("count of mistakes", lambda: store.count(misread=True))
    page = timed("first gallery page (24 most confident mistakes)",
                 lambda: store.list_answers(order="most confident", misread=True, limit=24))
    accepted = timed("count of accepted answers", lambda: store.count(review="accepted"))
    assert wild.total(rows).answers == matrix.sum() == 100_001 and len(page) == 24 and accepted == 0
    assert mistakes == matrix.sum() - np.trace(matrix)
    kind = "PostgreSQL" if isinstance(store_location, str) else "SQLite"
    report = "\n".join([f"{kind}, 100,001 answers: the Operator page's first view, {sum(timings.values()):.0f} ms "
                        f"of queries"] + [f"  {name}: {ms:.0f} ms" for name, ms in timings.items()])
    print(report)
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / "wild-timing.txt", "a") as log:
        log.write(report + "\n")


def bulk_insert(location, x: np.ndarray, y: np.ndarray, n: int) -> None:
    """``n`` answers straight into the table (as the app stores them, in one transaction:
    a hundred thousand ``add`` calls would take minutes), real MNIST digits over 60 days."""
    rng = np.random.default_rng(100)
    images = (x * 255).round().astype(np.uint8)
    start = datetime(2026, 10, 1, tzinfo=timezone.utc)
    rows = []
    for i in range(n):
        label = int(y[i % len(y)])
        predicted = label if rng.random() < 0.97 else int((label + 1) % 10)
        confidence = float(rng.uniform(0.3, 1.0))
        probabilities = [round((1 - confidence) / 9, 6)] * 10
        probabilities[predicted] = round(confidence, 6)
        created_at = (start + timedelta(seconds=int(i * 51.84))).isoformat(timespec="milliseconds")
        rows.append((created_at, ["draw", "photo"][i % 2], predicted, label, json.dumps(probabilities), "v1",
                     images[i % len(y)].tobytes(), f"visitor-{i % 500}", confidence, int(confidence >= UNSURE_BELOW)))
    insert = ("INSERT INTO answers (created_at, source, predicted, label, probabilities, model_version, image, "
              "profile, confidence, shown_sure) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    if isinstance(location, str):
        import psycopg

        with psycopg.connect(location) as connection, connection.cursor() as cursor:
            with cursor.copy("COPY answers (created_at, source, predicted, label, probabilities, model_version, "
                             "image, profile, confidence, shown_sure) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            connection.execute("ANALYZE answers")
    else:
        import sqlite3

        with sqlite3.connect(location) as connection:
            connection.executemany(insert, rows)
            connection.execute("ANALYZE")
