"""How well the app reads each measuring set, and how honest its confidence is.

The sets of the training report and the Model page (``SETS``), each read the way its
digits reach the app:

- ``mnist``: the 10,000 MNIST test digits, already MNIST-style 28x28 inputs;
- ``pen``: the held-out fifth of the pen digits (``handwriting.split_parts``), each drawn
  as a canvas drawing and read like the Draw page (``Recognizer.read_picture``);
- ``skahl``: strokes with real pen lifts by 5 writers, drawn as the canvas draws them;
- ``scans`` and ``kensanata``: the held-out fifths of the USPS scans and the kensanata16
  paper forms, as scans (``handwriting.as_scan``), read like an upload
  (``photo.crops_from_picture``);
- more (``MORE_SETS``): MNIST's test digits as scans, and the CVL paper forms (127
  writers, never trained on, never shipped: measured where the workplace's copy is).

The parts of the pen digits, USPS and kensanata16 kept out of training to fit the
confidence on are ``<set>_calibration`` (``CALIBRATION_SETS``): not measuring sets.

Every set is also read by the **plain baseline**: ink = distance from the picture's
background above a fixed threshold, its bounding box scaled to 20 px and centred by
mass in 28x28, nothing else. The app's pipeline must never read worse than it.

A reading is right when it is exactly one digit, the label. It is "shown as sure"
when no digit of it is flagged unsure (``DigitReading.unsure``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mnist_app.handwriting import (CVL_FILE, as_scan, load_cvl_digits, load_kensanata_digits, load_pen_digits,
                                   load_skahl_strokes, load_usps_digits, split_parts, render_pen_digit,
                                   render_strokes_digit)
from mnist_app.inference import Recognizer
from mnist_app.metrics import confusion_matrix, per_class_metrics
from mnist_app.photo import crops_from_picture
from mnist_app.preprocess import DigitCrop, Placement, fit_to_mnist, ink_from_picture
from mnist_app.segmentation import Reader, segment_digits

SETS = ("mnist", "pen", "skahl", "scans", "kensanata")  # the training report's and the Model page's
# More real sets: MNIST's test digits as paper scans, and the CVL forms (never shipped:
# measured only where the workplace's copy is, ``handwriting.CVL_FILE``).
MORE_SETS = ("mnist_scans", "cvl")
# Not measuring sets: the parts kept out of training to fit the confidence on.
CALIBRATION_SETS = ("pen_calibration", "scans_calibration", "kensanata_calibration")
PEN_CALIBRATION = "pen_calibration"
SET_TITLES = {"mnist": "MNIST test digits", "pen": "Pen digits (held out)", "scans": "USPS scans (held out)",
              "mnist_scans": "MNIST test digits as scans", "skahl": "Strokes with pen lifts (skahl)",
              "kensanata": "Paper forms (kensanata16, held out)", "cvl": "Paper forms (CVL, 127 writers)"}
SET_SOURCES = {"mnist": "paper", "pen": "canvas", "scans": "paper", "mnist_scans": "paper", "skahl": "canvas",
               "kensanata": "paper", "cvl": "paper"}
BASELINE_THRESHOLD = 0.25
CALIBRATION_BINS = 15


def _item_rng(seed: int, index: int) -> np.random.Generator:
    """One generator per item, so any subset renders each item the same way."""
    return np.random.default_rng([seed, index])


@dataclass
class LabelledPictures:
    """A measuring set as it reaches the app: ``pictures`` uint8 RGBA or RGB images
    (or, for MNIST, float32 (28, 28) inputs), ``labels`` uint8 (n,), and ``kind``:
    "drawing", "upload" or "mnist", which says how the app reads them."""

    name: str
    pictures: list[np.ndarray]
    labels: np.ndarray
    kind: str


def load_set(name: str, limit: int | None = None, seed: int = 0) -> LabelledPictures:
    """The set ``name`` (one of ``SETS``, ``MORE_SETS`` or ``CALIBRATION_SETS``), its first
    ``limit`` items (all with None)."""
    if name == "mnist":
        from mnist_app.data import load_mnist

        _, (x_test, y_test) = load_mnist()
        x, y = x_test[:limit], y_test[:limit]
        return LabelledPictures(name, list(x.astype(np.float32) / 255), y, "mnist")
    if name in ("pen", PEN_CALIBRATION):
        points, labels = load_pen_digits()
        _, calibration, held_out = split_parts(len(labels))
        part = (held_out if name == "pen" else calibration)[:limit]
        pictures = [render_pen_digit(points[i], _item_rng(seed, int(i))) for i in part]
        return LabelledPictures(name, pictures, labels[part], "drawing")
    if name in ("mnist_scans", "cvl"):
        return load_scans(name.removesuffix("_scans"), None, name, limit, seed)
    if name in ("scans", "scans_calibration", "kensanata", "kensanata_calibration"):
        ink, labels = PAPER_LOADERS["usps" if name.startswith("scans") else "kensanata"]()
        _, calibration, held_out = split_parts(len(labels))
        part = calibration if name.endswith("_calibration") else held_out
        return scans_of(ink, labels, part[:limit], name, seed)
    if name == "skahl":
        strokes, labels, _ = load_skahl_strokes()
        strokes, labels = strokes[:limit], labels[:limit]
        pictures = [render_strokes_digit(s, _item_rng(seed, i)) for i, s in enumerate(strokes)]
        return LabelledPictures(name, pictures, labels, "drawing")
    raise ValueError(f"unknown set {name!r}; choose from {', '.join(SETS + MORE_SETS)}")


def _mnist_test_ink() -> tuple[np.ndarray, np.ndarray]:
    from mnist_app.data import load_mnist

    _, (x_test, labels) = load_mnist()
    return x_test.astype(np.float32) / 255, labels


PAPER_LOADERS = {"usps": load_usps_digits, "kensanata": load_kensanata_digits, "mnist": _mnist_test_ink,
                 "cvl": lambda: load_cvl_digits()[:2]}


def load_scans(source: str, indices: np.ndarray | None, name: str | None = None, limit: int | None = None,
               seed: int = 0) -> LabelledPictures:
    """Digits of a paper set (``PAPER_LOADERS``: "usps", "kensanata", "mnist" (its test
    digits) or "cvl") as scans (``scans_of``), the ones at ``indices`` into the whole set
    (all with None), the first ``limit`` of them."""
    ink, labels = PAPER_LOADERS[source]()
    part = (np.arange(len(labels)) if indices is None else np.asarray(indices))[:limit]
    return scans_of(ink, labels, part, name or source, seed)


def scans_of(ink: np.ndarray, labels: np.ndarray, part: np.ndarray, name: str, seed: int = 0) -> LabelledPictures:
    """The digits at indices ``part`` of a paper set as scans (``as_scan``). ink float32
    (n, h, w) in [0, 1], labels uint8 (n,). Each digit's scan depends on its index alone,
    so it is the same whichever part it is read in."""
    pictures = [as_scan(ink[i], _item_rng(seed, int(i))) for i in part]
    return LabelledPictures(name, pictures, labels[part], "upload")


def available_sets() -> tuple[str, ...]:
    """Every measuring set this checkout can read (the CVL forms only beside the
    workplace's shared folder)."""
    return SETS + tuple(name for name in MORE_SETS if name != "cvl" or CVL_FILE.exists())


def plain_ink(picture: np.ndarray) -> np.ndarray:
    """The plain baseline's ink: float32 (H, W) in [0, 1], the distance of each pixel's
    grey level from the picture's median (its background) over 255, zero below a fixed
    threshold. picture: uint8 (H, W, 3|4) or (H, W), or float32 (H, W) ink as it is."""
    if picture.dtype != np.uint8:
        ink = np.asarray(picture, np.float32)
    else:
        grey = picture if picture.ndim == 2 else picture[..., :3].mean(axis=2)
        grey = np.asarray(grey, np.float32)
        ink = np.abs(grey - np.median(grey)) / 255
    return np.where(ink > BASELINE_THRESHOLD, ink, 0).astype(np.float32)


def plain_baseline_crop(picture: np.ndarray) -> list[DigitCrop]:
    """The plain baseline's one crop of a picture: ``plain_ink``, its bounding box
    scaled to 20 px, centred by mass in 28x28, nothing else. [] without ink."""
    image, placement = fit_to_mnist(plain_ink(picture))
    if placement is None:
        return []
    return [DigitCrop((0, 0, picture.shape[1], picture.shape[0]), image, placement)]


def pipeline_crops(pictures: LabelledPictures, read: Reader | None = None,
                   on_progress: Callable[[float], None] | None = None) -> list[list[DigitCrop]]:
    """The app's own crops of every picture, as the page the set comes in by reads it,
    pieces of ink weighed by ``read`` (``Recognizer.judge``; None: by their shapes
    alone). ``on_progress`` is called with the fraction done every 256 pictures."""
    if pictures.kind == "mnist":
        return [[DigitCrop((0, 0, 28, 28), p, Placement(0, 0, 1.0, 0, 0))] for p in pictures.pictures]
    crops = []
    for i, picture in enumerate(pictures.pictures):
        if pictures.kind == "drawing":
            crops.append(segment_digits(ink_from_picture(picture), read))
        else:
            crops.append(crops_from_picture(picture, read))
        if on_progress is not None and (i + 1) % 256 == 0:
            on_progress((i + 1) / len(pictures.pictures))
    return crops


@dataclass
class SetResults:
    """What was read from each item of a set.

    labels uint8 (n,); predicted int (n,), the digit read, or -1 when the reading was
    not exactly one digit; confidence float (n,), the probability the reading is
    right by the model (the product over its digits); sure bool (n,), shown without
    any "unsure" flag; images float32 (n, 28, 28), the model's input (the first crop,
    zeros when none); probabilities float32 (n, 10) (the first crop's, zeros when none).
    """

    labels: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray
    sure: np.ndarray
    images: np.ndarray
    probabilities: np.ndarray

    @property
    def correct(self) -> np.ndarray:
        return self.predicted == self.labels

    def summary(self) -> dict:
        """accuracy, n, the share flagged unsure, the share wrong while shown as sure,
        the expected calibration error, the confusion matrix (rows: true digit,
        columns: the digit read, over readings of exactly one digit) and, per true
        digit, how many readings were not exactly one digit. JSON-ready."""
        n = len(self.labels)
        correct = self.correct
        one = self.predicted >= 0
        confusion = confusion_matrix(self.labels[one], self.predicted[one])
        return {
            "n": n,
            "accuracy": float(correct.mean()) if n else 0.0,
            "errors": int(n - correct.sum()),
            "unsure": float((~self.sure).mean()) if n else 0.0,
            "wrong_but_sure": float((~correct & self.sure).mean()) if n else 0.0,
            "accuracy_when_sure": float(correct[self.sure].mean()) if self.sure.any() else 0.0,
            "calibration_error": expected_calibration_error(self.confidence, correct),
            "confusion": confusion.tolist(),
            "not_one_digit": np.bincount(self.labels[~one], minlength=10).tolist(),
            "per_class": per_class_metrics(confusion, np.bincount(self.labels, minlength=10)),
        }


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by the
    share of items in each: float (n,), bool (n,) -> float."""
    confidence = np.asarray(confidence, np.float64)
    if len(confidence) == 0:
        return 0.0
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(error)


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> list[dict]:
    """The reliability diagram's points: per equal-width confidence bin with items in
    it, its range, mean confidence, accuracy and count."""
    confidence = np.asarray(confidence, np.float64)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    points = []
    for b in range(bins):
        inside = which == b
        if inside.any():
            points.append({"low": b / bins, "high": (b + 1) / bins, "confidence": float(confidence[inside].mean()),
                           "accuracy": float(correct[inside].mean()), "count": int(inside.sum())})
    return points


def read_crops(recognizer: Recognizer, crops_per_item: list[list[DigitCrop]], labels: np.ndarray) -> SetResults:
    """Read every item's crops with one batched model call per 2,048 crops."""
    readings = recognizer.read_many(crops_per_item)
    n = len(readings)
    predicted = np.full(n, -1, np.int64)
    confidence = np.zeros(n)
    sure = np.zeros(n, bool)
    images = np.zeros((n, 28, 28), np.float32)
    probabilities = np.zeros((n, 10), np.float32)
    for i, reading in enumerate(readings):
        if reading.empty:
            continue
        if len(reading.digits) == 1:
            predicted[i] = reading.digits[0].digit
        confidence[i] = float(np.prod([d.confidence for d in reading.digits]))
        sure[i] = not any(d.unsure for d in reading.digits)
        images[i] = reading.digits[0].crop.image
        probabilities[i] = reading.digits[0].probabilities
    return SetResults(np.asarray(labels), predicted, confidence, sure, images, probabilities)


def evaluate_set(recognizer: Recognizer, pictures: LabelledPictures, baseline: bool = True,
                 on_progress: Callable[[float], None] | None = None) -> dict[str, SetResults]:
    """{"pipeline": ..., "baseline": ...}: the set read by the app and by the plain
    baseline (left out with ``baseline=False``)."""
    results = {"pipeline": read_crops(recognizer, pipeline_crops(pictures, recognizer.judge, on_progress), pictures.labels)}
    if baseline:
        crops = [plain_baseline_crop(p) for p in pictures.pictures]
        results["baseline"] = read_crops(recognizer, crops, pictures.labels)
    return results
