"""Real handwriting from outside MNIST, as it reaches the app.

Two sets ship in ``assets/handwriting`` (credits in its README):

- **pen digits** (UCI "Pen-Based Recognition of Handwritten Digits", 30 writers on a
  tablet): each digit is the pen's whole path, strokes joined in writing order (the
  moves between strokes included, as if drawn), as 8 points with each axis scaled to
  0..100. ``render_pen_digit`` draws it the way the app's canvas would: one smooth
  stroke (Catmull-Rom through the 8 points), white on black, at a random size,
  aspect, slant, pen width and position.
- **USPS scans** (J. J. Hull 1994, digits from US mail, 16x16 grey) and **kensanata16**
  (paper forms by volunteers of many countries, 16x16 grey): ``as_scan`` presents one as
  a scanner delivers it, enlarged, dark ink on light paper with a margin.
- **skahl strokes** (real pen lifts, measuring only) and, where the workplace has them,
  the **CVL forms** (measuring and tuning only, never copied).

Training may use the pen digits, USPS and kensanata16, each split the same way
(``split_parts``): a seeded fifth held out for measuring, a tenth kept out to fit the
confidence on, the rest for training.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import cv2
import numpy as np

from mnist_app import ASSETS_DIR

HANDWRITING_DIR = ASSETS_DIR / "handwriting"
PEN_FILE = HANDWRITING_DIR / "pen-train.csv.gz"
USPS_FILE = HANDWRITING_DIR / "usps-train.gz"
KENSANATA_FILE = HANDWRITING_DIR / "kensanata16.npz"
SKAHL_FILE = HANDWRITING_DIR / "skahl-strokes.json.gz"
# The CVL forms may be measured on and tuned on, never copied into the project: read
# from the workplace's shared folder when it is there (or $MNIST_CVL_FILE).
CVL_FILE = Path(os.environ.get("MNIST_CVL_FILE", ASSETS_DIR.parent.parent / "shared" / "handwriting" / "cvl-train.npz"))
HELD_OUT_SHARE = 0.2
CALIBRATION_SHARE = 0.1
SPLIT_SEED = 2026

# The app's canvas (mnist_app/ui/pages/draw.py draws on 560x320 with pen widths 4-40).
CANVAS_SIZE = (560, 320)


def load_pen_digits(path: Path | str = PEN_FILE) -> tuple[np.ndarray, np.ndarray]:
    """The pen digits: float32 (n, 8, 2) points (x right, y down, each in 0..1, in
    writing order) and uint8 (n,) labels."""
    rows = np.loadtxt(gzip.open(path, "rt"), delimiter=",", dtype=np.int32)
    points = rows[:, :16].reshape(-1, 8, 2).astype(np.float32) / 100
    points[..., 1] = 1 - points[..., 1]  # the tablet's y grows upwards, the canvas's down
    return points, rows[:, 16].astype(np.uint8)


def split_parts(n: int, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices (train, calibration, held_out) of a set of ``n`` digits (the pen digits,
    USPS, kensanata16): a seeded random ``HELD_OUT_SHARE`` held out for measuring,
    ``CALIBRATION_SHARE`` kept out of training to fit the confidence on, the rest for
    training. These sets carry no writer ids, so the parts share writers."""
    order = np.random.default_rng(seed).permutation(n)
    held, calibration = int(round(n * HELD_OUT_SHARE)), int(round(n * CALIBRATION_SHARE))
    return np.sort(order[held + calibration :]), np.sort(order[held : held + calibration]), np.sort(order[:held])


def load_usps_digits(path: Path | str = USPS_FILE) -> tuple[np.ndarray, np.ndarray]:
    """The USPS digits: float32 (n, 16, 16) ink in [0, 1] (0 = paper, 1 = ink) and
    uint8 (n,) labels."""
    rows = np.loadtxt(gzip.open(path, "rt"), dtype=np.float32)
    ink = np.clip((rows[:, 1:].reshape(-1, 16, 16) + 1) / 2, 0, 1)
    return ink, rows[:, 0].astype(np.uint8)


