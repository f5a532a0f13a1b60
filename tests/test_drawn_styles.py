"""Accuracy on drawn digits by writing style: the accuracy that matters to users.

Every style in tests/strokes.py (plain digits, and the styles MNIST lacks: 7 with a
crossbar, 1 with a flag and base, open 4, 9 with a straight tail, ...) is drawn many
times with random slant, rotation, size, position, jitter and pen width, rendered as
the canvas renders strokes, and read through the app's own path.
"""

import math

import numpy as np
import pytest

from mnist_app.inference import Recognizer
from tests.strokes import DIGIT_STROKES, place, render_strokes

DRAWINGS_PER_STYLE = 30
CANVAS = (560, 320)


def jittered(strokes, rng):
    """Random slant, rotation, aspect and wobble of unit-coordinate strokes."""
    angle = math.radians(rng.uniform(-12, 12))
    shear = rng.uniform(-0.3, 0.3)
    sx, sy = rng.uniform(0.8, 1.2), rng.uniform(0.9, 1.1)
    cos, sin = math.cos(angle), math.sin(angle)
    out = []
    for stroke in strokes:
        wobble = rng.normal(0, 0.008, size=(len(stroke), 2)).cumsum(axis=0) * 0.3
        points = []
        for (x, y), (dx, dy) in zip(stroke, wobble):
            x, y = (x - 0.5) * sx, (y - 0.5) * sy
            x = x - shear * y
            x, y = cos * x - sin * y, sin * x + cos * y
            points.append((x + 0.5 + dx, y + 0.5 + dy))
        out.append(points)
    return out


def random_drawing(key, rng):
    size = rng.uniform(60, 240)
    margin = 25  # rotation and slant must not push the digit off the canvas
    x = rng.uniform(margin, CANVAS[0] - margin - size)
    y = rng.uniform(margin, CANVAS[1] - margin - size)
    strokes = place(jittered(DIGIT_STROKES[key], rng), x, y, size, size)
    return render_strokes(strokes, size=CANVAS, width=int(rng.uniform(5, 30)))


@pytest.fixture(scope="module")
def accuracy_by_style(model):
    recognizer = Recognizer(model)
    rng = np.random.default_rng(2026)
    results = {}
    for key in sorted(DIGIT_STROKES):
        expected = key.split("_")[0]
        reads = [recognizer.read_picture(random_drawing(key, rng)).number for _ in range(DRAWINGS_PER_STYLE)]
        results[key] = sum(r == expected for r in reads) / len(reads)
    print("\naccuracy on drawn digits by style:")
    for key, accuracy in results.items():
        print(f"  {key:<12} {accuracy:6.1%}")
    print(f"  {'mean':<12} {np.mean(list(results.values())):6.1%}")
    return results


def test_drawn_digits_are_read_right_on_average(accuracy_by_style):
    assert np.mean(list(accuracy_by_style.values())) >= 0.97


def test_no_writing_style_is_left_behind(accuracy_by_style):
    worst = min(accuracy_by_style, key=accuracy_by_style.get)
    assert accuracy_by_style[worst] >= 0.9, f"{worst}: {accuracy_by_style[worst]:.0%}"
