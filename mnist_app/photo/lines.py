"""Photo stage 4: ruled and squared paper's lines taken out of the darkness."""

from __future__ import annotations

import cv2
import numpy as np


def remove_ruled_lines(dark: np.ndarray, faint: np.ndarray, stroke_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Take ruled paper's lines out of the darkness: long straight near-horizontal
    lines (``remove_lines_along_rows``), then squared paper's near-vertical ones
    (the same on the transposed image, but only lines over 60% of its height, so
    that a tall 1 is never taken for one). Same arguments and results."""
    cleaned, band = remove_lines_along_rows(dark, faint, stroke_px)
    cleaned_t, band_t = remove_lines_along_rows(np.ascontiguousarray(cleaned.T), np.ascontiguousarray(faint.T),
                                                stroke_px, min_share=0.6)
    return np.ascontiguousarray(cleaned_t.T), band | band_t.T


def remove_lines_along_rows(dark: np.ndarray, faint: np.ndarray, stroke_px: float,
                            min_share: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    """Take long straight near-horizontal lines (ruled paper) out of the darkness.

    dark: float32 (H, W) darkness; faint: uint8 (H, W) 0/1, everything darker than
    paper noise allows, where a ruled line runs unbroken even across digits. A
    probabilistic Hough transform finds straight runs in ``faint`` within 15 degrees
    of horizontal, at least ``min_share`` of the image wide, with gaps of at most a couple of
    strokes (so digits' bars that happen to line up do not make a line). A run is a
    ruled line when along at least half its length the ink is a thin run (a line's
    thickness, not a digit's stroke coming down across it) and, where it is alone,
    clearly fainter than the pen (digits' bars in a row are as dark). In a band along it the
    line's own darkness (measured where the ink is the line alone) is subtracted from
    pixels about as dark as the line: the line vanishes, while a pen stroke crossing
    or lying on it, darker than a printed rule, stays whole.
    Returns the darkness without the lines, float32 (H, W), and the bands, uint8 0/1.
    """
    h, w = dark.shape
    band = np.zeros((h, w), np.uint8)
    min_length = max(min_share * w, 20 * stroke_px)
    lines = _long_straight_runs(faint, min_length, max_gap=max(4, 2 * stroke_px))
    if lines is None:
        return dark, band
    max_thickness = 2.5 * stroke_px + 2
    pen = float(np.percentile(dark[faint > 0], 95))  # the darkness of the pen's strokes
    cleaned = dark.copy()
    for x0, y0, x1, y1 in lines.reshape(-1, 4):
        if abs(y1 - y0) > np.tan(np.deg2rad(15)) * abs(x1 - x0):
            continue
        runs, points = _vertical_runs(faint, (x0, y0, x1, y1))
        thin = runs[(runs > 0) & (runs <= max_thickness)]
        if len(thin) < 0.5 * len(runs):
            continue
        thickness = int(np.median(thin))
        this = np.zeros_like(band)
        cv2.line(this, (int(x0), int(y0)), (int(x1), int(y1)), 1, thickness + 3)
        # The line's darkness where the ink is the line alone (a run no thicker than
        # the line): never where a digit's stroke lies along it, which would make
        # the line look as dark as the pen and erase the stroke with it.
        alone = points[(runs > 0) & (runs <= thickness + 1)]
        level = float(np.median(_darkest_near(dark, alone))) if len(alone) else 0.0
        if level > 0.7 * pen:
            continue  # as dark as the pen: digits' bars in a row, not a printed rule
        inside = (this > 0) & (dark < 1.2 * level + 0.05)  # ink clearly darker than the line stays whole
        cleaned[inside] = np.maximum(dark[inside] - level, 0.0)
        band |= this
    return cleaned, band


def _long_straight_runs(mask: np.ndarray, min_length: float, max_gap: float) -> np.ndarray | None:
    """Straight runs of ink at least ``min_length`` px long with gaps of at most ``max_gap``
    px in a uint8 (H, W) 0/1 mask: int (n, 1, 4) as (x0, y0, x1, y1), or None.

    OpenCV's probabilistic Hough transform, on the mask halved by taking the most of each
    2x2 block (a line one pixel wide stays unbroken) and its segments doubled back: a
    quarter of the time of the full mask (each ink pixel votes once per angle; 5.3 against
    19.2 ms a photo for both directions, halving included), and the same photos read
    (docs/performance.md)."""
    h, w = mask.shape
    if min(h, w) < 2:
        return None
    even = mask[: h - h % 2, : w - w % 2]
    # The most of each 2x2 block, from four strided views (numpy's max over the axes of a
    # reshaped copy took 30 times as long).
    halved = np.maximum(np.maximum(even[0::2, 0::2], even[0::2, 1::2]), np.maximum(even[1::2, 0::2], even[1::2, 1::2]))
    lines = cv2.HoughLinesP(halved * 255, 1, np.pi / 360, threshold=int(min_length * 0.25),
                            minLineLength=int(min_length / 2), maxLineGap=int(max_gap / 2))
    if lines is None:
        return None
    return np.minimum(lines * 2 + 1, [w - 1, h - 1, w - 1, h - 1]).astype(np.int32)


def _vertical_runs(mask: np.ndarray, segment, samples: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Length in px of the vertical run of ink through evenly spaced points of a
    segment (0 where the point is not on ink, or within a pixel of it): int (samples,),
    and the points on ink that the runs went through, int (samples, 2) as (x, y)."""
    x0, y0, x1, y1 = segment
    h, w = mask.shape
    runs = np.zeros(samples, np.int32)
    points = np.zeros((samples, 2), np.int32)
    for k, t in enumerate(np.linspace(0, 1, samples)):
        x = int(round(x0 + t * (x1 - x0)))
        y = int(round(y0 + t * (y1 - y0)))
        if not (0 <= x < w):
            continue
        column = mask[:, x]
        hits = [yy for yy in (y, y - 1, y + 1) if 0 <= yy < h and column[yy]]
        if not hits:
            continue
        top = bottom = hits[0]
        while top > 0 and column[top - 1]:
            top -= 1
        while bottom < h - 1 and column[bottom + 1]:
            bottom += 1
        runs[k] = bottom - top + 1
        points[k] = x, hits[0]
    return runs, points


def _darkest_near(dark: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The darkest of each point (x, y) and the pixels above and below it (a thin
    line's core): float32 (n,)."""
    h = dark.shape[0]
    xs, ys = points[:, 0], points[:, 1]
    return np.max([dark[np.clip(ys + dy, 0, h - 1), xs] for dy in (-1, 0, 1)], axis=0)
