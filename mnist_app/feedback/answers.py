"""One stored answer and the checks and conversions of what goes into one."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image

SOURCES = ("draw", "photo")
REVIEWS = ("accepted", "rejected")
PENDING = "pending"  # the ``review`` filter for answers not reviewed yet
PROFILE_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


class FeedbackStoreError(RuntimeError):
    """The feedback store cannot be read or written; the message says why, for a user."""


@dataclass(frozen=True)
class Answer:
    """One stored answer. image: uint8 (28, 28); probabilities: float32 (10,)."""

    id: int
    created_at: str
    source: str
    predicted: int
    label: int
    probabilities: np.ndarray
    model_version: str
    image: np.ndarray
    crop_png: bytes | None
    profile: str = ""
    review: str | None = None

    @property
    def confidence(self) -> float:
        """The probability the model gave to the digit it read."""
        return float(self.probabilities[self.predicted])

    @property
    def corrected(self) -> bool:
        return self.label != self.predicted

    @property
    def image_name(self) -> str:
        """File name of the 28x28 PNG in exports."""
        return f"images/{self.id:06d}_label{self.label}.png"
def image_to_uint8(image28: np.ndarray) -> np.ndarray:
    """float32 (28, 28) in [0, 1] (the model's input) or uint8 (28, 28) -> uint8 (28, 28)."""
    image28 = np.asarray(image28)
    if image28.shape != (28, 28):
        raise ValueError(f"expected a 28x28 image, got shape {image28.shape}")
    if image28.dtype == np.uint8:
        return image28
    return np.round(np.clip(image28, 0.0, 1.0) * 255).astype(np.uint8)


def png_bytes(image: np.ndarray) -> bytes:
    """uint8 (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA -> PNG file bytes."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def check_profile(name: str) -> str:
    """``name`` if it can name a profile (1-64 letters, digits, '-' or '_'), else ValueError."""
    if not isinstance(name, str) or not PROFILE_PATTERN.fullmatch(name):
        raise ValueError(f"a profile name is 1-64 letters, digits, '-' or '_', not {name!r}")
    return name
