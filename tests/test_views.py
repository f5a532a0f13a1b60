"""A digit the network leaves open is read in three views (upright and turned 8 degrees
each way), a clear one upright alone; saliency is always of the upright view."""

import cv2
import numpy as np
import pytest

from mnist_app.inference import VIEW_ANGLE, VIEWS_BELOW, Recognizer, rotation_operator
from mnist_app.network import MODEL_PATH


@pytest.fixture(scope="module")
def recognizer():
    return Recognizer.from_file(MODEL_PATH)


def turned(images, angle):
    matrix = cv2.getRotationMatrix2D((13.5, 13.5), angle, 1.0)
    return np.stack([cv2.warpAffine(im, matrix, (28, 28), flags=cv2.INTER_LINEAR) for im in images])


def upright_logits(recognizer, images):
    return recognizer.network.read(np.asarray(images, np.float32))[0]


def softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_the_turn_is_the_same_as_warping_the_image():
    images = np.random.default_rng(0).random((4, 28, 28)).astype(np.float32)
    for angle in (VIEW_ANGLE, -VIEW_ANGLE, 30.0):
        flat = images.reshape(4, -1) @ rotation_operator(angle)
        np.testing.assert_allclose(flat.reshape(4, 28, 28), turned(images, angle), atol=1e-5)


@pytest.fixture(scope="module")
def clear_and_open(recognizer, mnist_test):
    """MNIST test digits the network alone reads at >= VIEWS_BELOW, and < it."""
    x, _ = mnist_test
    network = softmax(upright_logits(recognizer, x[:2000]))
    clear = x[:2000][network.max(axis=1) >= VIEWS_BELOW]
    unclear = x[:2000][network.max(axis=1) < VIEWS_BELOW]
    assert len(unclear) >= 20 and len(clear) >= 1000
    return clear[:200], unclear[:60]


def test_a_clear_digit_is_read_upright_and_an_open_one_in_three_views(recognizer, clear_and_open):
    clear, unclear = clear_and_open
    np.testing.assert_allclose(recognizer.raw_logits(clear), upright_logits(recognizer, clear), atol=1e-4)
    three = (upright_logits(recognizer, unclear) + upright_logits(recognizer, turned(unclear, VIEW_ANGLE))
             + upright_logits(recognizer, turned(unclear, -VIEW_ANGLE))) / 3
    np.testing.assert_allclose(recognizer.raw_logits(unclear), three, atol=1e-4)
    # Mixed in one batch, each is read as it would be alone.
    both = np.concatenate([clear[:5], unclear[:5]])
    np.testing.assert_allclose(recognizer.raw_logits(both),
                               np.concatenate([recognizer.raw_logits(clear[:5]), recognizer.raw_logits(unclear[:5])]),
                               atol=1e-4)
    # The Draw page's path (one call with the gradient) reads the same, with the temperature.
    probabilities, _, top, _ = recognizer.predict_and_explain(both)
    np.testing.assert_allclose(probabilities, softmax(recognizer.raw_logits(both) / recognizer.temperature),
                               atol=1e-5)
    np.testing.assert_allclose(top, recognizer.raw_logits(both).max(axis=1), atol=1e-4)


def test_the_views_change_some_open_readings_and_saliency_stays_upright(recognizer, clear_and_open):
    _, unclear = clear_and_open
    alone = upright_logits(recognizer, unclear).argmax(axis=1)
    probabilities, gradients, _, _ = recognizer.predict_and_explain(unclear)
    read = probabilities.argmax(axis=1)
    assert (read != alone).any(), "three views never changed an open reading: not in use"
    for i in range(len(unclear)):
        np.testing.assert_allclose(gradients[i], recognizer.saliency(unclear[i], int(read[i])), atol=1e-4)
