"""MNIST-style normalisation: any ink image -> the 28x28 input the model expects.

MNIST digits were made by scaling each digit's bounding box so the longer side is
20 px (anti-aliased, keeping the aspect ratio), pasting it into a 28x28 field and
shifting it so its centre of mass sits at the centre. Every input path of the app
(canvas, uploaded photos, the CLI, training-time style augmentation) goes through
``to_mnist_28`` below, so the model always sees digits made the same way.

Conventions: an "ink image" is float32 (H, W) in [0, 1], 0 = background, 1 = ink.
"""

from __future__ import annotations

import cv2
import numpy as np

MNIST_SIZE = 28
MNIST_BOX = 20


def ink_bbox(ink: np.ndarray, threshold: float = 0.05) -> tuple[int, int, int, int] | None:
    """Bounding box ``(x, y, w, h)`` of pixels above ``threshold``, or None if there are none.

    ink: float32 (H, W) in [0, 1].
    """
    ys, xs = np.nonzero(ink > threshold)
    if len(xs) == 0:
        return None
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    return int(x0), int(y0), int(x1 - x0 + 1), int(y1 - y0 + 1)


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """Intensity-weighted centre ``(cx, cy)`` in pixel coordinates of float32 (H, W)."""
    total = float(image.sum())
    if total <= 0:
        h, w = image.shape
        return (w - 1) / 2, (h - 1) / 2
    ys, xs = np.indices(image.shape, dtype=np.float64)
    return float((xs * image).sum() / total), float((ys * image).sum() / total)


def to_mnist_28(ink: np.ndarray, box: int = MNIST_BOX) -> np.ndarray:
    """Crop to the ink, fit the longer side into ``box`` px, centre by mass in 28x28.

    ink: float32 (H, W) in [0, 1] holding one digit. Returns float32 (28, 28) in [0, 1].
    An image without ink returns all zeros.
    """
    bbox = ink_bbox(ink)
    if bbox is None:
        return np.zeros((MNIST_SIZE, MNIST_SIZE), np.float32)
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
    return np.clip(out, 0.0, 1.0)