def load_kensanata_digits(path: Path | str = KENSANATA_FILE) -> tuple[np.ndarray, np.ndarray]:
    """The kensanata16 digits (paper forms by volunteers of many countries, 16x16):
    float32 (n, 16, 16) ink in [0, 1] (0 = paper) and uint8 (n,) labels."""
    with np.load(path) as data:
        return 1 - data["images"].astype(np.float32) / 255, data["labels"].astype(np.uint8)


def load_cvl_digits(path: Path | str = CVL_FILE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The CVL forms' digits (127 writers in Vienna, 28x28, dark ink on paper of grey
    ~247): float32 (n, 28, 28) ink in [0, 1], uint8 (n,) labels and the writers' ids
    (n,) str. Raises FileNotFoundError where the file is not (it never ships)."""
    with np.load(path) as data:
        ink = np.clip((CVL_PAPER - data["images"].astype(np.float32)) / CVL_PAPER, 0, 1)
        return ink, data["labels"].astype(np.uint8), data["writers"]


CVL_PAPER = 247.0  # the CVL scans' paper grey


def load_skahl_strokes(path: Path | str = SKAHL_FILE) -> tuple[list[list[np.ndarray]], np.ndarray, np.ndarray]:
    """The skahl digits, drawn with real pen lifts: per digit its strokes (each float32
    (k, 2) points, x right, y down, screen units), uint8 (n,) labels and writers (n,) str."""
    with gzip.open(path, "rt") as f:
        items = json.load(f)
    strokes = [[np.asarray(stroke, np.float32).reshape(-1, 2) for stroke in item["strokes"]] for item in items]
    return strokes, np.array([item["label"] for item in items], np.uint8), np.array([item["writer"] for item in items])


def render_strokes_digit(strokes: list[np.ndarray], rng: np.random.Generator,
                         size: tuple[int, int] = CANVAS_SIZE) -> np.ndarray:
    """A digit's strokes, pen lifts kept, as a canvas drawing: uint8 (H, W, 4) RGBA, each
    stroke drawn as the canvas draws it (``draw_stroke``), at the sizes and pen widths
    ``render_pen_digit`` draws (70-280 px tall, 6-30 px pens, finer for small digits),
    at a random place. strokes: float (k, 2) points each, any units, y down."""
    points = np.concatenate(strokes)
    low, extent = points.min(axis=0), np.maximum(np.ptp(points, axis=0), 1e-6)
    digit_h = rng.uniform(70, min(280, size[1] - 20))
    scale = min(digit_h / extent[1], (size[0] - 40) / extent[0])
    pen = rng.uniform(6, 30) * min(1.0, extent[1] * scale / 120) ** 0.5
    room = np.maximum(np.array(size) - extent * scale - pen - 4, 1)
    offset = rng.uniform(0, 1, 2) * room + pen / 2 + 2
    canvas = np.zeros(size[::-1], np.uint8)
    for stroke in strokes:
        np.maximum(canvas, draw_stroke((stroke - low) * scale + offset, size, pen)[..., 0], out=canvas)
    return np.dstack([canvas, canvas, canvas, np.full_like(canvas, 255)])


def catmull_rom(points: np.ndarray, samples_per_segment: int = 12) -> np.ndarray:
    """A smooth curve through every point: float (k, 2) -> float32 (m, 2).

    Centripetal Catmull-Rom (alpha = 0.5), which never overshoots into loops or cusps
    between close points the way the uniform kind does.
    """
    p = np.asarray(points, np.float64)
    if len(p) < 2:
        return p.astype(np.float32)
    padded = np.concatenate([2 * p[:1] - p[1:2], p, 2 * p[-1:] - p[-2:-1]])
    curve = [p[:1]]
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1 : i + 3]
        t0 = 0.0
        t1 = t0 + max(np.linalg.norm(p1 - p0), 1e-6) ** 0.5
        t2 = t1 + max(np.linalg.norm(p2 - p1), 1e-6) ** 0.5
        t3 = t2 + max(np.linalg.norm(p3 - p2), 1e-6) ** 0.5
        t = np.linspace(t1, t2, samples_per_segment + 1)[1:, None]
        a1 = (t1 - t) / (t1 - t0) * p0 + (t - t0) / (t1 - t0) * p1
        a2 = (t2 - t) / (t2 - t1) * p1 + (t - t1) / (t2 - t1) * p2
        a3 = (t3 - t) / (t3 - t2) * p2 + (t - t2) / (t3 - t2) * p3
        b1 = (t2 - t) / (t2 - t0) * a1 + (t - t0) / (t2 - t0) * a2
        b2 = (t3 - t) / (t3 - t1) * a2 + (t - t1) / (t3 - t1) * a3
        curve.append((t2 - t) / (t2 - t1) * b1 + (t - t1) / (t2 - t1) * b2)
    return np.concatenate(curve).astype(np.float32)


def draw_stroke(path: np.ndarray, size: tuple[int, int], pen_width: float) -> np.ndarray:
    """One stroke as the canvas draws it: uint8 (H, W, 4) RGBA, opaque black, a white
    anti-aliased round-capped line ``pen_width`` px wide along ``path`` float (m, 2)
    in canvas pixels. ``size`` is (width, height)."""
    width, height = size
    shift = 4
    grey = np.zeros((height, width), np.uint8)
    points = np.round(np.asarray(path, np.float64) * (1 << shift)).astype(np.int32).reshape(-1, 1, 2)
    thickness = max(1, int(round(pen_width)))
    cv2.polylines(grey, [points], False, 255, thickness, cv2.LINE_AA, shift)
    for x, y in points[[0, -1], 0]:  # round caps at both ends
        cv2.circle(grey, (int(x), int(y)), int(round(pen_width / 2 * (1 << shift))), 255, -1, cv2.LINE_AA, shift)
    rgba = np.empty((height, width, 4), np.uint8)
    rgba[..., :3] = grey[..., None]
    rgba[..., 3] = 255
    return rgba


PEN_ASPECT = (0.55, 1.0)  # width / height of the pen digits drawn, measuring set and training renders alike
PEN_TRAINING_SLANT = 0.3  # training renders lean by up to this either way (the measuring set is upright)


def render_pen_digit(points: np.ndarray, rng: np.random.Generator, size: tuple[int, int] = CANVAS_SIZE,
                     slant: float = 0.0, aspect: tuple[float, float] = PEN_ASPECT) -> np.ndarray:
    """A pen digit as a canvas drawing: uint8 (H, W, 4) RGBA.

    points: float32 (8, 2) in 0..1, from ``load_pen_digits``. People draw at every
    size, so the digit is 70-280 px tall (as the canvas allows), ``aspect`` (0.55-1.0)
    times as wide as tall (the data scaled both axes to 0..100, which lost each digit's own aspect),
    slanted by ``slant`` (x shifts by slant * height from bottom to top), drawn with a
    pen 6-30 px wide at a random place on the canvas.
    """
    digit_h = rng.uniform(70, min(280, size[1] - 20))
    digit_w = digit_h * rng.uniform(*aspect)
    pen = rng.uniform(6, 30) * min(1.0, digit_h / 120) ** 0.5  # small digits, finer pens
    return draw_pen_path(points, rng, digit_w, digit_h, pen, slant, size)


def draw_pen_path(points: np.ndarray, rng: np.random.Generator, digit_w: float, digit_h: float, pen: float,
                  slant: float = 0.0, size: tuple[int, int] = CANVAS_SIZE) -> np.ndarray:
    """Pen points float32 (8, 2) in 0..1 as one smooth stroke ``digit_w`` x ``digit_h``
    px, slanted by ``slant``, ``pen`` px wide, at a random place on the canvas: uint8
    (H, W, 4) RGBA."""
    curve = catmull_rom(points)
    xy = np.empty_like(curve)
    xy[:, 0] = curve[:, 0] * digit_w + slant * (1 - curve[:, 1]) * digit_h
    xy[:, 1] = curve[:, 1] * digit_h
    xy -= xy.min(axis=0)
    room = np.maximum(np.array(size) - xy.max(axis=0) - pen - 4, 1)
    xy += rng.uniform(0, 1, 2) * room + pen / 2 + 2
    return draw_stroke(xy, size, pen)


def as_scan(ink: np.ndarray, rng: np.random.Generator, side: int = 112, margin: int = 16) -> np.ndarray:
    """A digit on paper as a scanner delivers it: uint8 (side + 2 margin, same, 3) RGB.

    ink: float32 (16, 16) in [0, 1] (a USPS digit; any square size works: kensanata16's
    16x16, MNIST's or CVL's 28x28). Enlarged to ``side`` px (cubic), dark ink on
    light paper with a ``margin`` of paper around it, the paper's grey level and a
    little sensor noise varying from scan to scan.
    """
    big = np.clip(cv2.resize(ink, (side, side), interpolation=cv2.INTER_CUBIC), 0, 1)
    big = cv2.copyMakeBorder(big, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=0)
    paper, ink_level = rng.uniform(215, 250), rng.uniform(10, 50)
    grey = paper - big * (paper - ink_level) + rng.normal(0, 2.0, big.shape)
    return np.repeat(np.clip(np.round(grey), 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def pen_training_inputs(points: np.ndarray, labels: np.ndarray, renders: int, seed: int,
                        max_slant: float = PEN_TRAINING_SLANT,
                        aspect: tuple[float, float] = PEN_ASPECT) -> tuple[np.ndarray, np.ndarray]:
    """Training inputs from pen digits: each drawn ``renders`` times as a canvas drawing
    (``render_pen_digit``, slanted by up to ``max_slant`` either way, ``aspect`` as wide
    as tall) and read into
    28x28 through the Draw page's own path, so the network learns the writing and not
    one rendering. points float32 (n, 8, 2), labels uint8 (n,) -> uint8 (m, 28, 28),
    uint8 (m,); a render the path does not read as exactly one digit is left out.
    """
    from mnist_app.preprocess import ink_from_picture
    from mnist_app.segmentation import segment_digits

    rng = np.random.default_rng(seed)
    crops = (segment_digits(ink_from_picture(
        render_pen_digit(digit_points, rng, slant=rng.uniform(-max_slant, max_slant), aspect=aspect)))
        for _ in range(renders) for digit_points in points)
    return _single_digit_inputs(crops, np.tile(labels, renders))


def paper_training_inputs(ink: np.ndarray, labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training inputs from digits on paper: each presented as a scan (``as_scan``) and
    read into 28x28 through the Photo page's own path, so the network learns what the
    app will show it. ink float32 (n, h, w) in [0, 1], labels uint8 (n,) -> uint8 (m, 28,
    28), uint8 (m,); a scan the path does not read as exactly one digit is left out."""
    from mnist_app.photo import crops_from_picture

    rng = np.random.default_rng(seed)
    return _single_digit_inputs((crops_from_picture(as_scan(digit_ink, rng)) for digit_ink in ink), labels)


def _single_digit_inputs(crops_per_picture, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The inputs of the pictures read as exactly one digit: uint8 (m, 28, 28) and their
    labels uint8 (m,). crops_per_picture: each picture's DigitCrops, in the order of
    ``labels`` (n,)."""
    images, kept = [], []
    for crops, label in zip(crops_per_picture, labels):
        if len(crops) == 1:
            images.append(np.round(crops[0].image * 255).astype(np.uint8))
            kept.append(label)
    return np.stack(images), np.array(kept, np.uint8)

