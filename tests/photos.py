"""Synthetic phone photos of handwritten digits, with known digits, for tests.

MNIST digits are redrawn as ink on a sheet of paper (off-white, textured, maybe
ruled), the sheet is tilted and put in perspective (maybe on a table), lit unevenly
(a gradient, maybe a hard-edged shadow), blurred, given sensor noise and saved as a
JPEG. ``random_photo`` draws all of that from a seeded generator, so a test's set of
photos is the same on every run.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

INKS = {
    "black": (35, 35, 45),
    "blue": (25, 55, 160),
    "red": (170, 30, 35),
}


@dataclass
class PhotoSpec:
    """What a generated photo shows: ``label`` is the digits left to right."""

    label: str
    rows: int = 1
    ink: str = "black"
    ruled: bool = False
    shadow: bool = False
    table: bool = False
    angle: float = 0.0
    blur: float = 0.0
    quality: int = 85
    wander: float = 0.0  # each digit sits up to this many digit heights above or below the one before


def digit_ink(digit28: np.ndarray, height: float, threshold: float = 0.4) -> np.ndarray:
    """A digit image (uint8 (h, w), ink bright: MNIST's 28x28 or a USPS 16x16) as pen ink ``height`` px tall: float32 (h, w) in
    [0, 1], cropped to the ink, with crisp anti-aliased edges like a real stroke. The image's darkest ink
    counts as full ink (a scan of paper written in light ink keeps its strokes)."""
    image = np.asarray(digit28, np.float32)
    image = image / max(1.0, float(image.max()))
    ys, xs = np.nonzero(image > 0.1)
    image = image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    scale = height / image.shape[0]
    big = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    # A steep ramp around the threshold: the blurry MNIST grey turns into a stroke
    # with a ~1.5 px soft edge whatever the size.
    softness = 0.25 / max(scale, 1.0) + 0.03
    return np.clip((big - threshold) / softness + 0.5, 0.0, 1.0)


def paper_texture(rng, height: int, width: int) -> np.ndarray:
    """float32 (h, w, 3) off-white paper in [0, 255] with fibre-like texture."""
    base = np.float32(rng.uniform([222, 218, 205], [248, 246, 240]))
    fibres = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 3)
    fibres *= rng.uniform(2, 5) / max(1e-6, float(fibres.std()))
    grain = rng.normal(0, rng.uniform(1, 3), (height, width)).astype(np.float32)
    return base[None, None, :] + (fibres + grain)[..., None]


def compose_sheet(rng, digits: list[list[np.ndarray]], spec: PhotoSpec, height: float):
    """Paper with the digits written on it in rows: float32 (h, w, 3) in [0, 255]."""
    inks = [[digit_ink(d, height * rng.uniform(0.9, 1.1), rng.uniform(0.3, 0.5)) for d in row] for row in digits]
    row_widths = [sum(i.shape[1] for i in row) + height * 0.45 * (len(row) - 1) for row in inks]
    margin = int(height * rng.uniform(0.8, 1.6))
    # A wandering line drifts up and down from digit to digit (a random walk, steps
    # of up to ``wander`` heights), kept within ``drift`` of its baseline; rows stay
    # apart by a clear band whatever their drift.
    drift = min(1.0, 2 * spec.wander) * height
    offsets = []
    for row in inks:
        walk = [0.0]
        for _ in row[1:]:
            step = rng.uniform(-spec.wander, spec.wander) * height if spec.wander else 0.0
            walk.append(float(np.clip(walk[-1] + step, -drift, drift)))
        offsets.append(np.array(walk) - np.mean(walk))
    line_gap = height * 1.6 + 2 * drift
    width = int(max(row_widths) + 2 * margin + height * 0.5 * len(inks[0]))
    sheet_h = int(2 * margin + height * 1.1 + 2 * drift + line_gap * (len(inks) - 1))
    paper = paper_texture(rng, sheet_h, width)
    ink_layer = np.zeros((sheet_h, width), np.float32)
    colour = np.float32(INKS[spec.ink]) + np.float32(rng.uniform(-10, 10, 3))
    for r, row in enumerate(inks):
        baseline = margin + drift + height * 1.05 + r * line_gap
        if spec.ruled:
            y = int(baseline + rng.uniform(-0.55, 0.05) * height)  # under or through the digits
            thickness = int(rng.integers(1, 4))
            cv2.line(paper, (0, y), (width, y), tuple(float(c) for c in rng.uniform([140, 165, 200], [175, 195, 235])),
                     thickness, cv2.LINE_AA)
        x = margin + rng.uniform(0, height * 0.3)
        for ink, offset in zip(row, offsets[r]):
            h, w = ink.shape
            top = int(baseline + offset - h + rng.uniform(-0.06, 0.06) * height)
            left = int(x)
            region = ink_layer[top : top + h, left : left + w]
            np.maximum(region, ink[: region.shape[0], : region.shape[1]], out=region)
            x += w + height * rng.uniform(0.25, 0.65)
    opacity = rng.uniform(0.85, 1.0)
    alpha = (ink_layer * opacity)[..., None]
    return paper * (1 - alpha) + colour[None, None, :] * alpha


def photograph(rng, sheet: np.ndarray, spec: PhotoSpec) -> np.ndarray:
    """The sheet as a phone sees it: tilt, perspective, light, shadow, blur, noise.
    float32 (h, w, 3) -> uint8 (H, W, 3) RGB."""
    sh, sw = sheet.shape[:2]
    border = rng.uniform(0.06, 0.14) if spec.table else -rng.uniform(0.0, 0.03)
    out_w, out_h = int(sw * (1 + 2 * border)), int(sh * (1 + 2 * border))
    corners = np.float32([[0, 0], [sw, 0], [sw, sh], [0, sh]])
    centre = np.float32([out_w / 2, out_h / 2])
    angle = np.deg2rad(spec.angle)
    rotation = np.float32([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    target = (corners - np.float32([sw / 2, sh / 2])) @ rotation.T + centre
    target += rng.uniform(-0.03, 0.03, (4, 2)).astype(np.float32) * np.float32([sw, sh])
    homography = cv2.getPerspectiveTransform(corners, target.astype(np.float32))
    table = np.float32(rng.uniform([70, 55, 40], [150, 125, 100]))
    image = cv2.warpPerspective(sheet, homography, (out_w, out_h), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=tuple(float(c) for c in table))
    if spec.table:
        grain = cv2.GaussianBlur(rng.normal(0, 1, (out_h, out_w)).astype(np.float32), (0, 0), 2)
        outside = cv2.warpPerspective(np.ones((sh, sw), np.float32), homography, (out_w, out_h)) < 0.5
        image[outside] += (grain[outside] * 6)[:, None]
    # Light: a gradient across the photo, brighter towards one corner.
    ys, xs = np.mgrid[0:out_h, 0:out_w].astype(np.float32)
    direction = rng.uniform(-1, 1, 2)
    ramp = (xs / out_w - 0.5) * direction[0] + (ys / out_h - 0.5) * direction[1]
    light = rng.uniform(0.8, 1.0) + rng.uniform(0.15, 0.4) * ramp
    if spec.shadow:
        # A hard-ish edged shadow (a hand, a phone) over part of the digits.
        point = np.float32([rng.uniform(0.3, 0.7) * out_w, rng.uniform(0.3, 0.7) * out_h])
        theta = rng.uniform(0, np.pi)
        side = ((xs - point[0]) * np.cos(theta) + (ys - point[1]) * np.sin(theta) > 0).astype(np.float32)
        side = cv2.GaussianBlur(side, (0, 0), rng.uniform(2, 12))
        light *= 1 - rng.uniform(0.3, 0.5) * side
    image *= np.clip(light, 0.2, 1.2)[..., None]
    if spec.blur > 0:
        image = cv2.GaussianBlur(image, (0, 0), spec.blur)
    image += rng.normal(0, rng.uniform(1.5, 4), image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def jpeg_bytes(rgb: np.ndarray, quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def random_spec(rng, label: str, rows: int = 1, wander: float = 0.0) -> PhotoSpec:
    return PhotoSpec(
        wander=wander,
        label=label,
        rows=rows,
        ink=str(rng.choice(list(INKS), p=[0.6, 0.3, 0.1])),
        ruled=bool(rng.random() < 0.35),
        shadow=bool(rng.random() < 0.35),
        table=bool(rng.random() < 0.4),
        angle=float(rng.uniform(-8, 8)),
        blur=float(rng.choice([0.0, rng.uniform(0.5, 1.8)])),
        quality=int(rng.integers(55, 92)),
    )


def render(rng, digits: list[list[np.ndarray]], spec: PhotoSpec, height: float | None = None) -> bytes:
    """JPEG bytes of a photo of ``digits`` (rows of uint8 (28, 28) MNIST images)."""
    height = height if height is not None else float(rng.uniform(45, 110))
    return jpeg_bytes(photograph(rng, compose_sheet(rng, digits, spec, height), spec), spec.quality)


def random_photo(rng, images: np.ndarray, labels: np.ndarray, count: int | None = None,
                 rows: int = 1, wander: float = 0.0) -> tuple[bytes, PhotoSpec]:
    """A random photo of ``count`` (1-6 when None) digits per row drawn from ``images``
    (uint8 (n, h, w), ink bright) with ``labels``, on a line wandering by up to
    ``wander`` digit heights from digit to digit; returns the JPEG bytes and what it shows."""
    count = int(rng.integers(1, 7)) if count is None else count
    picks = [rng.choice(len(images), count, replace=True) for _ in range(rows)]
    label = "".join(str(int(labels[i])) for row in picks for i in row)
    spec = random_spec(rng, label, rows, wander)
    return render(rng, [[images[i] for i in row] for row in picks], spec), spec


# --- Loosely written lines ------------------------------------------------------------

def compose_loose_lines(rng, lines: list[list[np.ndarray]], height: float, jitter: float, size_spread: float,
                        align: str = "left") -> np.ndarray:
    """Paper with ``lines`` (each a list of digit images, ink bright) written loosely:
    float32 (h, w, 3) in [0, 255], ink black or blue.

    Each digit is ``height`` times ``size_spread ** U(-0.5, 0.5)`` tall (so the largest
    is up to ``size_spread`` times the smallest), its centre ``U(-jitter, jitter)`` of its
    own height above or below the line's (so neighbours may sit up to twice that apart:
    with ``jitter`` 1, one digit's bottom a whole digit above the next one's top), and
    0.15-0.6 of ``height`` after the one before it. Lines follow each other with a
    clear band of 0.3-0.9 ``height`` between the lowest ink of one and the highest of
    the next, ``align``ed "left", "right" or "none" (each line shifted at random)."""
    laid = []  # per line: [(ink, x, centre_y)] in the line's own coordinates
    for line in lines:
        x, placed = 0.0, []
        for k, image in enumerate(line):
            h = height * size_spread ** rng.uniform(-0.5, 0.5)
            ink = digit_ink(image, h, rng.uniform(0.2, 0.4))
            centre = rng.uniform(-jitter, jitter) * h
            if k:
                x += rng.uniform(0.15, 0.6) * height
            placed.append((ink, x, centre))
            x += ink.shape[1]
        laid.append(placed)
    widths = [p[-1][1] + p[-1][0].shape[1] for p in laid]
    margin = height * rng.uniform(0.8, 1.4)
    shifts = []
    for w in widths:
        if align == "right":
            shifts.append(max(widths) - w + rng.uniform(-0.15, 0.15) * height)
        elif align == "left":
            shifts.append(rng.uniform(-0.15, 0.15) * height)
        else:
            shifts.append(rng.uniform(0, max(widths) - w + 0.5 * height))
    top, tops = 0.0, []
    for placed in laid:
        highest = min(c - i.shape[0] / 2 for i, _, c in placed)
        lowest = max(c + i.shape[0] / 2 for i, _, c in placed)
        tops.append(top - highest)
        top += lowest - highest + rng.uniform(0.3, 0.9) * height
    sheet_w = int(max(w + s for w, s in zip(widths, shifts)) - min(shifts) + 2 * margin + 2)
    sheet_h = int(top + 2 * margin)
    paper = paper_texture(rng, sheet_h, sheet_w)
    ink_layer = np.zeros((sheet_h, sheet_w), np.float32)
    for placed, shift, line_top in zip(laid, shifts, tops):
        for ink, x, centre in placed:
            h, w = ink.shape
            y0 = int(round(margin + line_top + centre - h / 2))
            x0 = int(round(margin + shift - min(shifts) + x))
            region = ink_layer[y0 : y0 + h, x0 : x0 + w]
            np.maximum(region, ink[: region.shape[0], : region.shape[1]], out=region)
    colour = np.float32(INKS[str(rng.choice(["black", "blue"], p=[0.7, 0.3]))]) + np.float32(rng.uniform(-10, 10, 3))
    alpha = (ink_layer * rng.uniform(0.85, 1.0))[..., None]
    return paper * (1 - alpha) + colour[None, None, :] * alpha


def loose_photo(rng, images: np.ndarray, labels: np.ndarray, counts: list[int], jitter: float = 1.0,
                size_spread: float = 1.5, max_angle: float = 10.0, align: str = "left") -> tuple[bytes, PhotoSpec]:
    """A phone photo of lines of ``counts[i]`` digits drawn from ``images`` (uint8 (n, h, w),
    ink bright) with ``labels``, written loosely (``compose_loose_lines``), the sheet
    turned by up to ``max_angle`` degrees; the JPEG bytes and what it shows (the digits
    line by line, each left to right)."""
    picks = [rng.choice(len(images), count, replace=True) for count in counts]
    label = "".join(str(int(labels[i])) for line in picks for i in line)
    height = float(rng.uniform(45, 100))
    sheet = compose_loose_lines(rng, [[images[i] for i in line] for line in picks], height, jitter, size_spread, align)
    spec = PhotoSpec(label, rows=len(counts), shadow=bool(rng.random() < 0.3), table=bool(rng.random() < 0.3),
                     angle=float(rng.uniform(-max_angle, max_angle)), blur=float(rng.choice([0.0, rng.uniform(0.5, 1.5)])),
                     quality=int(rng.integers(60, 92)))
    return jpeg_bytes(photograph(rng, sheet, spec), spec.quality), spec


# --- The app's sample photos ---------------------------------------------------------
# python tests/photos.py [DIRECTORY]  writes them (default assets/samples) from MNIST
# test digits the shipped model reads right, then reads them back as a check.

SAMPLE_SPECS = {
    "2026.jpg": (["2026"], PhotoSpec("2026", ink="black", table=True, angle=4.0, blur=0.8, quality=80), 150),
    "shaded-ruled.jpg": (["4179"], PhotoSpec("4179", ink="black", ruled=True, shadow=True, angle=-3.0,
                                             blur=0.6, quality=80), 130),
    "blue-ink.jpg": (["358"], PhotoSpec("358", ink="blue", table=True, angle=7.0, blur=0.5, quality=80), 150),
    "two-rows.jpg": (["314", "159"], PhotoSpec("314159", rows=2, ink="black", shadow=True, angle=-2.0,
                                               blur=0.7, quality=80), 110),
}


def clearest_digits(images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray, per_digit: int = 5):
    """Indices of the ``per_digit`` test digits of each class the model is surest of:
    dict digit -> list of indices into ``images``."""
    chosen = {}
    for digit in range(10):
        candidates = np.nonzero((labels == digit) & (probabilities.argmax(axis=1) == digit))[0]
        if len(candidates) == 0:  # a model that reads none of them (an untrained one)
            candidates = np.nonzero(labels == digit)[0]
        order = np.argsort(-probabilities[candidates, digit])
        chosen[digit] = [int(i) for i in candidates[order[:per_digit]]]
    return chosen


def write_samples(directory) -> None:
    from pathlib import Path

    from mnist_app.data import load_mnist
    from mnist_app.images import decode_image
    from mnist_app.model import load_model, predict_probabilities
    from mnist_app.photo import crops_from_picture

    _, (x, y) = load_mnist()
    x, y = x[:2000], y[:2000]
    model = load_model()
    clear = clearest_digits(x, y, predict_probabilities(model, x.astype(np.float32) / 255))
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for k, (name, (rows, spec, height)) in enumerate(SAMPLE_SPECS.items()):
        rng = np.random.default_rng(100 + k)
        used: dict[int, int] = {}
        digits = []
        for row in rows:
            digits.append([])
            for ch in row:
                d = int(ch)
                digits[-1].append(x[clear[d][used.get(d, 0) % len(clear[d])]])
                used[d] = used.get(d, 0) + 1
        data = render(rng, digits, spec, height)
        (directory / name).write_bytes(data)
        crops = crops_from_picture(decode_image(data))
        read = "".join(str(int(p.argmax())) for p in predict_probabilities(model, np.stack([c.image for c in crops]))) \
            if crops else ""
        print(f"{name}: {len(data) / 1024:.0f} KB, shows {spec.label}, read {read}")


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    write_samples(sys.argv[1] if len(sys.argv) > 1 else "assets/samples")
