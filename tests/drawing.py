"""Making canvas-like drawings from MNIST digits, for tests: white anti-aliased strokes
on an opaque black RGBA canvas, as streamlit-drawable-canvas sends them."""

import cv2
import numpy as np


def mnist_as_stroke(digit28: np.ndarray, height: int, stroke_px: float) -> np.ndarray:
    """An MNIST digit (uint8 or float (28, 28)) redrawn as a pen stroke ``height`` px tall.

    The digit is enlarged, thinned to its centre line (by thresholding the blurred
    image high), then thickened to about ``stroke_px``. Returns float32 (h, w) in [0, 1], cropped to the ink.
    """
    image = np.asarray(digit28, np.float32)
    image = image / 255 if image.max() > 1 else image
    scale = height / 20.0
    size = int(round(28 * scale))
    big = cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC)
    centre_line = (cv2.GaussianBlur(big, (0, 0), scale * 0.6) > 0.55).astype(np.uint8)
    # The centre line is roughly 1.4 * scale px wide; grow or shrink to the pen width.
    core_width = 1.4 * scale
    radius = int(round((stroke_px - core_width) / 2))
    if radius > 0:
        centre_line = cv2.dilate(centre_line, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2))
    elif radius < 0:
        eroded = cv2.erode(centre_line, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (-2 * radius + 1,) * 2))
        centre_line = eroded if eroded.sum() > 0.2 * centre_line.sum() else centre_line
    stroke = cv2.GaussianBlur(centre_line.astype(np.float32), (3, 3), 0.7)  # anti-aliased edge
    ys, xs = np.nonzero(stroke > 0.01)
    return stroke[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]  # cropped to the ink


def leaning(images: np.ndarray, slant: float) -> np.ndarray:
    """MNIST-style inputs float32 (n, 28, 28) slanted by ``slant`` (x shift per unit of
    height, tops to the right), fitted MNIST-style again: float32 (n, 28, 28)."""
    from mnist_app.preprocess import fit_to_mnist

    side = 112  # twice the size, sheared about the middle, with room to lean
    matrix = np.float32([[2, -2 * slant, side / 2 - 28 + 28 * slant], [0, 2, side / 2 - 28]])
    return np.stack([fit_to_mnist(cv2.warpAffine(np.float32(image), matrix, (side, side)))[0] for image in images])


def blank_canvas(width: int = 560, height: int = 320) -> np.ndarray:
    canvas = np.zeros((height, width, 4), np.uint8)
    canvas[..., 3] = 255
    return canvas


def paste(canvas: np.ndarray, stroke: np.ndarray, x: int, y: int) -> np.ndarray:
    """Paste float32 ink (h, w) at (x, y) as white on the RGBA canvas (in place)."""
    h, w = stroke.shape
    h, w = min(h, canvas.shape[0] - y), min(w, canvas.shape[1] - x)
    value = (np.clip(stroke[:h, :w], 0, 1) * 255).astype(np.uint8)
    region = canvas[y : y + h, x : x + w, :3]
    np.maximum(region, value[..., None], out=region)
    return canvas
