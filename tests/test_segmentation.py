"""Which ink is one digit, and the order a person reads digits in: real digits only.

Measured with the shipped model (``python -m mnist_app evaluate --set ...``; the loose
lines with ``loose_photo`` below), shape alone (``read=None``) -> checked by reading:
- single digits read as exactly one digit: MNIST's test digits as scans 99.52 ->
  99.96%, kensanata16's paper forms 99.26 -> 99.97%, USPS scans 100 = 100%, held-out pen
  digits and skahl strokes (real pen lifts) 100 = 100% (CVL's forms, never shipped,
  99.06 -> 99.90%);
- phone photos of one loosely written line of 1-6 MNIST test digits (each up to its own
  height above or below the line, sizes varying 1.5x, the sheet turned up to 10
  degrees): 79.3% read exactly before lines were found as chains, 98.7% now (300).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mnist_app.data import load_mnist
from mnist_app.evaluation import evaluate_set, load_scans, load_set, pipeline_crops, plain_baseline_crop
from mnist_app.handwriting import as_scan
from mnist_app.images import decode_image
from mnist_app.photo import crops_from_picture
from mnist_app.preprocess import INK_THRESHOLD, ink_from_picture
from mnist_app.segmentation import reading_order
from tests.photos import loose_photo

# Real single digits that shape alone split into two or more (a 0 whose pen barely
# closed it, a 5 whose hat flew off, a broken 1, 4 or 7), as scans: every one of the
# MNIST test digits and every fourth of kensanata16's that the app read as several
# digits before the pieces were checked by reading (indices into the whole sets; most
# of kensanata16's are in the training part since 2026-12: the test is of the cut).
SPLIT_BY_SHAPE = {
    "mnist_scans": [490, 694, 1087, 1131, 1569, 1940, 2546, 2611, 2957, 3113, 3552, 3826, 3960, 4236, 4711, 5331,
                    5457, 5618, 5624, 5661, 5676, 5706, 5730, 6480, 6546, 6572, 6600, 6620, 6700, 6721, 6883, 7325,
                    7454, 8004, 8020, 8112, 8348, 8416, 8444, 8445, 8855, 8878, 9469, 9503, 9513, 9639, 9643, 9702],
    "kensanata": [91, 1050, 2423, 3153, 6277, 7065, 7120, 7135, 7142, 7150, 7154, 7781, 7789, 7794, 7799, 7806,
                  7811, 7831, 7874, 7884, 8039, 8051, 8059, 8065, 8077, 8345, 8376, 8519, 8543, 8567, 8602, 8632,
                  8708, 9926, 11706, 14380],
}
ONE_DIGIT_FLOOR = 0.999  # of every real set's single digits, read as exactly one digit
# Accuracy floors where reading the pieces changed it (shape alone: 99.03%, 95.86%; the pen
# digits 98.20% with the three networks of 2026-12-07, one digit fewer than the pair; the
# skahl strokes 99.58% since the late-night fine-tune, one digit fewer: issue 32's 99.5%).
ACCURACY_FLOORS = {"mnist_scans": 0.994, "kensanata": 0.965, "scans": 0.993, "pen": 0.981, "skahl": 0.995}
LOOSE_LINE_FLOOR = 0.97
ROWS_FLOOR = 0.95
# Right-aligned columns of short numbers (the seed's 100: 92 read exactly, by the pair before
# paper too; 197 of another 200): most misses are a short number taken into the line below
# it, a weakness of the reading order, not of the network.
COLUMN_FLOOR = 0.90


@pytest.fixture(scope="module")
def recognizer():
    from mnist_app.inference import Recognizer
    from mnist_app.network import MODEL_PATH

    return Recognizer.from_file(MODEL_PATH, threads=2)


@pytest.mark.parametrize("name", ["mnist_scans", "kensanata", "scans", "pen", "skahl"])
def test_single_real_digits_come_back_as_one_digit(recognizer, name):
    results = evaluate_set(recognizer, load_set(name), baseline=False)["pipeline"].summary()
    one_digit = 1 - sum(results["not_one_digit"]) / results["n"]
    print(f"{name}: {one_digit:.4%} read as one digit, accuracy {results['accuracy']:.4%}")
    assert one_digit >= ONE_DIGIT_FLOOR
    assert results["accuracy"] >= ACCURACY_FLOORS[name]


@pytest.mark.parametrize("name", sorted(SPLIT_BY_SHAPE))
def test_broken_and_faint_digits_are_read_whole(recognizer, name):
    chosen = SPLIT_BY_SHAPE[name]
    picked = load_scans({"mnist_scans": "mnist", "kensanata": "kensanata"}[name], chosen, name)
    by_shape = pipeline_crops(picked)
    # Since short strokes beside a digit join it by shape (``join_small_pieces``), about half
    # of them are whole before any reading; the rest are still the reading's to join.
    assert sum(len(crops) >= 2 for crops in by_shape) >= len(chosen) // 3
    read = recognizer.read_many(pipeline_crops(picked, recognizer.judge))
    whole = [len(r.digits) == 1 for r in read]
    right = [len(r.digits) == 1 and r.digits[0].digit == label for r, label in zip(read, picked.labels)]
    print(f"{name}: {sum(whole)} of {len(chosen)} read as one digit, {sum(right)} right")
    assert sum(whole) >= 0.9 * len(chosen)
    assert sum(right) >= 0.75 * len(chosen)


# kensanata16's 2s whose base is a stroke of its own, off to the right of the body: the
# app used to drop the base as a scribble and read the rest as a 7 (indices into the whole
# set; all three in its held-out part).
TWOS_WITH_A_BASE_APART = [4261, 4372, 4376]


def test_a_short_stroke_beside_a_digit_is_part_of_it(recognizer):
    picked = load_scans("kensanata", TWOS_WITH_A_BASE_APART)
    for picture, crops in zip(picked.pictures, pipeline_crops(picked)):
        ink = ink_from_picture(picture) > INK_THRESHOLD
        assert ink_pieces(ink) == 2  # the body and the base
        ys, xs = np.nonzero(ink)
        assert [c.box for c in crops] == [(xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min())]
    read = recognizer.read_many(pipeline_crops(picked, recognizer.judge))
    assert [r.number for r in read] == ["2"] * len(TWOS_WITH_A_BASE_APART)


def ink_pieces(mask: np.ndarray) -> int:
    return cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)[0] - 1


@pytest.fixture(scope="module")
def readable_mnist(recognizer):
    """MNIST test digits the model reads right and surely from a plain crop of their
    scan: a line misread is then the segmentation's doing."""
    _, (x, y) = load_mnist()
    x, y = x[:3000], y[:3000]
    crops = [plain_baseline_crop(as_scan(x[i] / 255.0, np.random.default_rng(i)))[0].image for i in range(len(y))]
    probabilities = recognizer.predict(np.stack(crops))
    keep = (probabilities.argmax(axis=1) == y) & (probabilities.max(axis=1) > 0.9)
    return x[keep], y[keep]


