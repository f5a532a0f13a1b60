"""Photo stage 3: a local threshold that keeps bold, faint and blurred strokes whole."""

from __future__ import annotations

import cv2
import numpy as np


def threshold_ink(dark: np.ndarray, floor: np.ndarray, window: int) -> np.ndarray:
    """Ink pixels of float32 (H, W) darkness: uint8 (H, W) 0/1.

    A pixel is ink when its darkness is (a) above ``floor`` (float32 (H, W), what
    paper noise reaches, see ``noise_floor``) and at least 0.06, and (b) at least
    half the darkest ink within ``window`` px: a local threshold that keeps each
    digit's full stroke whether it is bold, faint or blurred, and lets a faint
    ruled line vanish next to dark ink. Components that never get clearly dark
    (twice the floor or 0.2 above it, and at least 0.15) are dropped: texture,
    smudges.
    """
    low = np.maximum(floor, 0.06)
    smooth = cv2.GaussianBlur(dark, (3, 3), 0)
    peak = cv2.dilate(smooth, cv2.getStructuringElement(cv2.MORPH_RECT, (window, window)))
    mask = ((dark > low) & (dark >= 0.5 * peak)).astype(np.uint8)
    count, labels, _, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return mask
    # The components with a pixel clearly above its floor.
    keep = np.zeros(count, bool)
    keep[labels[smooth - np.maximum(np.minimum(2 * low, low + 0.2), 0.15) + 1 >= 1]] = True
    keep[0] = False
    return keep[labels].astype(np.uint8)
