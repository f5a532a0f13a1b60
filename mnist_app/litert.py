"""The Keras ensemble exported as a LiteRT network (``mnist_app.network`` runs it).

Each member's BatchNorm is folded into the convolution before it (inference only:
``conv(x, W) * s + t == conv(x, W * s) + t``). Saliency needs the input gradient,
and TensorFlow's own gradients do not convert to LiteRT's builtin ops (``ReluGrad``
and ``StridedSliceGrad`` are not builtins), so the backward pass is written out: a
ReLU passes the gradient where its input was positive, and a convolution's input
gradient is one stride-1 convolution of the padded output gradient (``_phase_kernel``;
LiteRT's own transposed convolution, with a batch of any size, ran 2x slower here), the last,
one-pixel convolution's a matrix product. Only training and this export import
TensorFlow; the app does not.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from mnist_app.network import NUM_CLASSES

_IMAGES = tf.TensorSpec([None, 28, 28], tf.float32)
_WEIGHTS = tf.TensorSpec([None, NUM_CLASSES], tf.float32)


class _Convolution:
    """One convolution with its BatchNorm folded in: kernel float32 (k, k, in, out), bias (out,)."""

    def __init__(self, conv: keras.layers.Conv2D, norm: keras.layers.BatchNormalization):
        gamma, beta, mean, variance = (np.asarray(w.numpy(), np.float64) for w in
                                       (norm.gamma, norm.beta, norm.moving_mean, norm.moving_variance))
        scale = gamma / np.sqrt(variance + norm.epsilon)
        self.kernel = (np.asarray(conv.kernel.numpy(), np.float64) * scale).astype(np.float32)
        self.bias = (beta - mean * scale).astype(np.float32)
        self.stride = conv.strides[0]
        self.padding = conv.padding.upper()

    def __call__(self, x):
        return tf.nn.conv2d(x, self.kernel, self.stride, self.padding) + self.bias

    def input_gradient(self, gradient, size: int):
        """d loss / d input (n, size, size, in) from d loss / d output (n, h, h, out)."""
        k, s, out = self.kernel.shape[0], self.stride, gradient.shape[1]
        if out == 1 and k == size and self.padding == "VALID":  # a dense layer over the whole input
            flat = self.kernel.reshape(-1, self.kernel.shape[3])
            return tf.reshape(tf.reshape(gradient, [-1, flat.shape[1]]) @ flat.T, [-1, k, k, self.kernel.shape[2]])
        # The forward pass padded its input by `before` on the top/left ("SAME").
        before = max((out - 1) * s + k - size, 0) // 2 if self.padding == "SAME" else 0
        kernel, low = _phase_kernel(self.kernel, s, before)
        high = -(-size // s) + kernel.shape[0] - 1 - out - low  # for ceil(size / s) pixels per phase
        padded = tf.pad(gradient, [[0, 0], [low, high], [low, high], [0, 0]])
        phases = tf.nn.conv2d(padded, kernel, 1, "VALID")  # (n, out, out, s * s * in)
        return (phases if s == 1 else tf.nn.depth_to_space(phases, s))[:, :size, :size]


def _phase_kernel(kernel: np.ndarray, stride: int, before: int) -> tuple[np.ndarray, int]:
    """The input gradient of a convolution as one stride-1 convolution of its output
    gradient: kernel float32 (t, t, out, stride * stride * in), and how far its taps
    reach before the pixel (the gradient's padding on the top and left).

    Input pixel ``p = stride * m + r`` received ``kernel[i]`` times output pixel ``q``
    where ``p = stride * q + i - before``; so its gradient is a correlation over the
    output gradient at ``m + d`` with ``kernel[r + before - stride * d]``, one set of taps
    per phase ``r``. The phases go to channels, in ``depth_to_space``'s order, which
    puts them back in place: no multiplications by the zeros between strided outputs.
    For stride 1 this is the kernel flipped, its channels swapped.
    """
    k, _, channels_in, channels_out = kernel.shape
    offsets = [d for r in range(stride) for d in range(-k, k + 1) if 0 <= r + before - stride * d < k]
    low = -min(offsets)
    taps = max(offsets) + low + 1
    phase = np.zeros((taps, taps, channels_out, stride, stride, channels_in), np.float32)
    for t_y in range(taps):
        for t_x in range(taps):
            for r in range(stride):
                for c in range(stride):
                    i, j = r + before - stride * (t_y - low), c + before - stride * (t_x - low)
                    if 0 <= i < k and 0 <= j < k:
                        phase[t_y, t_x, :, r, c] = kernel[i, j].T
    return phase.reshape(taps, taps, channels_out, stride * stride * channels_in), low


class _Member:
    def __init__(self, member: keras.Model):
        convs = [layer for layer in member.layers if isinstance(layer, keras.layers.Conv2D)]
        norms = [layer for layer in member.layers if isinstance(layer, keras.layers.BatchNormalization)]
        if len(convs) != len(norms):
            raise ValueError(f"{member.name}: expected a BatchNorm after every convolution")
        self.convolutions = [_Convolution(c, n) for c, n in zip(convs, norms)]
        dense = next(layer for layer in member.layers if isinstance(layer, keras.layers.Dense))
        self.dense_kernel = dense.kernel.numpy().astype(np.float32)
        self.dense_bias = dense.bias.numpy().astype(np.float32)

    def forward(self, images):
        """(n, 28, 28, 1) -> logits (n, 10), features (n, d), and each convolution's
        (input size, pre-activation) for the backward pass."""
        x, saved = images, []
        for conv in self.convolutions:
            z = conv(x)
            saved.append((x.shape[1], z))
            x = tf.nn.relu(z)
        features = tf.reshape(x, [-1, self.dense_kernel.shape[0]])
        return features @ self.dense_kernel + self.dense_bias, features, saved

    def backward(self, saved, logits_gradient):
        """d loss / d logits (n, 10) -> d loss / d images (n, 28, 28, 1)."""
        g = logits_gradient @ self.dense_kernel.T
        g = tf.reshape(g, [-1, *saved[-1][1].shape[1:]])
        for conv, (size, z) in zip(reversed(self.convolutions), reversed(saved)):
            g = conv.input_gradient(g * tf.cast(z > 0, tf.float32), size)
        return g


class _Exported(tf.Module):
    def __init__(self, model: keras.Model):
        super().__init__()
        self.members = [_Member(layer) for layer in model.layers if isinstance(layer, keras.Model)]

    def _forward(self, images):
        x = tf.reshape(images, [-1, 28, 28, 1])
        passes = [member.forward(x) for member in self.members]
        logits = tf.add_n([p[0] for p in passes]) / len(passes)
        features = tf.concat([p[1] for p in passes], axis=1) if len(passes) > 1 else passes[0][1]
        return logits, features, [p[2] for p in passes]

    def _input_gradient(self, saved, weights):
        share = weights / len(self.members)  # the logits are the members' mean
        g = tf.add_n([m.backward(s, share) for m, s in zip(self.members, saved)])
        return tf.reshape(g, [-1, 28, 28])

    @tf.function(input_signature=[_IMAGES])
    def read(self, images):
        logits, features, _ = self._forward(images)
        return {"logits": logits, "features": features}

    @tf.function(input_signature=[_IMAGES])
    def explain(self, images):
        logits, features, saved = self._forward(images)
        top = tf.one_hot(tf.argmax(logits, axis=1), NUM_CLASSES)
        return {"logits": logits, "features": features, "gradient": self._input_gradient(saved, top)}

    @tf.function(input_signature=[_IMAGES, _WEIGHTS])
    def gradient(self, images, weights):
        _, _, saved = self._forward(images)
        return {"gradient": self._input_gradient(saved, weights)}


def export_network(model: keras.Model) -> bytes:
    """The LiteRT flatbuffer of the ensemble ``model`` (``model.build_ensemble``):
    signatures read, explain and gradient (see ``mnist_app.network``), builtin ops only."""
    exported = _Exported(model)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [exported.read.get_concrete_function(), exported.explain.get_concrete_function(),
         exported.gradient.get_concrete_function()], exported)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()

