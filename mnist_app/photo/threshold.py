"""Photo stage 3: a local threshold that keeps bold, faint and blurred strokes whole."""

from __future__ import annotations

import cv2
import numpy as np


def threshold_ink(dark: np.ndarray, floor: np.ndarray, window: int, light_stretches: bool = False) -> np.ndarray:
    """Ink pixels of float32 (H, W) darkness: uint8 (H, W) 0/1.

    A pixel is ink when its darkness is (a) above ``floor`` (float32 (H, W), what
    paper noise reaches, see ``noise_floor``) and at least 0.06, and (b) at least
    half the darkest ink within ``window`` px: a local threshold that keeps each
    digit's full stroke whether it is bold, faint or blurred, and lets a faint
    ruled line vanish next to dark ink. Components that never get clearly dark
    (twice the floor or 0.2 above it, and at least 0.15) are dropped: texture,
    smudges. With ``light_stretches``, the light stretches that join its pieces are
    kept too (``_join_light_stretches``).
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
    mask = keep[labels].astype(np.uint8)
    return _join_light_stretches(mask, dark, (dark > low) & (dark >= WEAK_SHARE * peak)) if light_stretches else mask


def _join_light_stretches(mask: np.ndarray, dark: np.ndarray, light: np.ndarray) -> np.ndarray:
    """uint8 (H, W) 0/1 ``mask`` with the pixels of bool (H, W) ``light`` that join its
    pieces: hysteresis for a stroke that runs light for a while (a fine pen, a light
    hand) next to dark ink, which the half-the-peak rule cuts into two "digits".

    ``light`` (above the floor and at least ``WEAK_SHARE`` of the local peak) is added
    where it connects two or more pieces of the mask at least ``STROKE_SHARE`` as dark
    (float32 (H, W) ``dark``) as the darkest of them; a faint line that runs into one
    digit (a ruled line's remains in a shadow) stays out, as before.
    """
    count, light_labels = cv2.connectedComponents(light.astype(np.uint8) | mask, connectivity=8)
    pieces, piece_labels = cv2.connectedComponents(mask, connectivity=8)
    inked = mask > 0
    piece_darkest = np.zeros(pieces, np.float32)
    np.maximum.at(piece_darkest, piece_labels[inked], dark[inked])
    # Each light component with the distinct pieces of the mask inside it; a piece
    # counts when it is at least ``STROKE_SHARE`` as dark as the darkest there (a stroke's,
    # not a line's).
    pairs = np.unique(light_labels[inked].astype(np.int64) * pieces + piece_labels[inked])
    component, piece = pairs // pieces, pairs % pieces
    darkest = np.zeros(count, np.float32)
    np.maximum.at(darkest, component, piece_darkest[piece])
    strokes = component[piece_darkest[piece] >= STROKE_SHARE * darkest[component]]
    bridging = np.bincount(strokes, minlength=count) >= 2
    return (inked | bridging[light_labels]).astype(np.uint8)


# Measured on the CVL forms' 14,000 scans, where fine strokes broke most, and phone photos
# of ruled paper in a shadow (docs/experiments.md, 2026-12-07, "a stroke that runs light").
WEAK_SHARE = 0.3
# A ruled line's remains reach 0.2-0.36 of the ink's darkness; a stroke's pieces, more.
STROKE_SHARE = 0.4
