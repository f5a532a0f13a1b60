"""The exported LiteRT network reads as the Keras model it came from, and the app's
reading path runs without TensorFlow."""

import json
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

from mnist_app.network import MODEL_PATH, NETWORK_NAME, Network, model_version
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def keras_outputs(model, mnist_test):
    """The Keras model's logits, features (its members' last hidden layers, side by
    side) and input gradient of the top logit on 500 MNIST test digits (TensorFlow's
    own autodiff)."""
    import keras
    import tensorflow as tf

    x = mnist_test[0][:500]
    features = []
    for member in (layer for layer in model.layers if isinstance(layer, keras.Model)):
        flatten = next(layer for layer in member.layers if isinstance(layer, keras.layers.Flatten))
        features.append(keras.Model(member.input, flatten.output)(x[..., None], training=False).numpy())
    features = np.concatenate(features, axis=1)
    logits_model = keras.Model(model.input, model.get_layer("logits").output)
    images = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(images)
        logits = logits_model(images, training=False)
        top = tf.reduce_sum(logits * tf.one_hot(tf.argmax(logits, axis=1), 10), axis=1)
    return x, logits.numpy(), features, tape.gradient(top, images).numpy()


def assert_gradients_match(actual: np.ndarray, expected: np.ndarray) -> None:
    """Input gradients (n, 28, 28) the same image by image: within 1e-5 of each other's
    size, but for a ReLU whose input sits within rounding of 0, which one side counts
    as on and the other as off (BatchNorm folded into the convolution rounds otherwise
    than Keras): that may move a few images in a hundred (7 of 500 MNIST test digits with
    the networks of 2026-12-07, late night, by up to 0.7% of the gradient; 4 of 500 with
    those after them, by 0.14-1.02%; the rest within 4e-7), each by under 2% of its
    gradient."""
    size = np.linalg.norm(expected.reshape(len(expected), -1), axis=1)
    error = np.linalg.norm((actual - expected).reshape(len(expected), -1), axis=1) / np.maximum(size, 1e-12)
    assert np.mean(error > 1e-5) <= 0.02, np.sort(error)[::-1][:10]
    assert error.max() < 2e-2, np.sort(error)[::-1][:10]


def test_the_network_reads_as_the_keras_model(network, keras_outputs):
    x, logits, features, gradient = keras_outputs
    read_logits, read_features = network.read(x)
    np.testing.assert_allclose(read_logits, logits, atol=1e-4)
    np.testing.assert_array_equal(read_logits.argmax(axis=1), logits.argmax(axis=1))
    np.testing.assert_allclose(read_features, features, atol=1e-4)
    explained_logits, explained_features, explained_gradient = network.explain(x)
    np.testing.assert_allclose(explained_logits, logits, atol=1e-4)
    np.testing.assert_allclose(explained_features, features, atol=1e-4)
    assert_gradients_match(explained_gradient, gradient)


def test_the_gradient_of_any_weighting_of_the_logits(network, keras_outputs):
    x, logits, _, gradient = keras_outputs
    top = np.eye(10, dtype=np.float32)[logits.argmax(axis=1)]
    assert_gradients_match(network.gradient(x, top), gradient)
    # Linear in the weights: the gradient of 2 * logit(3) - logit(5) from those of each.
    w3, w5 = np.zeros((len(x), 10), np.float32), np.zeros((len(x), 10), np.float32)
    w3[:, 3], w5[:, 5] = 1, 1
    np.testing.assert_allclose(network.gradient(x, 2 * w3 - w5),
                               2 * network.gradient(x, w3) - network.gradient(x, w5), atol=1e-4)


def test_batches_and_threads_read_as_one_image_at_a_time(network, mnist_test):
    x = mnist_test[0][:600]  # more than one interpreter batch
    together = network.read(x)[0]
    alone = np.concatenate([network.read(x[i : i + 1])[0] for i in range(0, 600, 50)])
    np.testing.assert_allclose(together[::50], alone, atol=1e-4)
    # Sessions read at once: through one interpreter in turn, or a pool of two side by side.
    pool = Network.from_file(interpreters=2)
    for shared in (network, pool, pool.another()):
        results, errors = {}, []

        def read(k):
            try:
                for _ in range(5):
                    results[k] = shared.read(x[k * 10 : k * 10 + 10 + k])[0]
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=read, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        for k in range(8):
            np.testing.assert_allclose(results[k], together[k * 10 : k * 10 + 10 + k], atol=1e-4)
    assert network.read(np.zeros((0, 28, 28), np.float32))[0].shape == (0, 10)
    # Batch work (the command line, training) runs each call on every core: the same numbers.
    two_threads = Network.from_file(threads=2)
    np.testing.assert_allclose(two_threads.read(x)[0], together, atol=1e-6)
    np.testing.assert_allclose(two_threads.explain(x[:40])[2], network.explain(x[:40])[2], atol=1e-6)


def test_the_app_reads_and_explains_without_tensorflow():
    script = """
import sys
import numpy as np
from mnist_app.inference import Recognizer
from mnist_app.network import MODEL_PATH
from mnist_app.preprocess import ink_from_picture
from mnist_app.segmentation import segment_digits
r = Recognizer.from_file(MODEL_PATH)
r.warm_up()
canvas = np.zeros((280, 280, 4), np.uint8); canvas[..., 3] = 255; canvas[60:220, 130:150, :3] = 255
reading, saliency = r.read_and_explain(segment_digits(ink_from_picture(canvas)))
assert reading.number == "1", reading.number
for method in ("smoothgrad", "integrated"):
    assert np.abs(r.saliency(reading.digits[0].crop.image, 1, method)).max() > 0
print(sorted(m for m in ("tensorflow", "keras", "jax", "torch") if m in sys.modules))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_a_missing_or_stale_network_says_what_to_run(tmp_path):
    model_path = tmp_path / "model.keras"
    shutil.copy(MODEL_PATH, model_path)
    with pytest.raises(FileNotFoundError, match="train_model.py --calibrate-only"):
        Network.from_file(model_path)
    shutil.copy(MODEL_PATH.with_name(NETWORK_NAME), tmp_path / NETWORK_NAME)
    (tmp_path / "report.json").write_text(json.dumps({"network": {"exported_from": model_version(model_path)}}))
    members = json.loads(MODEL_PATH.with_name("report.json").read_text())["architecture"]["members"]
    assert Network.from_file(model_path).feature_width == 128 * members
    (tmp_path / "report.json").write_text(json.dumps({"network": {"exported_from": "0123456789ab"}}))
    with pytest.raises(FileNotFoundError, match="exported from another model"):
        Network.from_file(model_path)


def test_the_shipped_network_is_the_shipped_models():
    report = json.loads(MODEL_PATH.with_name("report.json").read_text())
    assert report["network"]["exported_from"] == model_version(MODEL_PATH)
