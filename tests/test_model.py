import json

import keras
import numpy as np
import pytest

from mnist_app.model import build_ensemble, build_member, logits_model, predict_probabilities
from mnist_app.network import REPORT_PATH

# The shipped model, trained on MNIST and pen digits, reads 99.45% (the MNIST-only
# ensemble before it 99.70%: the goal it has yet to win back).
SHIPPED_ACCURACY_FLOOR = 0.9940


def test_model_builds_with_reachable_logits():
    model = build_ensemble([build_member("a"), build_member("b")])
    assert model.input_shape == (None, 28, 28)
    assert model.output_shape == (None, 10)
    logits = logits_model(model)
    x = np.random.default_rng(0).random((3, 28, 28), dtype=np.float32)
    z = np.asarray(logits(x))
    p = np.asarray(model(x))
    # The output is exactly the softmax of the reachable logits.
    np.testing.assert_allclose(p, np.asarray(keras.ops.softmax(z)), atol=1e-6)
    assert isinstance(model.get_layer("probabilities"), keras.layers.Softmax)


def test_shipped_model_is_functional_with_logits(model):
    assert not isinstance(model, keras.Sequential)
    assert model.get_layer("logits") is not None
    assert model.output_shape == (None, 10)


def test_shipped_model_reaches_the_accuracy_floor_on_the_real_test_set(model, mnist_test):
    x, y = mnist_test
    probabilities = predict_probabilities(model, x)
    assert probabilities.shape == (10000, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    accuracy = float((probabilities.argmax(axis=1) == y).mean())
    assert accuracy >= SHIPPED_ACCURACY_FLOOR, f"shipped model scores {accuracy:.4f}"


def test_shipped_report_matches_the_shipped_model(model, mnist_test):
    report = json.loads(REPORT_PATH.read_text())
    x, y = mnist_test
    accuracy = float((predict_probabilities(model, x).argmax(axis=1) == y).mean())
    assert report["test"]["accuracy"] == pytest.approx(accuracy, abs=2e-4)
    assert np.array(report["test"]["confusion"]).sum() == 10000
    assert report["training"]["quick"] is False
