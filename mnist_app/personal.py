"""Reading with a visitor's own examples: their answers change their next reading at once.

Every answer a profile gives (a digit image and its right label) becomes an *example*:
the network's last hidden features joined with a blurred 14x14 copy of the image, each
part unit-length. A new digit is compared with the profile's examples by cosine
similarity; its ``NEIGHBOURS`` nearest vote (near-equal weights), and the vote is mixed
into the network's probabilities with a weight that rises from 0 to ``MAX_WEIGHT`` as
the nearest example gets closer than ``CLOSE``. So:

- with no examples, or none close, the reading is the shared network's, unchanged;
- a digit the network misreads but the user has taught reads the user's way, because
  examples the network got wrong count as much as the rest;
- one wrong label among a digit's examples is outvoted by the others near it.

A profile whose writing is turned or slanted as a whole (the paper held askew, a
hand that leans) is also *straightened*: ``fit_straightening`` tries a few turns and
un-slants of its examples and keeps the one under which the network reads the
examples' own labels best, only when it clearly beats reading them as drawn; every
new digit of that profile is then read straightened (``preprocess.straightened``),
and its examples are compared straightened too.

The shared network is never retrained here. The constants were chosen on pseudo-writers
of one style (``writers``: pen digits turned 25 degrees, and upright) and measured on
writers of three other styles; see docs/your-handwriting.md.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from mnist_app.preprocess import straightened

NEIGHBOURS = 3
VOTE_TEMPERATURE = 0.3  # on cosine similarities: the nearest few vote almost equally
MAX_WEIGHT = 0.8  # the examples' vote never entirely replaces the network
CLOSE = 0.6  # similarity of the nearest example at which the vote gets half its weight
CLOSE_WIDTH = 0.08  # how sharply the weight rises around CLOSE
FEATURE_SHARE = 0.5  # of the squared length of an example vector: features, then pixels
PIXEL_SIDE = 14
PIXEL_BLUR = 1.0  # px of the 28x28 image, before shrinking to 14x14
SHOWN_FROM = 0.4  # weight from which the app says the reading comes from the examples
MAX_PROFILES = 256  # kept in memory per app process, least recently used dropped first
TURNS = (-30.0, -20.0, -10.0, 10.0, 20.0, 30.0)  # degrees tried, besides none
UNSLANTS = (-0.9, -0.6, -0.3, 0.3, 0.6, 0.9)  # x shift per unit of height tried, besides none
REFINE_TURN, REFINE_UNSLANT = 5.0, 0.15  # then half a step either way around the best, when it straightens
REFINE_ROUNDS = 4  # and again from there while that moves it, at most this often
STRAIGHTEN_FROM = 10  # examples a profile needs before its writing is straightened
STRAIGHTEN_SAMPLE = 50  # the most recent examples the straightening is fitted on
STRAIGHTEN_GAIN = 0.03  # in mean log-probability of the examples' labels, over reading them as drawn
STRAIGHTEN_FLOOR = -2.0  # a label's log-probability counts at least this (a wrong label cannot steer the fit)
# Fitted again once this share of the examples it was fitted on (at most STRAIGHTEN_SAMPLE)
# is new (at 10, 20, 40, 80 examples, then after every 50), or when examples are deleted:
# a hand's lean is a property of the hand, a few new answers barely move a fit on 50, and
# a fit reads 20-40 candidates of up to 50 images (~1.6 s of one core with three networks).
REFIT_SHARE = 1.0
FIT_NICENESS = 19  # the fits' thread yields the cores to the sessions' readings (Linux nice)

log = logging.getLogger(__name__)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-6)


def example_vectors(images: np.ndarray, features: np.ndarray) -> np.ndarray:
    """What an example (or a new digit) is compared by: float32 (n, d + 196), unit length.

    images: float32 (n, 28, 28) in [0, 1], the model's inputs; features: float32 (n, d),
    the network's last hidden features of them (d may be 0).
    """
    images = np.asarray(images, np.float32)
    pixels = np.empty((len(images), PIXEL_SIDE * PIXEL_SIDE), np.float32)
    for i, image in enumerate(images):
        small = cv2.resize(cv2.GaussianBlur(image, (0, 0), PIXEL_BLUR), (PIXEL_SIDE, PIXEL_SIDE),
                           interpolation=cv2.INTER_AREA)
        pixels[i] = small.ravel() - small.mean()
    features = np.asarray(features, np.float32)
    if features.shape[1] == 0:
        return _unit_rows(pixels)
    return np.concatenate([np.sqrt(FEATURE_SHARE) * _unit_rows(features),
                           np.sqrt(1 - FEATURE_SHARE) * _unit_rows(pixels)], axis=1).astype(np.float32)


@dataclass(frozen=True)
class Straightening:
    """How a profile's digits are straightened before reading: ``turn`` degrees
    counter-clockwise and ``unslant`` (x shift per unit of height) taken out; both 0:
    read as drawn. ``unslant_first``: the lean is taken out before the turn (for
    writing turned, then slanted; otherwise after it: slanted writing on a turned page).
    Neither order can undo the other's writing: a 40-degree turn then a 0.5 lean, undone
    the other way round, stays stretched 1.6 times along a diagonal."""

    turn: float = 0.0
    unslant: float = 0.0
    unslant_first: bool = False

    def __post_init__(self):
        if self.turn == 0 or self.unslant == 0:  # one of the two: the order means nothing
            object.__setattr__(self, "unslant_first", False)

    @property
    def as_drawn(self) -> bool:
        return self.turn == 0 and self.unslant == 0

    def apply(self, images: np.ndarray) -> np.ndarray:
        """float32 (n, 28, 28) inputs -> float32 (n, 28, 28), as this profile's are read."""
        return images if self.as_drawn else straightened(images, self.turn, self.unslant, self.unslant_first)

    def describe(self) -> str:
        """What the writing does, as the app says it ("turned 20 degrees clockwise, leaning right")."""
        parts = []
        if self.turn:
            parts.append(f"turned about {abs(self.turn):.0f} degrees {'clockwise' if self.turn > 0 else 'anticlockwise'}")
        if self.unslant:
            parts.append(f"leaning {'right' if self.unslant > 0 else 'left'} ({abs(self.unslant):.1f} of its height)")
        return ", ".join(parts) if parts else "upright"


