"""'Does not look like a digit': the shipped model's feature statistics flag shapes
that are no digit, however confident the softmax, and leave real digits alone."""

import math

import numpy as np
import pytest

from mnist_app.inference import Recognizer
from mnist_app.network import MODEL_PATH
from mnist_app.novelty import FEATURE_STATS_NAME, FeatureDensity, load_feature_density
from tests.strokes import DIGIT_STROKES, render_strokes
from tests.test_drawn_styles import random_drawing


@pytest.fixture(scope="module")
def recognizer():
    recognizer = Recognizer.from_file(MODEL_PATH)
    assert recognizer.density is not None, f"{FEATURE_STATS_NAME} missing beside {MODEL_PATH}"
    return recognizer


def _polar(angle_deg, radius=0.4):
    return 0.5 + radius * math.cos(math.radians(angle_deg)), 0.5 + radius * math.sin(math.radians(angle_deg))


# Shapes in unit coordinates that the softmax alone reads as a digit at 94-100%.
NOT_DIGITS = {
    "six-pointed star": [[_polar(a), _polar(a + 180)] for a in (0, 60, 120)],
    "W": [[(0.1, 0.1), (0.3, 0.9), (0.5, 0.4), (0.7, 0.9), (0.9, 0.1)]],
    "M": [[(0.15, 0.9), (0.2, 0.1), (0.5, 0.6), (0.8, 0.1), (0.85, 0.9)]],
    "square": [[(0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8), (0.2, 0.2)]],
    "grid": [[(0.35, 0.1), (0.35, 0.9)], [(0.65, 0.1), (0.65, 0.9)], [(0.1, 0.35), (0.9, 0.35)],
             [(0.1, 0.65), (0.9, 0.65)]],
    "zigzag": [[(0.1, 0.5), (0.25, 0.2), (0.4, 0.8), (0.55, 0.2), (0.7, 0.8), (0.85, 0.2)]],
    "triangle": [[(0.5, 0.1), (0.9, 0.85), (0.1, 0.85), (0.5, 0.1)]],
}


# The MNIST-only ensemble flagged all seven; the networks trained with pen digits read
# the M and the zigzag as a 4 at 100%, features and top logit within the real digits'
# range (the one-member network let the W through as well; a member trained 40 epochs
# alone, the six-pointed star); since the pair learnt paper digits (2026-12-07), the W too.
# The three networks of 2026-12-07 flagged the W and the zigzag again; fine-tuned with
# 9s shaped like a P (every recipe tried), they read the W and the zigzag as a 4 at 100%
# again, features and top logit within the real digits' range, like the M.
# The three networks of 2026-12-07 (late night, third: the weakest member on paper swapped
# for one trained with paper from the start) flag the M, the W and the zigzag, and let the
# triangle through as a 0 at 88%.
# Strict: once they are flagged again, these fail as a reminder.
NOT_FLAGGED_YET = {"triangle": "read as a 0 at 88%, features and top logit within the real digits' range"}


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=NOT_FLAGGED_YET[name]))
    if name in NOT_FLAGGED_YET else name for name in NOT_DIGITS])
def test_a_shape_that_is_no_digit_is_flagged(recognizer, name):
    strokes = [[(100 + x * 200, 20 + y * 280) for x, y in stroke] for stroke in NOT_DIGITS[name]]
    reading = recognizer.read_picture(render_strokes(strokes, size=(560, 320), width=18))
    assert reading.digits, name
    for digit in reading.digits:
        assert not digit.looks_like_digit and digit.unsure, (name, digit.digit, f"{digit.confidence:.0%}")


def test_drawn_digits_of_every_style_are_hardly_ever_flagged(recognizer):
    """Measured: 1 of 450 (an open 4)."""
    rng = np.random.default_rng(2026)
    flagged = total = 0
    for key in sorted(DIGIT_STROKES):
        for _ in range(30):
            for digit in recognizer.read_picture(random_drawing(key, rng)).digits:
                total += 1
                flagged += not digit.looks_like_digit
    assert total >= 450 and flagged <= 0.01 * total, f"{flagged} of {total} drawn digits flagged"


def test_mnist_test_digits_are_flagged_about_one_in_a_hundred(recognizer, mnist_test):
    """Each check flags 0.5% of validation digits by construction; together, on the
    test set, 97 of 10,000, and 13 of the model's 30 mistakes among them."""
    x, y = mnist_test
    probabilities, top_logits, features = recognizer.classify(x)
    flags = ~recognizer.looks_like_digit(top_logits, features)
    by_features = ~recognizer.density.looks_like_digit(features)
    assert 0.002 <= by_features.mean() <= 0.01, by_features.mean()
    assert flags.mean() <= 0.02, flags.mean()
    mistakes = probabilities.argmax(axis=1) != y
    assert flags[mistakes].mean() > 5 * flags[~mistakes].mean()  # the flag says "I may be wrong"


def test_feature_statistics_round_trip_and_a_missing_file_turns_the_check_off(recognizer, tmp_path):
    path = tmp_path / FEATURE_STATS_NAME
    recognizer.density.save(path)
    again = FeatureDensity.load(path)
    features = np.random.default_rng(0).normal(size=(5, recognizer.density.transform.shape[0])).astype(np.float32)
    np.testing.assert_allclose(again.distances(features), recognizer.density.distances(features), rtol=1e-6)
    assert load_feature_density(tmp_path / "elsewhere" / "model.keras") is None
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / FEATURE_STATS_NAME).write_bytes(b"not an npz file")
    assert load_feature_density(tmp_path / "broken" / "model.keras") is None


def test_fitting_recovers_the_class_geometry():
    """Two well separated classes in 3-d: a point at a class mean is near, one far off is not."""
    rng = np.random.default_rng(0)
    centres = np.zeros((10, 3))
    centres[:, 0] = np.arange(10) * 10
    labels = rng.integers(0, 10, 5000)
    features = centres[labels] + rng.normal(size=(5000, 3))
    held_out_labels = rng.integers(0, 10, 1000)
    density = FeatureDensity.fit(features, labels, centres[held_out_labels] + rng.normal(size=(1000, 3)))
    assert 9 < density.max_distance < 16  # chi-squared with 3 degrees of freedom, 99.5%: 12.8
    near, far = density.looks_like_digit(np.array([[30.0, 0.0, 0.0], [35.0, 0.0, 20.0]]))
    assert near and not far