def read_photos(recognizer, digits, seed, count, lines, jitter, spread, align):
    rng = np.random.default_rng(seed)
    misread = []
    for k in range(count):
        data, spec = loose_photo(rng, *digits, lines(rng), jitter, spread, 10.0, align)
        number = recognizer.read_many([crops_from_picture(decode_image(data), recognizer.judge)])[0].number
        if number != spec.label:
            misread.append((k, spec.label, number))
    return misread


def test_a_loosely_written_line_reads_left_to_right(recognizer, readable_mnist):
    """Each digit up to its own height above or below the line, sizes varying 1.5x, the
    sheet turned up to 10 degrees: 79.3% of 300 such photos read exactly when lines were
    rows split by bands of paper, 98.7% now."""
    misread = read_photos(recognizer, readable_mnist, 31, 100, lambda r: [int(r.integers(1, 7))], 1.0, 1.5, "left")
    print(f"loose lines: {100 - len(misread)} of 100 read exactly; misread {misread}")
    assert len(misread) <= (1 - LOOSE_LINE_FLOOR) * 100
    assert not [m for m in misread if sorted(m[1]) == sorted(m[2])]  # none merely out of order


def test_two_rows_and_a_column_read_row_by_row(recognizer, readable_mnist):
    rows = read_photos(recognizer, readable_mnist, 32, 40, lambda r: [int(r.integers(2, 7)) for _ in range(2)],
                       0.3, 1.3, "none")
    column = read_photos(recognizer, readable_mnist, 33, 100,
                         lambda r: [int(r.integers(1, 5)) for _ in range(int(r.integers(2, 5)))], 0.15, 1.2, "right")
    print(f"two rows: {40 - len(rows)} of 40 read exactly {rows}; a right-aligned column: {100 - len(column)} of 100 "
          f"{column}")
    assert len(rows) <= (1 - ROWS_FLOOR) * 40 and len(column) <= (1 - COLUMN_FLOOR) * 100


def test_a_line_is_one_line_however_its_digits_jump_and_vary_in_size():
    # "506281": each digit up to its own height above or below the line's middle, neighbours
    # a whole digit apart in height, sizes from 50 to 75 px; no digit stands over another.
    boxes = [(0, 100, 40, 60), (55, 20, 45, 75), (115, 140, 35, 50), (165, 40, 50, 70), (230, 150, 40, 55),
             (285, 30, 30, 60)]
    assert reading_order(boxes) == list(range(6))
    # The same line turned 10 degrees.
    turned = [(x, int(y + 0.18 * x), w, h) for x, y, w, h in boxes]
    assert reading_order(turned) == list(range(6))


def test_rows_start_where_a_digit_stands_below_another():
    # Two rows, the second shifted half a digit to the right and starting further left
    # than the first: read top row first, each left to right.
    top = [(60, 20, 40, 60), (115, 25, 40, 60), (170, 18, 40, 60)]
    bottom = [(0, 120, 40, 60), (85, 118, 40, 60), (140, 125, 40, 60), (195, 122, 40, 60)]
    boxes = bottom[:1] + top + bottom[1:]
    assert reading_order(boxes) == [1, 2, 3, 0, 4, 5, 6]
    # A right-aligned column of numbers: 7 / 12 / 345.
    column = [(120, 0, 40, 60), (60, 100, 40, 60), (120, 100, 40, 60), (0, 200, 40, 60), (60, 200, 40, 60),
              (120, 200, 40, 60)]
    assert reading_order(column[::-1]) == [5, 4, 3, 2, 1, 0]
