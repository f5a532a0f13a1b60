"""The confidence's calibration: temperature scaling and the unsure threshold."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_app.calibration import (UNSURE_RANGE, fit_temperature, fit_unsure_below, negative_log_likelihood,
                                   wrong_but_sure_share)


def sampled_labels(logits: np.ndarray, temperature: float, rng) -> np.ndarray:
    """Labels drawn from softmax(logits / temperature): what a model calibrated at that
    temperature would see."""
    scaled = logits / temperature
    p = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return np.array([rng.choice(10, p=row) for row in p])


@pytest.mark.parametrize("true_temperature", [0.6, 1.0, 2.5])
def test_the_fitted_temperature_is_the_one_the_labels_were_drawn_at(true_temperature):
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 4, (20000, 10))
    labels = sampled_labels(logits, true_temperature, rng)
    fitted = fit_temperature([(logits, labels)])
    assert fitted == pytest.approx(true_temperature, rel=0.06)
    best = negative_log_likelihood(logits, labels, fitted)
    assert all(best <= negative_log_likelihood(logits, labels, t) for t in (fitted * 0.8, fitted * 1.25))


def test_each_held_out_set_weighs_the_same_however_large():
    rng = np.random.default_rng(2)
    small_logits, big_logits = rng.normal(0, 4, (3000, 10)), rng.normal(0, 4, (30000, 10))
    small = (small_logits, sampled_labels(small_logits, 3.0, rng))
    big = (big_logits, sampled_labels(big_logits, 1.0, rng))
    both = fit_temperature([small, big])
    assert fit_temperature([big]) < both < fit_temperature([small])
    # Weighted by sets, not by digits: the small set pulls as hard as the big one.
    assert both > 1.4


def test_the_unsure_threshold_is_the_lowest_that_keeps_wrong_but_sure_within_bounds():
    # 1,000 readings: the 50 wrong ones at confidences 0.50..0.89, the right ones above 0.6.
    confidence = np.concatenate([np.linspace(0.5, 0.89, 50), np.linspace(0.6, 1.0, 950)])
    correct = np.concatenate([np.zeros(50, bool), np.ones(950, bool)])
    flagged = np.zeros(1000, bool)
    threshold = fit_unsure_below([(confidence, correct, flagged)], max_wrong_but_sure=0.01)
    assert wrong_but_sure_share(confidence, correct, flagged, threshold) <= 0.01
    assert wrong_but_sure_share(confidence, correct, flagged, threshold - 0.01) > 0.01
    # Readings already flagged by the other checks are not shown as sure at any threshold.
    all_flagged = fit_unsure_below([(confidence, correct, ~correct)], max_wrong_but_sure=0.01)
    assert all_flagged == UNSURE_RANGE[0]
    # Every set must be within bounds: a set that cannot be, gets the top of the range.
    hopeless = (np.ones(100), np.zeros(100, bool), np.zeros(100, bool))
    assert fit_unsure_below([(confidence, correct, flagged), hopeless]) == UNSURE_RANGE[1]


def test_the_temperature_changes_how_sure_not_what_is_read(network, mnist_test):
    from mnist_app.inference import Recognizer

    x, _ = mnist_test
    images = x[:300]
    plain, warm = Recognizer(network), Recognizer(network, temperature=2.0)
    logits = plain.raw_logits(images)
    p_plain, top_plain, _ = plain.classify(images)
    p_warm, top_warm, _ = warm.classify(images)
    expected = np.exp(logits / 2.0 - (logits / 2.0).max(axis=1, keepdims=True))
    np.testing.assert_allclose(p_warm, expected / expected.sum(axis=1, keepdims=True), atol=1e-5)
    assert (p_warm.argmax(1) == p_plain.argmax(1)).all()
    np.testing.assert_array_equal(top_warm, top_plain)  # the "looks like a digit" check is unchanged
    assert p_warm.max(axis=1).mean() < p_plain.max(axis=1).mean()
    # The Draw page's path uses the same temperature.
    p_explained, _, _, _ = warm.predict_and_explain(images[:5])
    np.testing.assert_allclose(p_explained, p_warm[:5], atol=1e-5)