AS_DRAWN = Straightening()


def fit_straightening(images: np.ndarray, labels: np.ndarray,
                      log_probabilities_of: Callable[[np.ndarray], np.ndarray]) -> Straightening:
    """The straightening under which a profile's examples read most like their labels.

    images: float32 (m, 28, 28) the examples' inputs; labels: uint8 (m,);
    log_probabilities_of: float32 (n, 28, 28) -> float32 (n, 10) log-probabilities
    (the recognizer's, with its temperature). Only the ``STRAIGHTEN_SAMPLE`` most recent
    examples are used; with fewer than ``STRAIGHTEN_FROM``, none. Un-slants and turns
    are searched one after the other (un-slant, turn, un-slant again: a lean is the
    commoner, and a turn can pass for part of one), then, when that straightens, half a
    step either way around the best (``REFINE_TURN``, ``REFINE_UNSLANT``), again from
    there while that moves it, at most ``REFINE_ROUNDS`` times (a turn of 40 degrees is
    found from 30); and when it straightens, the same search again with the
    lean taken out before the turn (``Straightening.unslant_first``), the better kept.
    Each label's log-probability is counted no lower than ``STRAIGHTEN_FLOOR``, and the
    best is kept only when it beats reading as drawn by ``STRAIGHTEN_GAIN``.
    """
    if len(images) < STRAIGHTEN_FROM:
        return AS_DRAWN
    images = np.asarray(images[-STRAIGHTEN_SAMPLE:], np.float32)
    labels = np.asarray(labels[-STRAIGHTEN_SAMPLE:], np.int64)
    scores: dict[Straightening, float] = {}

    def score(candidate: Straightening) -> float:
        if candidate not in scores:
            log_p = log_probabilities_of(candidate.apply(images))[np.arange(len(labels)), labels]
            scores[candidate] = float(np.maximum(log_p, STRAIGHTEN_FLOOR).mean())
        return scores[candidate]

    def varied(best: Straightening, search: str, values, unslant_first: bool) -> list[Straightening]:
        """``best`` with its turn or its un-slant set to each of ``values``."""
        return [Straightening(v, best.unslant, unslant_first) if search == "turn"
                else Straightening(best.turn, v, unslant_first) for v in values]

    def searched(unslant_first: bool) -> Straightening:
        best = AS_DRAWN
        for search in ("unslant", "turn", "unslant"):
            values = (0.0,) + (TURNS if search == "turn" else UNSLANTS)
            best = max(varied(best, search, values, unslant_first), key=score)
        for _ in range(REFINE_ROUNDS if not best.as_drawn else 0):
            start = best
            for search, step in (("turn", REFINE_TURN), ("unslant", REFINE_UNSLANT)):
                here = best.turn if search == "turn" else best.unslant
                best = max(varied(best, search, (here, here - step, here + step), unslant_first), key=score)
            if best == start:
                break
        return best

    best = searched(unslant_first=False)
    if not best.as_drawn:
        best = max((best, searched(unslant_first=True)), key=score)
    return best if score(best) >= score(AS_DRAWN) + STRAIGHTEN_GAIN else AS_DRAWN


