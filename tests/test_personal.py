"""Live adaptation: a profile's own examples change its readings at once, and only its own.

Real digits throughout: pen digits the network never trained on (held-out and
calibration parts), written as one pseudo-writer (``mnist_app.writers``), and the real
shipped model.
"""

import os
import threading

import numpy as np
import pytest

from mnist_app.feedback import FeedbackStore
from mnist_app.inference import Recognizer
from mnist_app.network import MODEL_PATH
from mnist_app.data import load_mnist
from mnist_app.personal import (AS_DRAWN, FIT_NICENESS, REFINE_TURN, STRAIGHTEN_FROM, ExampleCache, Examples,
                                Straightening, refit_due)
from mnist_app.preprocess import DigitCrop, Placement, straightened
from tests.drawing import leaning
from mnist_app.writers import make_writers, measure


@pytest.fixture(scope="module")
def recognizer():
    return Recognizer.from_file(MODEL_PATH)


@pytest.fixture(scope="module")
def writer(recognizer):
    """A writer of a style the constants were not tuned on, whom the network misreads."""
    (writer,) = make_writers(recognizer, styles=("turned -25 deg",), shapes=(2,))
    return writer


def crops_of(images):
    return [DigitCrop((0, 0, 28, 28), image, Placement(0, 0, 1.0, 0, 0)) for image in images]


class CountingReader:
    """The recognizer, counting the example vectors the cache has it compute."""

    def __init__(self, recognizer):
        self.recognizer, self.computed = recognizer, []

    def example_vectors(self, images, straightening=AS_DRAWN):
        self.computed.append(len(images))
        return self.recognizer.example_vectors(images, straightening)

    def fit_straightening(self, images, labels):
        return self.recognizer.fit_straightening(images, labels)


def taught(store, images, labels, recognizer):
    for image, label in zip(images, labels):
        reading = recognizer.readings(crops_of([image]), *recognizer.classify(image[None]))
        digit = reading.digits[0]
        store.add(image, label=int(label), predicted=digit.digit, probabilities=digit.probabilities,
                  model_version="test", source="draw")


def test_five_examples_of_each_digit_lift_a_writer_the_network_misreads(recognizer, writer):
    (row,) = measure(recognizer, [writer], trials=6)
    assert row["shared"] <= 0.92, row  # the network alone misreads this writer
    assert row["adapted"] >= row["shared"] + 0.03, row
    # One wrong label among each digit's five examples costs at most a point.
    assert row["one_wrong_in_each_digit"] >= row["adapted"] - 0.01, row


def test_without_examples_a_reading_is_exactly_the_shared_models(recognizer, writer):
    crops = crops_of(writer.images[:40])
    alone = recognizer.read_many([crops])[0]
    for examples in (None, Examples.none(writer.vectors.shape[1])):
        again = recognizer.read_many([crops], examples)[0]
        assert all(np.array_equal(a.probabilities, b.probabilities) for a, b in zip(alone.digits, again.digits))
        assert all(d.evidence is None and d.from_examples == () for d in again.digits)


def test_a_correction_changes_that_profiles_next_reading_and_no_one_elses(tmp_path, recognizer, writer):
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    ann, bob = store.for_profile("ann"), store.for_profile("bob")
    cache = ExampleCache(recognizer)
    misread = np.flatnonzero(writer.probabilities.argmax(1) != writer.labels)
    # The writer's most often misread digit: correct it twice, then read another one.
    digit = np.bincount(writer.labels[misread]).argmax()
    same = misread[writer.labels[misread] == digit]
    second = same[0]
    first = same[1:][np.argsort(-(writer.vectors[same[1:]] @ writer.vectors[second]))[:2]]
    shared = recognizer.read_many([crops_of(writer.images[[second]])])[0].digits[0]
    assert shared.digit != digit

    taught(ann, writer.images[first], [digit, digit], recognizer)
    taught(bob, writer.images[[second]], [(digit + 1) % 10], recognizer)  # bob calls it something else

    read_by_ann = recognizer.read_many([crops_of(writer.images[[second]])], cache.examples(ann))[0].digits[0]
    assert read_by_ann.digit == digit
    assert read_by_ann.from_examples and set(read_by_ann.from_examples) <= set(ann.ids().tolist())
    assert read_by_ann.shared_digit == shared.digit

    stranger = recognizer.read_many([crops_of(writer.images[[second]])],
                                    cache.examples(store.for_profile("carol")))[0].digits[0]
    assert np.array_equal(stranger.probabilities, shared.probabilities)

    ann.delete_all()  # gone from the store: gone from the readings
    assert len(cache.examples(ann)) == 0
    assert len(cache.examples(bob)) == 1


