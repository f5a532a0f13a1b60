"""Pixel-format helpers shared by the photo stages: colour to grey, odd window
sizes, downscaling."""

from __future__ import annotations

import cv2
import numpy as np


def as_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W), (H, W, 3) or (H, W, 4) -> uint8 (H, W, 3); transparency over white."""
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    if image.shape[-1] == 3:
        return image
    if image[..., 3].min() == 255:  # opaque, as photos are: no blending to do
        return image[..., :3]
    alpha = image[..., 3:4].astype(np.float32) / 255
    return (image[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)


def to_grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def odd_size(n: float) -> int:
    n = int(round(n))
    return n if n % 2 else n + 1


def downscale(image: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """Shrink so the longest side is at most ``side``; returns the copy and its scale."""
    longest = max(image.shape[:2])
    if longest <= side:
        return image, 1.0
    scale = side / longest
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale
