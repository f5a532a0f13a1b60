"""Handwritten-digit stroke paths and a renderer that mimics the drawing canvas.

Pure numpy/cv2 (no Streamlit import), so it can be used by unit tests that feed
synthetic drawings to the model and by browser tests that replay the same paths
with a real mouse.

Coordinates: every stroke is a polyline of ``(x, y)`` points in unit coordinates,
0..1 with y pointing down, in the order a person would move the mouse. Digits are
drawn narrower than tall (roughly x in 0.2..0.8, y in 0.06..0.94), so ``place``
into a square box keeps a natural handwriting aspect ratio.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

Point = tuple[float, float]
Stroke = list[Point]
Strokes = list[Stroke]


# --------------------------------------------------------------------------- #
# Path helpers
# --------------------------------------------------------------------------- #
def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 0) -> Stroke:
    """Elliptical arc from angle ``a0`` to ``a1`` (degrees, y down: 90 = bottom, -90 = top).

    Increasing angles run clockwise on screen, decreasing ones anticlockwise.
    """
    n = n or max(8, int(abs(a1 - a0) / 6))
    return [
        (cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
        for a in np.linspace(a0, a1, n)
    ]


def _line(p0: Point, p1: Point, n: int = 0) -> Stroke:
    n = n or max(2, int(math.dist(p0, p1) / 0.04) + 1)
    return [(p0[0] + (p1[0] - p0[0]) * t, p0[1] + (p1[1] - p0[1]) * t) for t in np.linspace(0, 1, n)]


def _bezier(p0: Point, p1: Point, p2: Point, p3: Point, n: int = 16) -> Stroke:
    """Cubic Bezier curve through ``p0`` and ``p3`` with control points ``p1``, ``p2``."""
    out = []
    for t in np.linspace(0, 1, n):
        u = 1 - t
        out.append(
            (
                u**3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t**3 * p3[0],
                u**3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t**3 * p3[1],
            )
        )
    return out


def _join(*parts: Stroke) -> Stroke:
    """Concatenate path pieces into one stroke, dropping repeated joint points."""
    out: Stroke = []
    for part in parts:
        for p in part:
            p = (float(p[0]), float(p[1]))
            if not out or math.dist(out[-1], p) > 1e-6:
                out.append(p)
    return out


def _arc_point(cx, cy, rx, ry, a):
    r = math.radians(a)
    return cx + rx * math.cos(r), cy + ry * math.sin(r)


def _arc_tangent(rx, ry, a, direction):
    """Unit tangent of an arc at angle ``a``; direction +1 clockwise, -1 anticlockwise."""
    r = math.radians(a)
    tx, ty = -rx * math.sin(r) * direction, ry * math.cos(r) * direction
    n = math.hypot(tx, ty) or 1.0
    return tx / n, ty / n


def _bridge(p0: Point, t0: Point, p3: Point, t3: Point, k: float = 0.12) -> Stroke:
    """Smooth Bezier from ``p0`` leaving along ``t0`` to ``p3`` arriving along ``t3``."""
    p1 = (p0[0] + t0[0] * k, p0[1] + t0[1] * k)
    p2 = (p3[0] - t3[0] * k, p3[1] - t3[1] * k)
    return _bezier(p0, p1, p2, p3, 12)


def _figure_eight() -> Stroke:
    """One-stroke 8: starts top right, anticlockwise over the top to the left, crosses the
    waist to the lower right, clockwise round the bottom, and back up to the start."""
    top = (0.5, 0.27, 0.20, 0.19)
    bot = (0.5, 0.70, 0.26, 0.24)
    a_top0, a_top1 = -20, -235  # anticlockwise over the top to the lower left
    a_bot0, a_bot1 = -55, 235  # clockwise round the bottom to the upper left
    a_top2, a_top3 = 55, -25  # back into the top loop on its lower right, closing it
    up = _arc(*top, a_top0, a_top1)
    down = _arc(*bot, a_bot0, a_bot1)
    close = _arc(*top, a_top2, a_top3)
    cross1 = _bridge(
        up[-1], _arc_tangent(top[2], top[3], a_top1, -1),
        down[0], _arc_tangent(bot[2], bot[3], a_bot0, +1),
    )
    cross2 = _bridge(
        down[-1], _arc_tangent(bot[2], bot[3], a_bot1, +1),
        close[0], _arc_tangent(top[2], top[3], a_top2, -1),
    )
    return _join(up, cross1, down, cross2, close)


# --------------------------------------------------------------------------- #
# The digits
# --------------------------------------------------------------------------- #
DIGIT_STROKES: dict[str, Strokes] = {
    # 0: one oval, started at the top and drawn anticlockwise, slightly overshooting.
    "0": [_arc(0.5, 0.5, 0.27, 0.43, -80, -80 - 375)],
    # 1: a single, slightly slanted down stroke.
    "1": [_line((0.56, 0.07), (0.47, 0.93))],
    # 1 with a flag at the top and a base line.
    "1_flag_base": [
        _join(_line((0.32, 0.27), (0.56, 0.07)), _line((0.56, 0.07), (0.56, 0.92))),
        _line((0.34, 0.93), (0.78, 0.93)),
    ],
    # 2: round top, diagonal to the bottom left, flat base.
    "2": [
        _join(
            _arc(0.5, 0.3, 0.26, 0.23, 195, 375),
            _bezier((0.751, 0.36), (0.70, 0.55), (0.45, 0.70), (0.22, 0.92)),
            _line((0.22, 0.92), (0.80, 0.91)),
        )
    ],
    # 3: two bowls, open on the left.
    "3": [
        _join(
            _arc(0.49, 0.28, 0.25, 0.21, 205, 440),
            _arc(0.49, 0.71, 0.28, 0.23, -100, 150),
        )
    ],
    # 3 with a flat top bar and a pointed middle (the "Z-like" 3).
    "3_flat": [
        _join(
            _line((0.24, 0.08), (0.76, 0.08)),
            _line((0.76, 0.08), (0.46, 0.42)),
            _arc(0.49, 0.68, 0.28, 0.25, -95, 150),
        )
    ],
    # 4 drawn closed: diagonal down-left, across; then a long down stroke.
    "4": [
        _join(_line((0.62, 0.07), (0.20, 0.64)), _line((0.20, 0.64), (0.82, 0.64))),
        _line((0.64, 0.24), (0.64, 0.94)),
    ],
    # 4 drawn open: a short down stroke and across; then a long down stroke.
    "4_open": [
        _join(_line((0.28, 0.07), (0.24, 0.60)), _line((0.24, 0.60), (0.80, 0.60))),
        _line((0.67, 0.08), (0.67, 0.94)),
    ],
    # 5: down stroke, then the belly; top bar as a second stroke.
    "5": [
        _join(
            _line((0.31, 0.09), (0.28, 0.46)),
            _arc(0.49, 0.67, 0.27, 0.25, -125, 150),
        ),
        _line((0.31, 0.09), (0.75, 0.08)),
    ],
    # 6: long curve down the left into a round loop at the bottom.
    "6": [
        _join(
            _bezier((0.70, 0.07), (0.45, 0.16), (0.25, 0.40), (0.24, 0.70)),
            _arc(0.49, 0.70, 0.25, 0.23, 180, 180 - 345),
        )
    ],
    # 7: top bar and a long diagonal.
    "7": [_join(_line((0.22, 0.09), (0.79, 0.09)), _line((0.79, 0.09), (0.42, 0.93)))],
    # 7 with a crossbar (European style).
    "7_crossbar": [
        _join(_line((0.22, 0.09), (0.79, 0.09)), _line((0.79, 0.09), (0.42, 0.93))),
        _line((0.44, 0.50), (0.80, 0.50)),
    ],
    # 8: one continuous stroke, smaller top loop.
    "8": [_figure_eight()],
    # 9: loop at the top drawn anticlockwise, then a slightly curved stem.
    "9": [
        _join(
            _arc(0.49, 0.30, 0.25, 0.22, 0, -360),
            _bezier((0.74, 0.30), (0.74, 0.55), (0.70, 0.75), (0.62, 0.93)),
        )
    ],
    # 9 with a straight vertical stem.
    "9_straight": [
        _join(
            _arc(0.49, 0.30, 0.25, 0.22, 0, -360),
            _line((0.74, 0.30), (0.74, 0.94)),
        )
    ],
}


def place(strokes: Strokes, x: float, y: float, w: float, h: float) -> Strokes:
    """Map unit-coordinate strokes into the box ``(x, y, w, h)`` in canvas pixels."""
    return [[(x + px * w, y + py * h) for px, py in stroke] for stroke in strokes]


def render_strokes(
    strokes: Strokes, size: tuple[int, int] = (280, 280), width: int = 18
) -> np.ndarray:
    """Render pixel-coordinate strokes as the canvas returns them.

    size: ``(width, height)`` of the canvas in pixels. Returns uint8 (H, W, 4) RGBA:
    opaque black background, white anti-aliased round-capped strokes of ``width`` px.
    """
    cw, ch = size
    shift = 4  # sub-pixel precision for cv2 drawing
    scale = 1 << shift
    gray = np.zeros((ch, cw), np.uint8)
    radius = width / 2
    for stroke in strokes:
        if not stroke:
            continue
        pts = np.round(np.asarray(stroke, np.float64) * scale).astype(np.int32)
        if len(pts) > 1:
            cv2.polylines(gray, [pts.reshape(-1, 1, 2)], False, 255, int(width), cv2.LINE_AA, shift)
        # Round caps and joints.
        for p in pts:
            cv2.circle(gray, (int(p[0]), int(p[1])), int(round(radius * scale)), 255, -1, cv2.LINE_AA, shift)
    rgba = np.empty((ch, cw, 4), np.uint8)
    rgba[..., 0] = rgba[..., 1] = rgba[..., 2] = gray
    rgba[..., 3] = 255
    return rgba


def render_digit(
    key: str, size: tuple[int, int] = (280, 280), width: int = 18, margin: float = 0.12
) -> np.ndarray:
    """Render ``DIGIT_STROKES[key]`` centred on a canvas of ``size`` (RGBA uint8)."""
    cw, ch = size
    box = min(cw, ch) * (1 - 2 * margin)
    strokes = place(DIGIT_STROKES[key], (cw - box) / 2, (ch - box) / 2, box, box)
    return render_strokes(strokes, size=size, width=width)


def _grid(path: str = "/tmp/strokes_grid.png", size: int = 140, width: int = 10) -> str:
    """Render every style into one labelled grid image (for eyeballing)."""
    keys = list(DIGIT_STROKES)
    cols = 6
    rows = math.ceil(len(keys) / cols)
    sheet = np.full((rows * (size + 20), cols * size, 3), 60, np.uint8)
    for i, key in enumerate(keys):
        r, c = divmod(i, cols)
        img = render_digit(key, size=(size, size), width=width)[..., :3]
        y0 = r * (size + 20)
        sheet[y0 + 20 : y0 + 20 + size, c * size : (c + 1) * size] = img
        cv2.putText(sheet, key, (c * size + 4, y0 + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 255, 255), 1)
    cv2.imwrite(path, sheet)
    return path


if __name__ == "__main__":  # pragma: no cover
    print(_grid())
