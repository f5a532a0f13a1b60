"""Pictures for people: enlarged inputs and saliency overlays (pure numpy / OpenCV).

Saliency colours: red = pixels whose ink pushed the model *towards* the digit it
read, blue = pixels pushing *against* it; stronger colour = stronger influence.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mnist_app.preprocess import DigitCrop

RED = np.float32([220, 40, 30])
BLUE = np.float32([30, 90, 230])


def enlarge(image28: np.ndarray, scale: int = 8, grid: bool = True) -> np.ndarray:
    """float32 (28, 28) in [0, 1] -> uint8 (28*scale, 28*scale, 3), sharp pixels,
    with a faint pixel grid so the 28x28 resolution is visible."""
    big = cv2.resize((np.clip(image28, 0, 1) * 255).astype(np.uint8), None, fx=scale, fy=scale,
                     interpolation=cv2.INTER_NEAREST)
    rgb = np.repeat(big[..., None], 3, axis=2)
    if grid and scale >= 4:
        rgb[::scale, :, :] = np.maximum(rgb[::scale, :, :], 40)
        rgb[:, ::scale, :] = np.maximum(rgb[:, ::scale, :], 40)
    return rgb


def normalise_saliency(saliency: np.ndarray) -> np.ndarray:
    """Scale a signed map into [-1, 1] by its 99th percentile of |value| (robust to
    a few extreme pixels)."""
    peak = float(np.percentile(np.abs(saliency), 99))
    if peak <= 0:
        return np.zeros_like(saliency, np.float32)
    return np.clip(saliency / peak, -1.0, 1.0).astype(np.float32)


def colour_overlay(grey: np.ndarray, saliency: np.ndarray, strength: float = 0.85) -> np.ndarray:
    """Blend signed saliency float32 (H, W) in [-1, 1] over a grey image float32 (H, W)
    in [0, 1], dimmed so the colours stand out. Returns uint8 (H, W, 3)."""
    grey, saliency = np.asarray(grey, np.float32), np.asarray(saliency, np.float32)
    positive = np.clip(saliency, 0, 1) * np.float32(strength)
    negative = np.clip(-saliency, 0, 1) * np.float32(strength)
    dimmed = (np.clip(grey, 0, 1) * np.float32(0.35 * 255) + np.float32(0.25 * 255)) * (1 - positive - negative)
    # Plane by plane in float32, rounded and saturated to uint8 by OpenCV, then interleaved:
    # ~15x faster than (H, W, 3) float64 arithmetic, which this runs on every stroke.
    return cv2.merge([cv2.convertScaleAbs(dimmed + RED[c] * positive + BLUE[c] * negative) for c in range(3)])


def saliency_on_input(image28: np.ndarray, saliency28: np.ndarray, scale: int = 8) -> np.ndarray:
    """The 28x28 input with its saliency, enlarged: uint8 (28*scale, 28*scale, 3)."""
    size = 28 * scale
    grey = cv2.resize(image28, (size, size), interpolation=cv2.INTER_NEAREST)
    # Smooth interpolation of the map reads better than blocks at this size.
    sal = cv2.resize(normalise_saliency(saliency28), (size, size), interpolation=cv2.INTER_CUBIC)
    return colour_overlay(grey, np.clip(sal, -1, 1))


def saliency_on_drawing(ink: np.ndarray, crops: list[DigitCrop], saliency_maps: list[np.ndarray],
                        width: int | None = None) -> np.ndarray:
    """Map each digit's 28x28 saliency back onto the original drawing.

    ink: float32 (H, W) in [0, 1]; crops and saliency_maps: one float32 (28, 28) per
    digit; width: the picture's width (None: W), for a picture shown smaller than the
    drawing (made at its size, not shrunk by the browser or Streamlit). Returns uint8
    (H', W', 3) with the digit boxes outlined.
    """
    h, w = ink.shape
    scale = 1.0 if width is None else width / w
    size = (round(w * scale), round(h * scale))
    grey = ink if scale == 1.0 else cv2.resize(ink, size, interpolation=cv2.INTER_AREA)
    total = np.zeros((size[1], size[0]), np.float32)
    for crop, saliency in zip(crops, saliency_maps):
        total += cv2.warpAffine(normalise_saliency(saliency), crop.placement.to_source_matrix() * np.float32(scale),
                                size, flags=cv2.INTER_LINEAR, borderValue=0.0)
    out = colour_overlay(grey, np.clip(total, -1, 1))
    for crop in crops:
        x, y, bw, bh = (np.asarray(crop.box, np.float32) * scale).round().astype(int)
        cv2.rectangle(out, (x - 4, y - 4), (x + bw + 4, y + bh + 4), (250, 200, 40), 2)
    return out


GALLERY_BACKGROUND = (255, 255, 255)
GALLERY_PREDICTED = (228, 87, 46)  # the colours of ui.probability_chart
GALLERY_OTHER = (141, 169, 196)
GALLERY_TRUE = (46, 160, 67)


def gallery_grid(images: np.ndarray, probabilities: np.ndarray, true_labels: np.ndarray,
                 titles: list[str], columns: int = 6, scale: int = 4) -> np.ndarray:
    """A page of a gallery as one picture: per image a title, the 28x28 input
    enlarged and a strip of its ten probabilities (0 to 9, left to right).

    images: float32 (n, 28, 28) in [0, 1]; probabilities: float32 (n, 10);
    true_labels: int (n,), -1 where unknown. In each strip the digit read is red,
    the true digit (when the model missed it) green, the others blue-grey.
    Returns uint8 (H, W, 3); one picture instead of n widgets keeps paging fast.
    """
    size = 28 * scale
    title_h, strip_h, pad = 18, 26, 10
    tile_w, tile_h = size + pad, title_h + size + strip_h + pad
    n = len(images)
    rows = max(1, -(-n // columns))
    # Always ``columns`` wide, so every page is shown at the same scale.
    canvas = Image.new("RGB", (columns * tile_w + pad, rows * tile_h + pad), GALLERY_BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=13)
    bar_w = size // 10
    for i in range(n):
        x0 = pad + (i % columns) * tile_w
        y0 = pad + (i // columns) * tile_h
        draw.text((x0, y0), titles[i], fill=(30, 30, 30), font=font)
        canvas.paste(Image.fromarray(enlarge(images[i], scale=scale, grid=False)), (x0, y0 + title_h))
        base = y0 + title_h + size + strip_h - 2
        predicted = int(np.argmax(probabilities[i]))
        for d in range(10):
            colour = (GALLERY_PREDICTED if d == predicted
                      else GALLERY_TRUE if d == true_labels[i] else GALLERY_OTHER)
            height = max(1, round(float(probabilities[i][d]) * (strip_h - 4)))
            left = x0 + d * bar_w
            draw.rectangle((left + 1, base - height, left + bar_w - 1, base), fill=colour)
        draw.line((x0, base + 1, x0 + size, base + 1), fill=(120, 120, 120))
    return np.asarray(canvas)


def preprocessing_figure(rgba: np.ndarray, crops: list[DigitCrop], height: int = 240) -> np.ndarray:
    """The preprocessing in one picture: the drawing with each digit's box, then each
    digit's 28x28 model input (enlarged, with its centre marked).

    rgba: uint8 (H, W, 4) the drawing; crops: ``preprocess.segment_digits`` of it.
    Returns uint8 (height, W', 3).
    """
    drawing = np.ascontiguousarray(rgba[..., :3])
    for crop in crops:
        x, y, w, h = crop.box
        cv2.rectangle(drawing, (x - 4, y - 4), (x + w + 4, y + h + 4), (250, 200, 40), 2)
    scale = height / drawing.shape[0]
    panels = [cv2.resize(drawing, (round(drawing.shape[1] * scale), height), interpolation=cv2.INTER_AREA)]
    pixel = max(1, (height - 16) // 28)
    for crop in crops:
        big = enlarge(crop.image, scale=pixel)
        centre = 14 * pixel
        cv2.drawMarker(big, (centre, centre), (230, 60, 40), cv2.MARKER_CROSS, pixel * 3, 1)
        pad_v = height - big.shape[0]
        panels.append(np.full((height, 16, 3), 255, np.uint8))
        panels.append(cv2.copyMakeBorder(big, pad_v // 2, pad_v - pad_v // 2, 0, 0, cv2.BORDER_CONSTANT,
                                         value=(255, 255, 255)))
    return np.concatenate(panels, axis=1)
