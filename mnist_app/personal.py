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

The shared network is never retrained here. The constants were chosen on pseudo-writers
of one style (``writers``: pen digits turned 25 degrees, and upright) and measured on
writers of three other styles; see the README's "Learns your handwriting".
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

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
class Examples:
    """One profile's examples: ids int64 (m,) of their answers, labels uint8 (m,),
    vectors float32 (m, D) from ``example_vectors`` and images uint8 (m, 28, 28)."""

    ids: np.ndarray
    labels: np.ndarray
    vectors: np.ndarray
    images: np.ndarray

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
    network alone read.
    """

    weight: float
    nearest_ids: tuple[int, ...]
    nearest_labels: tuple[int, ...]
    shared_probabilities: np.ndarray

    def like(self, digit: int) -> tuple[int, ...]:
        """The ids of the voting examples labelled ``digit``."""
        return tuple(i for i, label in zip(self.nearest_ids, self.nearest_labels) if label == digit)

    def shown_for(self, digit: int) -> bool:
        """Whether the reading ``digit`` is fairly said to come from the examples: their
        vote counted and some of them are ``digit``s."""
        return self.weight >= SHOWN_FROM and bool(self.like(digit))


def blend(probabilities: np.ndarray, vectors: np.ndarray,
          examples: Examples) -> tuple[np.ndarray, list[Evidence | None]]:
    """The network's probabilities float32 (n, 10) of n digits with vectors float32
    (n, D) -> probabilities float32 (n, 10) with the examples' vote mixed in, and per
    digit its ``Evidence`` (None without examples: then the probabilities are returned
    as they are)."""
    probabilities = np.asarray(probabilities, np.float32)
    if len(examples) == 0 or len(probabilities) == 0:
        return probabilities, [None] * len(probabilities)
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
                         tuple(int(label) for label in examples.labels[row]), p)
                for w, row, p in zip(weight, nearest, probabilities)]
    return blended, evidence


@dataclass
class _Entry:
    revision: tuple[int, int]
    examples: Examples


class ExampleCache:
    """Each profile's examples, in memory, brought up to date with its store before each
    reading: one cheap query when nothing changed, the vectors of new answers computed
    once (never the whole profile again), deleted ones dropped. Shared by every session
    of an app process; thread-safe.

    vectors_of: float32 (n, 28, 28) images -> float32 (n, D) ``example_vectors``
    (normally ``Recognizer.example_vectors``).
    """

    def __init__(self, vectors_of: Callable[[np.ndarray], np.ndarray], max_profiles: int = MAX_PROFILES):
        self.vectors_of = vectors_of
        self.max_profiles = max_profiles
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def examples(self, store) -> Examples:
        """The examples of ``store``'s profile (a ``FeedbackStore.for_profile``); raises
        ``FeedbackStoreError`` when the store cannot be read."""
        if store.profile is None:
            raise ValueError("examples belong to one profile: pass store.for_profile(name)")
        key = (str(store.path), store.profile)
        revision = store.revision()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                if entry.revision == revision:
                    return entry.examples
            old = entry.examples if entry is not None else None
        examples = self._refreshed(store, old)
        with self._lock:
            self._entries[key] = _Entry(revision, examples)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_profiles:
                self._entries.popitem(last=False)
        return examples

    def _refreshed(self, store, old: Examples | None) -> Examples:
        if old is None or len(old) == 0:
            kept, highest = None, 0
        else:
            kept = np.isin(old.ids, store.ids())
            highest = int(old.ids.max())
        ids, images, labels = store.examples_after(highest)
        vectors = self.vectors_of(images.astype(np.float32) / 255)
        if kept is None:
            return Examples(ids, labels, vectors, images)
        return Examples(np.concatenate([old.ids[kept], ids]), np.concatenate([old.labels[kept], labels]),
                        np.concatenate([old.vectors[kept], vectors]), np.concatenate([old.images[kept], images]))
