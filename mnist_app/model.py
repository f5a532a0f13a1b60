"""The CNN: architecture and the trained ensemble, in Keras (training, evaluation
against the plain ``model.predict``); the app reads with its LiteRT export
(``mnist_app.litert``, ``mnist_app.network``).

The shipped model is a Keras 3 Functional model ``(n, 28, 28) float32 in [0, 1] ->
(n, 10) probabilities``. It averages the logits of a few independently trained
members; the averaged logits are the layer named ``logits`` (used for saliency),
followed by a separate ``probabilities`` softmax layer.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from mnist_app.network import MODEL_PATH, NUM_CLASSES, require_model_file  # noqa: E402


def build_member(name: str = "member", dropout: float = 0.4) -> keras.Model:
    """One ensemble member: ``(n, 28, 28, 1) -> (n, 10)`` logits.

    A Deotte-style all-convolutional net (about 330k parameters): 3x3 convolutions,
    learned 5x5 stride-2 downsampling instead of pooling, BatchNorm after each
    convolution, dropout after each stage.
    """
    inputs = keras.Input((28, 28, 1), name=f"{name}_image")
    x = inputs
    for filters in (32, 64):
        for kernel, stride in ((3, 1), (3, 1), (5, 2)):
            padding = "same" if stride == 2 else "valid"
            x = keras.layers.Conv2D(filters, kernel, strides=stride, padding=padding, use_bias=False)(x)
            x = keras.layers.BatchNormalization()(x)
            x = keras.layers.Activation("relu")(x)
        x = keras.layers.Dropout(dropout)(x)
    x = keras.layers.Conv2D(128, 4, use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(dropout)(x)
    logits = keras.layers.Dense(NUM_CLASSES, name=f"{name}_logits")(x)
    return keras.Model(inputs, logits, name=name)


def build_ensemble(members: list[keras.Model]) -> keras.Model:
    """Inference model: ``(n, 28, 28) float32 -> (n, 10)`` probabilities.

    Averages the members' logits (a layer named ``logits``), then a softmax layer
    named ``probabilities``. Averaging logits is a geometric mean of the members'
    probabilities and keeps a single logits tensor for saliency.
    """
    image = keras.Input((28, 28), name="image")
    x = keras.layers.Reshape((28, 28, 1), name="add_channel")(image)
    member_logits = [member(x) for member in members]
    if len(member_logits) == 1:
        logits = keras.layers.Identity(name="logits")(member_logits[0])
    else:
        logits = keras.layers.Average(name="logits")(member_logits)
    probabilities = keras.layers.Softmax(name="probabilities")(logits)
    return keras.Model(image, probabilities, name="mnist_ensemble")


def ensemble_members(model: keras.Model) -> list[keras.Model]:
    """The members of an ensemble built by ``build_ensemble``, in order."""
    return [layer for layer in model.layers if layer.name.startswith("member")]


def logits_model(model: keras.Model) -> keras.Model:
    """The same network with the ``logits`` layer as output (shares the weights)."""
    return keras.Model(model.input, model.get_layer("logits").output, name="mnist_logits")


def prefer_latency() -> None:
    """One thread per TensorFlow op, TensorFlow's fastest setting for one 28x28 image:
    the benchmark's plain ``model.predict`` baseline runs under it (the app itself runs
    the LiteRT network, one thread per call).

    The ops on a single image are too small to split across cores (one thread per op
    was twice as fast as two for a predict + saliency call). Training keeps
    TensorFlow's defaults.
    Must run before TensorFlow executes its first op; later it is a no-op.
    """
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(2)
    except RuntimeError:  # TensorFlow already initialised in this process
        pass


def load_model(path: Path | str = MODEL_PATH) -> keras.Model:
    """Load the trained Keras model, with a clear error if it is missing."""
    require_model_file(path)
    return keras.models.load_model(path, compile=False)


def predict_probabilities(model: keras.Model, images: np.ndarray, batch_size: int = 1000,
                          on_progress: Callable[[float], None] | None = None) -> np.ndarray:
    """Probabilities for many images: float32 (n, 28, 28) in [0, 1] -> float32 (n, 10).

    Uses ``predict_on_batch`` per chunk: ``model.predict`` costs ~50 ms of fixed
    overhead per call. ``on_progress`` is called with the fraction done after each chunk.
    """
    images = np.asarray(images, dtype=np.float32)
    if len(images) == 0:
        return np.zeros((0, NUM_CLASSES), np.float32)
    chunks = []
    for i in range(0, len(images), batch_size):
        chunks.append(np.asarray(model.predict_on_batch(images[i : i + batch_size])))
        if on_progress is not None:
            on_progress(min(1.0, (i + batch_size) / len(images)))
    return np.concatenate(chunks).astype(np.float32)
