"""MNIST-style normalisation: any ink image -> the 28x28 input the model expects.

MNIST digits were made by scaling each digit's bounding box so the longer side is
20 px (anti-aliased, keeping the aspect ratio), pasting it into a 28x28 field and
shifting it so its centre of mass sits at the centre. Every input path of the app
(canvas, uploaded photos, the CLI, training-time style augmentation) goes through
``to_mnist_28`` below, so the model always sees digits made the same way.

Conventions: an "ink image" is float32 (H, W) in [0, 1], 0 = background, 1 = ink.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MNIST_SIZE = 28
MNIST_BOX = 20


def ink_bbox(ink: np.ndarray, threshold: float = 0.05) -> tuple[int, int, int, int] | None:
    """Bounding box ``(x, y, w, h)`` of pixels above ``threshold``, or None if there are none.

    ink: float32 (H, W) in [0, 1].
    """
    if ink.size == 0:
        return None
    x, y, w, h = cv2.boundingRect((ink > threshold).astype(np.uint8))
    return None if w == 0 else (x, y, w, h)


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """Intensity-weighted centre ``(cx, cy)`` in pixel coordinates of float32 (H, W)."""
    total = float(image.sum())
    if total <= 0:
        h, w = image.shape
        return (w - 1) / 2, (h - 1) / 2
    ys, xs = np.indices(image.shape, dtype=np.float64)
    return float((xs * image).sum() / total), float((ys * image).sum() / total)


@dataclass(frozen=True)
class Placement:
    """Where a 28x28 input came from: 28x28 pixel (u, v) shows source pixel
    ``(x + (u - left) / scale, y + (v - top) / scale)``."""

    x: int
    y: int
    scale: float
    left: int
    top: int

    def to_source_matrix(self) -> np.ndarray:
        """float32 (2, 3) affine matrix mapping 28x28 coordinates to source coordinates."""
        inv = 1.0 / self.scale
        return np.float32([[inv, 0, self.x - self.left * inv], [0, inv, self.y - self.top * inv]])


def fit_to_mnist(ink: np.ndarray, box: int = MNIST_BOX) -> tuple[np.ndarray, Placement | None]:
    """Crop to the ink, fit the longer side into ``box`` px, centre by mass in 28x28.

    ink: float32 (H, W) in [0, 1] holding one digit.
    Returns float32 (28, 28) in [0, 1] and its Placement (None, with all zeros, when
    there is no ink).
    """
    bbox = ink_bbox(ink)
    if bbox is None:
        return np.zeros((MNIST_SIZE, MNIST_SIZE), np.float32), None
    x, y, w, h = bbox
    crop = ink[y : y + h, x : x + w].astype(np.float32)
    scale = box / max(w, h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    # INTER_AREA averages source pixels when shrinking (anti-aliasing, as MNIST was
    # made); INTER_LINEAR when enlarging a small crop.
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(crop, (new_w, new_h), interpolation=interpolation)
    cx, cy = centre_of_mass(small)
    # Whole-pixel shift putting the centre of mass at the centre (14, 14), as MNIST
    # did: a sub-pixel shift would blur thin strokes for no gain. Clamped so the box
    # always stays inside the field.
    left = int(np.clip(round(MNIST_SIZE / 2 - cx), 0, MNIST_SIZE - new_w))
    top = int(np.clip(round(MNIST_SIZE / 2 - cy), 0, MNIST_SIZE - new_h))
    out = np.zeros((MNIST_SIZE, MNIST_SIZE), np.float32)
    out[top : top + new_h, left : left + new_w] = small
    placement = Placement(x, y, new_w / w, left, top)
    return np.clip(out, 0.0, 1.0), placement


def to_mnist_28(ink: np.ndarray, box: int = MNIST_BOX) -> np.ndarray:
    """``fit_to_mnist`` without the placement: float32 (H, W) -> float32 (28, 28)."""
    return fit_to_mnist(ink, box)[0]


def straightened(images: np.ndarray, turn: float, unslant: float, unslant_first: bool = False) -> np.ndarray:
    """Model inputs turned and un-slanted, then fitted MNIST-style again.

    images: float32 (n, 28, 28) in [0, 1], MNIST-style inputs.
    turn: degrees, counter-clockwise as seen (undoes writing turned clockwise);
    unslant: x shift per unit of height taken out (positive undoes a lean to the right);
    unslant_first: the shear before the turn (otherwise after it). Each digit is drawn
    at twice its size about its centre (so nothing is clipped and thin strokes survive
    the resampling), turned and sheared, then cropped, scaled and centred by
    ``fit_to_mnist`` as every input is. Returns float32 (n, 28, 28).
    """
    images = np.asarray(images, np.float32).reshape(-1, MNIST_SIZE, MNIST_SIZE)
    side = 4 * MNIST_SIZE  # room for a digit at twice its size, turned and sheared by a whole height
    centre = side / 2
    from_middle = np.array([[2, 0, -MNIST_SIZE], [0, 2, -MNIST_SIZE], [0, 0, 1]])  # twice the size, about the middle
    turned = np.vstack([cv2.getRotationMatrix2D((0, 0), turn, 1.0), [0, 0, 1]])
    sheared = np.array([[1, unslant, 0], [0, 1, 0], [0, 0, 1]])
    to_centre = np.array([[1, 0, centre], [0, 1, centre], [0, 0, 1]])
    straightening = turned @ sheared if unslant_first else sheared @ turned
    matrix = (to_centre @ straightening @ from_middle)[:2].astype(np.float32)
    out = np.empty_like(images)
    for i, image in enumerate(images):
        out[i] = fit_to_mnist(cv2.warpAffine(image, matrix, (side, side), flags=cv2.INTER_LINEAR))[0]
    return out


# --- Stroke width --------------------------------------------------------------

# Median stroke width of MNIST digits measured crisply: enlarged 10x (cubic), measured
# with ``stroke_width`` at threshold 0.25 and expressed in 28x28 pixels (1,500 test
# digits; quartiles 2.35, 3.06).
# Drawings are measured the same way, at their own resolution, where even a thin
# anti-aliased pen line is crisp (at 28x28 it breaks into faint fragments).
MNIST_STROKE_WIDTH_CRISP = 2.67
INK_THRESHOLD = 0.25
# Strokes are corrected only outside THICKEN_BELOW-THIN_ABOVE times MNIST's width
# (``normalise_stroke_width``).
THICKEN_BELOW = 0.75
THIN_ABOVE = 1.75


def stroke_width(ink: np.ndarray, threshold: float = 0.5) -> float:
    """Mean stroke width in px of float32 (H, W) ink: ink area / half the outline length.

    For a stroke of length L and width w, area = wL and the outline is ~2L, so the
    ratio is w. Returns 0 for an image without ink.
    """
    mask = (ink > threshold).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    return float(mask.sum() / (perimeter / 2)) if perimeter > 0 else 0.0


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def normalise_stroke_width(ink: np.ndarray, target: float = MNIST_STROKE_WIDTH_CRISP) -> tuple[np.ndarray, int]:
    """Thicken thin or thin fat strokes so the 28x28 result has MNIST-like strokes.

    ink: float32 (H, W) in [0, 1], one digit at any resolution. The width is measured
    at this resolution, expressed in 28x28 pixels (the digit's longer side becomes
    20), and, when far from MNIST's, corrected with one grey-level dilation or
    erosion by a disk. Returns float32 (H + 2 pad, W + 2 pad) in [0, 1] and ``pad``,
    the border added so thickened strokes are not cut off (0 when nothing was added).
    """
    bbox = ink_bbox(ink, INK_THRESHOLD)
    width_source = stroke_width(ink, INK_THRESHOLD)
    if bbox is None or width_source <= 0:
        return ink, 0
    source_px_per_28_px = max(bbox[2], bbox[3]) / MNIST_BOX
    width_28 = width_source / source_px_per_28_px
    # Only correct clear outliers: MNIST itself spans roughly 2.1-3.5 px (10th-90th
    # percentile), and training thickens its strokes by up to 2 px, so the network reads
    # strokes up to THIN_ABOVE times MNIST's as they are. Thinning is an erosion, which
    # also shortens every stroke end (a 6's short stem, a 1's flag), so it is kept for
    # strokes fatter than the network ever saw.
    if width_28 < THICKEN_BELOW * target:
        radius = round((target - width_28) / 2 * source_px_per_28_px)
        if radius >= 1:
            padded = cv2.copyMakeBorder(ink, radius, radius, radius, radius, cv2.BORDER_CONSTANT, value=0)
            return cv2.dilate(padded, _disk(radius)), radius
    elif width_28 > THIN_ABOVE * target:
        radius = round((width_28 - target) / 2 * source_px_per_28_px)
        if radius >= 1:
            thinned = cv2.erode(ink, _disk(radius))
            # Never erase the digit: keep the original if erosion removed most ink.
            if (thinned > 0.5).sum() > 0.2 * (ink > 0.5).sum():
                return thinned, 0
    return ink, 0


# --- Canvas and segmentation ------------------------------------------------------

def ink_from_picture(rgba: np.ndarray) -> np.ndarray:
    """A canvas drawing or a clean picture of digits -> ink float32 (H, W) in [0, 1].

    uint8 (H, W, 4) RGBA (or (H, W, 3) RGB, or (H, W) grey). With a meaningful
    transparent area (a transparent canvas) ink is the opacity. Otherwise the
    background is the median grey and ink is the distance from it, so light strokes
    on a dark canvas and dark ink on light paper both work, scaled so the stroke pixel
    farthest from the background reaches 1.
    """
    image = np.asarray(rgba, dtype=np.uint8)
    if image.ndim == 3 and image.shape[-1] == 4:
        alpha = image[..., 3]
        if np.count_nonzero(alpha < 128) > 0.05 * alpha.size:
            return alpha.astype(np.float32) / 255
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2GRAY if image.shape[-1] == 4 else cv2.COLOR_RGB2GRAY)
    # Median from a histogram: exact for uint8 and much faster than np.median (OpenCV's
    # histogram: 0.13 ms for a canvas, numpy's bincount 0.18).
    histogram = cv2.calcHist([np.ascontiguousarray(image)], [0], None, [256], [0, 256]).ravel().astype(np.int64)
    background = int(np.searchsorted(np.cumsum(histogram), image.size / 2))
    distance = cv2.absdiff(image, np.full_like(image, background))
    strongest = int(distance.max())
    if strongest <= 25:  # a flat image: no ink
        return np.zeros(image.shape, np.float32)
    # Scaled, not clipped: the strongest stroke pixel reaches 1 and the strokes keep their
    # grey profile, as MNIST's anti-aliased strokes have one (clipped cores read fatter).
    return distance.astype(np.float32) / strongest


@dataclass
class DigitCrop:
    """One digit found in an ink image, ready for the model.

    box: (x, y, w, h) in source pixels; image: float32 (28, 28) in [0, 1], the model's
    input; placement: how ``image`` maps back onto the source (for saliency overlays);
    doubt: why the region does not look like a digit (a photo's odd size or shape),
    None when it does.
    """

    box: tuple[int, int, int, int]
    image: np.ndarray
    placement: Placement
    doubt: str | None = None