def test_the_cache_computes_each_new_answer_once_and_drops_deleted_ones(tmp_path, recognizer, writer):
    store = FeedbackStore(tmp_path / "feedback.sqlite3").for_profile("ann")
    reader = CountingReader(recognizer)
    cache = ExampleCache(reader)
    taught(store, writer.images[:4], writer.labels[:4], recognizer)
    assert len(cache.examples(store)) == 4
    assert len(cache.examples(store)) == 4  # unchanged: nothing computed again
    taught(store, writer.images[4:6], writer.labels[4:6], recognizer)
    store.delete(int(store.ids()[0]))
    examples = cache.examples(store)
    assert reader.computed == [4, 2]
    assert examples.ids.tolist() == store.ids().tolist()
    assert examples.labels.tolist() == writer.labels[1:6].tolist()
    fresh = ExampleCache(recognizer).examples(store)
    np.testing.assert_allclose(examples.vectors, fresh.vectors, atol=1e-5)


def test_ten_profiles_answering_at_once_each_read_only_with_their_own(tmp_path, recognizer, writer):
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    cache = ExampleCache(recognizer)
    failures = []

    def visitor(n):
        try:
            mine = store.for_profile(f"visitor-{n}")
            picks = np.arange(n, len(writer.labels), 10)[:6]
            for k, i in enumerate(picks):
                taught(mine, writer.images[[i]], [n], recognizer)  # each visitor calls everything an n
                reading = recognizer.read_many([crops_of(writer.images[[i]])], cache.examples(mine))[0]
                examples = cache.examples(mine)
                assert len(examples) == k + 1 and set(examples.labels.tolist()) == {n}
                assert set(reading.digits[0].from_examples) <= set(mine.ids().tolist())
                assert reading.digits[0].digit == n  # its own example, just taught, is the nearest
        except Exception as exc:  # noqa: BLE001 - reported below, with the visitor
            failures.append((n, repr(exc)))

    threads = [threading.Thread(target=visitor, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert store.profiles() == sorted(((f"visitor-{n}", 6) for n in range(10)), key=lambda p: p[0])


def test_upright_digits_are_read_as_drawn_and_a_leaning_hand_is_straightened(recognizer):
    _, (x_test, y_test) = load_mnist()
    upright, labels = x_test[:50].astype(np.float32) / 255, y_test[:50]
    assert recognizer.fit_straightening(upright, labels) == AS_DRAWN
    leaning_right = leaning(upright, 0.8)
    straightening = recognizer.fit_straightening(leaning_right, labels)
    # The shipped model fits this hand best as turned 5 degrees and leaning 0.6: one refining step from pure lean.
    assert abs(straightening.turn) <= REFINE_TURN and straightening.unslant > 0, straightening
    assert "leaning right" in straightening.describe()
    # Too few examples to tell a hand's lean from a few odd digits: read as drawn.
    assert recognizer.fit_straightening(leaning_right[:STRAIGHTEN_FROM - 1], labels[:STRAIGHTEN_FROM - 1]) == AS_DRAWN


def test_writing_turned_then_slanted_has_its_lean_taken_out_first(recognizer):
    """Digits turned 30 degrees and then leaning right 0.6: taking the lean out after
    the turn cannot undo that (it leaves them stretched along a diagonal)."""
    _, (x_test, y_test) = load_mnist()
    written = straightened(x_test[:300].astype(np.float32) / 255, 30.0, -0.6)  # turned, then sheared
    fit = recognizer.fit_straightening(written[:50], y_test[:50])
    assert fit.unslant_first and fit.turn < 0 and fit.unslant > 0, fit

    def accuracy(straightening):
        return float((recognizer.predict(straightening.apply(written[50:])).argmax(1) == y_test[50:300]).mean())

    other_order = Straightening(fit.turn, fit.unslant, unslant_first=False)
    assert accuracy(fit) >= accuracy(AS_DRAWN) + 0.04, (accuracy(fit), accuracy(AS_DRAWN))
    # 250 digits: 100% against 97.6% the other way round with the shipped model.
    assert accuracy(fit) >= accuracy(other_order) + 0.02, (accuracy(fit), accuracy(other_order))


def test_a_writer_turned_as_a_whole_is_read_straightened_with_their_examples(tmp_path, recognizer, writer):
    store = FeedbackStore(tmp_path / "feedback.sqlite3").for_profile("ann")
    rng = np.random.default_rng(3)
    taught_ones = np.concatenate([rng.choice(np.flatnonzero(writer.labels == d), 5, replace=False) for d in range(10)])
    taught(store, writer.images[taught_ones], writer.labels[taught_ones], recognizer)
    examples = ExampleCache(recognizer).examples(store)
    assert examples.straightening.turn < 0, examples.straightening  # written turned anticlockwise
    others = np.setdiff1d(np.arange(len(writer.labels)), taught_ones)
    reading = recognizer.read_many([crops_of(writer.images[others])], examples)[0]
    assert all(d.straightened and not np.array_equal(d.model_input, d.crop.image) for d in reading.digits)
    shared = recognizer.read_many([crops_of(writer.images[others])])[0]
    assert all(np.array_equal(d.shared_probabilities, s.probabilities) for d, s in zip(reading.digits, shared.digits))
    as_drawn = Examples(examples.ids, examples.labels, recognizer.example_vectors(examples.images / np.float32(255)),
                        examples.images)
    unstraightened = recognizer.read_many([crops_of(writer.images[others])], as_drawn)[0]
    truth = writer.labels[others]
    accuracy = np.mean([d.digit for d in reading.digits] == truth)
    # Measured: 96.90% straightened (turn -20 fitted for a writer turned -25) against 95.99%
    # as drawn, 5 of 548 digits more. The fit's score is flat from -20 to -25 (the examples'
    # mean log-probability -0.0966 at both), so a small change to the pipeline picks either:
    # before the stroke-width change it was -25, read 97.26%.
    assert accuracy >= np.mean([d.digit for d in unstraightened.digits] == truth) + 0.005
    assert accuracy >= np.mean(writer.probabilities[others].argmax(1) == truth) + 0.03


def test_the_straightening_is_fitted_again_only_when_enough_is_new():
    assert not refit_due(0, STRAIGHTEN_FROM - 1)  # too few: read as drawn, nothing to fit
    assert refit_due(STRAIGHTEN_FROM - 1, STRAIGHTEN_FROM)  # the fit starts
    assert not refit_due(10, 19) and refit_due(10, 20)  # twice as many
    assert not refit_due(200, 249) and refit_due(200, 250)  # as many new as the 50 it is fitted on
    assert refit_due(-1, 30) and refit_due(-1, 3)  # examples deleted
    assert refit_due(12, STRAIGHTEN_FROM - 1)  # fallen below: back to as drawn


def test_a_reading_never_waits_for_a_fit_and_uses_it_once_it_lands(tmp_path, recognizer, writer):
    """The app's readings (``fit_in_background=True``): a new answer counts at once; the
    fit it makes due runs in the background thread and replaces the straightening after."""
    store = FeedbackStore(tmp_path / "feedback.sqlite3").for_profile("ann")
    rng = np.random.default_rng(3)
    taught_ones = np.concatenate([rng.choice(np.flatnonzero(writer.labels == d), 5, replace=False) for d in range(10)])
    order = rng.permutation(taught_ones)
    cache = ExampleCache(recognizer)
    taught(store, writer.images[order[:STRAIGHTEN_FROM - 1]], writer.labels[order[:STRAIGHTEN_FROM - 1]], recognizer)
    assert cache.examples(store, fit_in_background=True).straightening == AS_DRAWN
    taught(store, writer.images[order[STRAIGHTEN_FROM - 1:]], writer.labels[order[STRAIGHTEN_FROM - 1:]], recognizer)
    now = cache.examples(store, fit_in_background=True)
    assert len(now) == len(order) and now.straightening == AS_DRAWN  # every answer in, the fit not yet
    cache.wait(timeout_s=60)
    later = cache.examples(store, fit_in_background=True)
    assert later.straightening == ExampleCache(recognizer).examples(store).straightening != AS_DRAWN
    assert later.fitted_on == len(order)
    np.testing.assert_allclose(later.vectors, ExampleCache(recognizer).examples(store).vectors, atol=1e-5)


class HeldFit:
    """The recognizer on a network of its own (as the app gives the fits), whose fit
    waits for ``release`` before it returns and notes the CPU priority it ran at."""

    def __init__(self, recognizer):
        self.reader, self.release, self.started = recognizer.with_own_network(), threading.Event(), threading.Event()
        self.niceness = None

    def example_vectors(self, images, straightening=AS_DRAWN):
        return self.reader.example_vectors(images, straightening)

    def fit_straightening(self, images, labels):
        self.niceness = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        self.started.set()
        straightening = self.reader.fit_straightening(images, labels)
        assert self.release.wait(timeout=60)
        return straightening


@pytest.mark.parametrize("meanwhile", ["answers added", "an answer deleted"])
def test_a_fit_that_lands_after_new_answers_reads_them_under_it_too(tmp_path, recognizer, writer, meanwhile):
    """The fit runs outside the profile's lock, on its own network, at the lowest CPU
    priority; what changed while it ran is caught up when it lands."""
    store = FeedbackStore(tmp_path / "feedback.sqlite3").for_profile("ann")
    rng = np.random.default_rng(3)
    order = rng.permutation(np.concatenate([rng.choice(np.flatnonzero(writer.labels == d), 5, replace=False)
                                            for d in range(10)]))
    held = HeldFit(recognizer)
    cache = ExampleCache(recognizer, fit_reader=held)
    taught(store, writer.images[order[:9]], writer.labels[order[:9]], recognizer)
    assert cache.examples(store, fit_in_background=True).straightening == AS_DRAWN  # too few to fit
    taught(store, writer.images[order[9:40]], writer.labels[order[9:40]], recognizer)
    assert len(cache.examples(store, fit_in_background=True)) == 40  # the fit on 40 is due: it starts
    assert held.started.wait(timeout=60)
    if meanwhile == "answers added":
        taught(store, writer.images[order[40:]], writer.labels[order[40:]], recognizer)
    else:
        store.delete(int(store.ids()[0]))
    during = cache.examples(store, fit_in_background=True)  # not held up by the fit
    assert during.straightening == AS_DRAWN and len(during) == (50 if meanwhile == "answers added" else 39)
    held.release.set()
    cache.wait(timeout_s=120)
    later = cache.examples(store, fit_in_background=False)
    assert held.niceness == FIT_NICENESS
    np.testing.assert_array_equal(later.ids, during.ids)
    ids, images, labels = store.examples_after(0)
    first_40 = images[:40] if meanwhile == "answers added" else None
    if first_40 is not None:
        fitted = recognizer.fit_straightening(first_40 / np.float32(255), labels[:40])
        assert later.fitted_on == 40  # the answers added meanwhile are too few to make a fit due
    else:
        fitted = later.straightening  # fitted on the 40 before one of them was deleted
        assert later.fitted_on == -1  # due again
    assert fitted != AS_DRAWN and later.straightening == fitted
    np.testing.assert_allclose(later.vectors, recognizer.example_vectors(images / np.float32(255), fitted), atol=1e-5)
