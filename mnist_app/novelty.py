"""Does an input look like the digits the model learned from?

A softmax is confident about almost anything: a star or the letter W is read as a
"4" at 100%. The network's own features know better. Each ensemble member's last
hidden layer (the flattened features before its logits) is modelled, per digit
class, as a Gaussian with one shared covariance; an input's distance is its smallest
Mahalanobis distance to the ten class means (Lee et al., "A Simple Unified Framework
for Detecting Out-of-Distribution Samples and Adversarial Attacks", 2018). Inputs
farther than nearly every held-out real digit are flagged as not looking like a digit.

What it flags, measured: docs/model.md ("Does not look like a digit").

The statistics live in ``feature_stats.npz`` beside the model file (written by
``train_model.py``; ``train_model.py --calibrate-only`` refits them for a model).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_app.network import Network

FEATURE_STATS_NAME = "feature_stats.npz"
HELD_OUT_PERCENTILE = 99.5  # real digits farther than this are flagged too (0.5%)
RIDGE = 1e-3  # added to the covariance's diagonal: some features are nearly constant


@dataclass(frozen=True)
class FeatureDensity:
    """Class means and shared covariance of the features, whitened: with
    ``transform`` (d, d) such that transform @ transform.T is the inverse covariance,
    an input's squared Mahalanobis distance to class c is
    ``|features @ transform - centres[c]|^2``. centres: float32 (10, d);
    max_distance: the squared distance that all but 0.5% of held-out digits stay within."""

    transform: np.ndarray
    centres: np.ndarray
    max_distance: float

    def distances(self, features: np.ndarray) -> np.ndarray:
        """float32 (n, d) features -> float32 (n,) squared distance to the nearest class."""
        whitened = np.asarray(features, np.float32) @ self.transform
        return ((whitened[:, None, :] - self.centres[None]) ** 2).sum(axis=2).min(axis=1)

    def looks_like_digit(self, features: np.ndarray) -> np.ndarray:
        """bool (n,): which inputs lie among the real digits."""
        return self.distances(features) <= self.max_distance

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, held_out: np.ndarray,
            percentile: float = HELD_OUT_PERCENTILE) -> "FeatureDensity":
        """Fit on training features (n, d) with labels (n,); set the threshold on the
        features (m, d) of held-out digits (the validation split, never the test set)."""
        features = np.asarray(features, np.float64)
        labels = np.asarray(labels)
        means = np.stack([features[labels == c].mean(axis=0) for c in range(10)])
        centred = features - means[labels]
        covariance = centred.T @ centred / len(features) + RIDGE * np.eye(features.shape[1])
        transform = np.linalg.cholesky(np.linalg.inv(covariance))  # L @ L.T = inverse covariance
        partial = cls(transform.astype(np.float32), (means @ transform).astype(np.float32), np.inf)
        max_distance = float(np.percentile(partial.distances(held_out), percentile))
        return cls(partial.transform, partial.centres, max_distance)

    def save(self, path: Path | str) -> None:
        np.savez_compressed(path, transform=self.transform, centres=self.centres,
                            max_distance=np.float64(self.max_distance))

    @classmethod
    def load(cls, path: Path | str) -> "FeatureDensity":
        with np.load(path) as stats:
            return cls(stats["transform"], stats["centres"], float(stats["max_distance"]))


def fit_feature_density(network: Network, digits: np.ndarray, labels: np.ndarray,
                        held_out: np.ndarray) -> FeatureDensity:
    """``FeatureDensity.fit`` on the network's features of training ``digits`` float32
    (n, 28, 28) in [0, 1] with ``labels`` (n,), thresholded on ``held_out`` digits (m, 28, 28)."""
    return FeatureDensity.fit(network.read(digits)[1], labels, network.read(held_out)[1])


def load_feature_density(model_path: Path | str) -> FeatureDensity | None:
    """The statistics beside ``model_path``, or None when they are missing or unreadable
    (the app then relies on the top-logit check alone)."""
    path = Path(model_path).with_name(FEATURE_STATS_NAME)
    try:
        return FeatureDensity.load(path)
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None