@dataclass(frozen=True)
class Examples:
    """One profile's examples: ids int64 (m,) of their answers, labels uint8 (m,),
    vectors float32 (m, D) from ``example_vectors`` of their images straightened by
    ``straightening``, and images uint8 (m, 28, 28) as drawn."""

    ids: np.ndarray
    labels: np.ndarray
    vectors: np.ndarray
    images: np.ndarray
    straightening: Straightening = AS_DRAWN
    fitted_on: int = 0  # how many examples there were when the straightening was fitted

    @classmethod
    def none(cls, width: int = 0) -> Examples:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.uint8), np.zeros((0, width), np.float32),
                   np.zeros((0, 28, 28), np.uint8))

    def __len__(self) -> int:
        return len(self.ids)

    def image(self, answer_id: int) -> np.ndarray:
        """uint8 (28, 28): the image of the example with this answer id."""
        return self.images[int(np.flatnonzero(self.ids == answer_id)[0])]


@dataclass(frozen=True)
class Evidence:
    """How a profile's examples changed one reading.

    weight: how much their vote counted (0..MAX_WEIGHT); nearest_ids, nearest_labels:
    the examples that voted, nearest first; shared_probabilities float32 (10,): what the
    network alone read, as drawn; straightening: how the digit was straightened for
    this profile before it was read (``AS_DRAWN``: not at all), and straightened_input
    float32 (28, 28) what that made of it (None when not straightened).
    """

    weight: float
    nearest_ids: tuple[int, ...]
    nearest_labels: tuple[int, ...]
    shared_probabilities: np.ndarray
    straightening: Straightening = AS_DRAWN
    straightened_input: np.ndarray | None = None

    def like(self, digit: int) -> tuple[int, ...]:
        """The ids of the voting examples labelled ``digit``."""
        return tuple(i for i, label in zip(self.nearest_ids, self.nearest_labels) if label == digit)

    def shown_for(self, digit: int) -> bool:
        """Whether the reading ``digit`` is fairly said to come from the examples: their
        vote counted and some of them are ``digit``s."""
        return self.weight >= SHOWN_FROM and bool(self.like(digit))


def blend(probabilities: np.ndarray, vectors: np.ndarray, examples: Examples,
          shared: np.ndarray | None = None) -> tuple[np.ndarray, list[Evidence | None]]:
    """The network's probabilities float32 (n, 10) of n digits with vectors float32
    (n, D) (both of the digits as ``examples.straightening`` straightens them) ->
    probabilities float32 (n, 10) with the examples' vote mixed in, and per digit its
    ``Evidence`` (None without examples: then the probabilities are returned as they
    are). shared: float32 (n, 10), the network's reading of the digits as drawn, when
    they were straightened (None: ``probabilities``)."""
    probabilities = np.asarray(probabilities, np.float32)
    if len(examples) == 0 or len(probabilities) == 0:
        return probabilities, [None] * len(probabilities)
    shared = probabilities if shared is None else np.asarray(shared, np.float32)
    similarity = vectors @ examples.vectors.T  # (n, m)
    k = min(NEIGHBOURS, len(examples))
    nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    nearest_similarity = np.take_along_axis(similarity, nearest, axis=1)
    order = np.argsort(-nearest_similarity, axis=1)
    nearest = np.take_along_axis(nearest, order, axis=1)
    nearest_similarity = np.take_along_axis(nearest_similarity, order, axis=1)
    votes = np.exp((nearest_similarity - nearest_similarity[:, :1]) / VOTE_TEMPERATURE)
    tally = np.zeros((len(probabilities), 10), np.float32)
    np.add.at(tally, (np.arange(len(probabilities))[:, None], examples.labels[nearest]), votes)
    tally /= tally.sum(axis=1, keepdims=True)
    weight = MAX_WEIGHT / (1 + np.exp(-(nearest_similarity[:, 0] - CLOSE) / CLOSE_WIDTH))
    blended = ((1 - weight[:, None]) * probabilities + weight[:, None] * tally).astype(np.float32)
    evidence = [Evidence(float(w), tuple(int(i) for i in examples.ids[row]),
                         tuple(int(label) for label in examples.labels[row]), p, examples.straightening)
                for w, row, p in zip(weight, nearest, shared)]
    return blended, evidence


@dataclass
class _Entry:
    revision: tuple[int, int]
    examples: Examples


class ExampleCache:
    """Each profile's examples, in memory, brought up to date with its store before each
    reading: one cheap query when nothing changed; when answers were added or deleted,
    the vectors of the new ones computed (~1 ms each), and the profile's straightening
    fitted again when due (``refit_due``; then every example's vector again if it
    changed). Shared by every session of an app process; thread-safe, and a profile is
    brought up to date by one thread at a time (the others wait for it instead of doing
    it again).

    ``examples(store, fit_in_background=True)`` (the app's readings) never waits for a
    fit: a new answer counts at once, under the straightening of the last fit, while the
    new fit runs in a thread of its own, at the lowest CPU priority, and is used from the
    reading after it lands. ``refresh_soon`` brings a profile up to date in a background
    thread right after an answer.

    reader: has ``example_vectors(images, straightening)`` (float32 (n, 28, 28) ->
    float32 (n, D)) and ``fit_straightening(images, labels)`` (normally the
    ``Recognizer``). fit_reader: the same, for the fits (default: ``reader``); the app
    gives them a network of their own, so a fit never holds up a session's reading.
    """

    LOCK_STRIPES = 16

    def __init__(self, reader, max_profiles: int = MAX_PROFILES, fit_reader=None):
        self.reader = reader
        self.fit_reader = fit_reader if fit_reader is not None else reader
        self.max_profiles = max_profiles
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._profile_locks = [threading.Lock() for _ in range(self.LOCK_STRIPES)]
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="examples")
        self._fitter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="straightening",
                                          initializer=_lower_priority)
        self._fitting: set[tuple[str, str]] = set()  # profiles with a fit waiting or running in the background

    def examples(self, store, fit_in_background: bool = False) -> Examples:
        """The examples of ``store``'s profile (a ``FeedbackStore.for_profile``); raises
        ``FeedbackStoreError`` when the store cannot be read. fit_in_background: a due
        fit of the straightening is left to the background thread (see the class)."""
        if store.profile is None:
            raise ValueError("examples belong to one profile: pass store.for_profile(name)")
        key = (str(store.path), store.profile)
        revision = store.revision()
        current = self._current(key, revision)
        if current is not None:
            return current
        with self._profile_locks[hash(key) % self.LOCK_STRIPES]:
            current = self._current(key, revision)  # brought up to date while this one waited
            if current is not None:
                return current
            with self._lock:
                entry = self._entries.get(key)
            old = entry.examples if entry is not None else None
            examples = self._refreshed(store, old, fit=not (fit_in_background and old is not None))
            self._keep(key, _Entry(revision, examples))
        if fit_in_background and refit_due(examples.fitted_on, len(examples)):
            self._fit_soon(key, examples)
        return examples

    def refresh_soon(self, store) -> None:
        """Bring ``store``'s profile up to date in the background thread (after an
        answer, before the visitor's next digit); a failure there is logged, and the
        next ``examples`` call tries again and reports it."""
        self._background.submit(self._logged, self.examples, store, True)

    def wait(self, timeout_s: float | None = None) -> None:
        """Wait until the background work asked for so far is done (a fit made due by
        the examples just read included)."""
        self._background.submit(lambda: None).result(timeout=timeout_s)
        self._fitter.submit(lambda: None).result(timeout=timeout_s)

    def _current(self, key: tuple[str, str], revision: tuple[int, int]) -> Examples | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.revision != revision:
                return None
            self._entries.move_to_end(key)
            return entry.examples

    def _keep(self, key: tuple[str, str], entry: _Entry) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_profiles:
                self._entries.popitem(last=False)

    def _fit_soon(self, key: tuple[str, str], examples: Examples) -> None:
        with self._lock:
            if key in self._fitting:
                return
            self._fitting.add(key)
        self._fitter.submit(self._logged, self._fit, key, examples)

    def _fit(self, key: tuple[str, str], examples: Examples) -> None:
        """Fit the straightening of ``examples`` and use it for the profile's examples as
        they are by then (answers added meanwhile get their vectors under it too). The
        slow part runs outside the profile's lock: a reading of the profile never waits for it."""
        try:
            straightening = self._fitted(examples, self.fit_reader)
            refitted = self._straightened(examples, straightening, len(examples), self.fit_reader)
            with self._profile_locks[hash(key) % self.LOCK_STRIPES]:
                with self._lock:
                    entry = self._entries.get(key)
                if entry is None:
                    return
                self._keep(key, _Entry(entry.revision, self._caught_up(entry.examples, refitted)))
        finally:
            with self._lock:
                self._fitting.discard(key)

    @staticmethod
    def _logged(task, *args) -> None:
        try:
            task(*args)
        except Exception:  # noqa: BLE001 - a background thread has no one to raise to
            log.exception("bringing a profile's examples up to date failed")

    def _fitted(self, examples: Examples, reader=None) -> Straightening:
        """The straightening of ``examples``, fitted by ``reader`` (default: the readings')."""
        reader = reader if reader is not None else self.reader
        return reader.fit_straightening(examples.images.astype(np.float32) / 255, examples.labels)

    def _straightened(self, examples: Examples, straightening: Straightening, fitted_on: int,
                      reader=None) -> Examples:
        """``examples`` read under ``straightening`` (every vector again, by ``reader``, if it moved)."""
        reader = reader if reader is not None else self.reader
        vectors = (examples.vectors if straightening == examples.straightening
                   else reader.example_vectors(examples.images.astype(np.float32) / 255, straightening))
        return Examples(examples.ids, examples.labels, vectors.astype(np.float32), examples.images, straightening,
                        fitted_on)

    def _caught_up(self, current: Examples, refitted: Examples) -> Examples:
        """The profile's ``current`` examples under the straightening ``refitted`` (those
        examples, fitted and read again) was fitted with: its vectors where it has the
        answer, the vectors of answers added since computed now. Deleted since: due again."""
        if np.array_equal(current.ids, refitted.ids):
            return refitted
        fitted_on = refitted.fitted_on if current.fitted_on >= 0 else -1
        at = np.minimum(np.searchsorted(refitted.ids, current.ids), max(len(refitted.ids) - 1, 0))
        known = (refitted.ids[at] == current.ids) if len(refitted.ids) else np.zeros(len(current.ids), bool)
        if known.all():
            vectors = refitted.vectors[at]
        else:
            added = self.reader.example_vectors(current.images[~known].astype(np.float32) / 255, refitted.straightening)
            vectors = np.empty((len(current.ids), added.shape[1]), np.float32)
            vectors[~known] = added
            vectors[known] = refitted.vectors[at[known]]
        return Examples(current.ids, current.labels, vectors.astype(np.float32), current.images,
                        refitted.straightening, fitted_on)

    def _refreshed(self, store, old: Examples | None, fit: bool) -> Examples:
        """``old`` brought up to date with ``store``: new answers' vectors computed, deleted
        ones dropped, and (``fit``) the straightening fitted again when due."""
        old = Examples.none() if old is None else old
        kept = np.isin(old.ids, store.ids()) if len(old) else np.zeros(0, bool)
        new_ids, new_images, new_labels = store.examples_after(int(old.ids.max()) if len(old) else 0)
        vectors = old.vectors[kept]
        if len(new_ids):
            new_vectors = self.reader.example_vectors(new_images.astype(np.float32) / 255, old.straightening)
            vectors = np.concatenate([vectors, new_vectors]) if len(vectors) else new_vectors
        fitted_on = old.fitted_on if kept.all() else -1  # a deletion: due at once (see refit_due)
        examples = Examples(np.concatenate([old.ids[kept], new_ids]), np.concatenate([old.labels[kept], new_labels]),
                            vectors.astype(np.float32), np.concatenate([old.images[kept], new_images]),
                            old.straightening, fitted_on)
        if fit and refit_due(fitted_on, len(examples)):
            return self._straightened(examples, self._fitted(examples), len(examples))
        return examples


def _lower_priority() -> None:
    """Run the calling thread at ``FIT_NICENESS`` (Linux sets a thread's own nice value;
    elsewhere this does nothing)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), FIT_NICENESS)
    except (AttributeError, OSError):
        pass


def refit_due(fitted_on: int, count: int) -> bool:
    """Whether a profile's straightening, fitted when it had ``fitted_on`` examples (-1:
    some have been deleted since), is fitted again now that it has ``count``: after a
    deletion; when the fit is to start (``STRAIGHTEN_FROM`` reached) or stop (fallen
    below it); and once ``REFIT_SHARE`` of the examples it was fitted on, at least one,
    is new."""
    if fitted_on < 0 or (count >= STRAIGHTEN_FROM) != (fitted_on >= STRAIGHTEN_FROM):
        return True
    if count < STRAIGHTEN_FROM:
        return False  # as drawn, whatever is added
    return count - fitted_on >= max(1, int(REFIT_SHARE * min(fitted_on, STRAIGHTEN_SAMPLE)))
