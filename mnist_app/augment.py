"""Training-time augmentation: making MNIST look like the way people really write.

Two kinds:
- ``augmentation_layers``: random geometry (rotation, shear, zoom, shift, elastic
  distortion) and stroke thickness, as Keras layers active only in training.
- ``add_writing_styles``: extra training digits in styles MNIST lacks but users
  write (a 7 with a crossbar, a 1 with a flag and a base), drawn onto MNIST digits
  and renormalised through the app's own ``to_mnist_28``.
"""

from __future__ import annotations

import cv2
import keras
import numpy as np
import tensorflow as tf

from mnist_app.preprocess import ink_bbox, to_mnist_28


class RandomStrokeWidth(keras.layers.Layer):
    """Randomly thins or thickens strokes, per image, in training only.

    Grey-level dilation (3x3 max) thickens by up to ~2 px, erosion (3x3 min) thins;
    each image blends towards one of them by a random amount, so widths vary
    continuously from thin pen lines to fat canvas strokes.
    Input and output: float32 (n, 28, 28, 1) in [0, 1].
    """

    def __init__(self, max_thicken=1.0, max_thin=0.6, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.max_thicken, self.max_thin = max_thicken, max_thin
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if not training:
            return images
        ops = keras.ops
        n = tf.shape(images)[0]
        dilated = ops.nn.max_pool(images, 3, strides=1, padding="same")
        eroded = -ops.nn.max_pool(-images, 3, strides=1, padding="same")
        amount = keras.random.uniform((n, 1, 1, 1), -1.0, 1.0, seed=self.seed_generator)
        thicken = ops.maximum(amount, 0.0) * self.max_thicken
        thin = ops.maximum(-amount, 0.0) * self.max_thin
        return images + thicken * (dilated - images) + thin * (eroded - images)

    def get_config(self):
        return {**super().get_config(), "max_thicken": self.max_thicken, "max_thin": self.max_thin}


class RandomWarp(keras.layers.Layer):
    """Random affine + elastic distortion in one resampling, per image, in training only.

    Rotation, shear (slanted writing), zoom and shift are combined into one affine
    map, plus a smooth random displacement field (elastic distortion, Simard et al.
    2003), and the image is sampled once with bilinear interpolation: chaining
    separate Keras Random* layers resamples four times and blurs the strokes.
    Input and output: float32 (n, 28, 28, 1) in [0, 1].
    """

    def __init__(self, rotation_deg=12.0, shear=0.3, zoom=0.12, shift_px=2.5,
                 elastic_alpha=1.5, elastic_sigma=3.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rotation_deg, self.shear, self.zoom, self.shift_px = rotation_deg, shear, zoom, shift_px
        self.elastic_alpha, self.elastic_sigma = elastic_alpha, elastic_sigma
        self.seed_generator = keras.random.SeedGenerator(seed)
        radius = int(2 * elastic_sigma)
        taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / elastic_sigma) ** 2)
        kernel = np.outer(taps, taps) / np.outer(taps, taps).sum()
        # (kh, kw, in_channels=2, multiplier=1) for a depthwise blur of the (dx, dy) field.
        self.blur_kernel = np.repeat(kernel[:, :, None, None], 2, axis=2).astype("float32")

    def call(self, images, training=None):
        if not training:
            return images
        ops = keras.ops
        n, size = tf.shape(images)[0], 28

        def uniform(low, high):
            return keras.random.uniform((n, 1, 1), low, high, seed=self.seed_generator)

        angle = uniform(-1.0, 1.0) * np.deg2rad(self.rotation_deg)
        shear = uniform(-self.shear, self.shear)
        scale = 1.0 + uniform(-self.zoom, self.zoom)
        tx, ty = uniform(-self.shift_px, self.shift_px), uniform(-self.shift_px, self.shift_px)
        # Output pixel (x, y), centred, maps back to the input point A^-1 (x - t).
        centre = (size - 1) / 2
        grid_y, grid_x = np.mgrid[0:size, 0:size].astype("float32") - centre
        x = (grid_x[None] - tx) / scale
        y = (grid_y[None] - ty) / scale
        cos, sin = ops.cos(angle), ops.sin(angle)
        src_x = cos * x + sin * y
        src_y = -sin * x + cos * y
        src_x = src_x - shear * src_y  # horizontal shear slants vertical strokes
        noise = keras.random.uniform((n, size, size, 2), -1.0, 1.0, seed=self.seed_generator)
        field = ops.depthwise_conv(noise, self.blur_kernel, padding="same") * (
            self.elastic_alpha * self.elastic_sigma
        )
        src_x = src_x + field[..., 0] + centre
        src_y = src_y + field[..., 1] + centre
        warped = _bilinear_sample(images[..., 0], src_x, src_y)
        return warped[..., None]

    def get_config(self):
        return {
            **super().get_config(),
            "rotation_deg": self.rotation_deg, "shear": self.shear, "zoom": self.zoom,
            "shift_px": self.shift_px, "elastic_alpha": self.elastic_alpha,
            "elastic_sigma": self.elastic_sigma,
        }


def _bilinear_sample(images, x, y):
    """Sample float32 (n, h, w) ``images`` at float (n, h, w) points ``x, y``;
    points outside the image read 0 (background)."""
    n, h, w = tf.shape(images)[0], tf.shape(images)[1], tf.shape(images)[2]
    x0, y0 = tf.floor(x), tf.floor(y)
    batch = tf.broadcast_to(tf.reshape(tf.range(n), (-1, 1, 1)), tf.shape(x))
    result = tf.zeros_like(x)
    for dx in (0, 1):
        for dy in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            weight = (1 - tf.abs(x - xi)) * (1 - tf.abs(y - yi))
            inside = (xi >= 0) & (xi <= tf.cast(w - 1, x.dtype)) & (yi >= 0) & (yi <= tf.cast(h - 1, y.dtype))
            xi_c = tf.clip_by_value(tf.cast(xi, tf.int32), 0, w - 1)
            yi_c = tf.clip_by_value(tf.cast(yi, tf.int32), 0, h - 1)
            values = tf.gather_nd(images, tf.stack([batch, yi_c, xi_c], axis=-1))
            result += tf.where(inside, weight * values, 0.0)
    return result


def augmentation_layers(seed: int) -> keras.Sequential:
    """Random transforms for ``(n, 28, 28, 1)`` float32 batches, active in training only:
    one combined affine + elastic warp, then a random stroke width."""
    return keras.Sequential([RandomWarp(seed=seed), RandomStrokeWidth(seed=seed + 1)], name="augmentation")


def _line(image: np.ndarray, p0, p1, width: float) -> None:
    """Draw an anti-aliased line on float32 (28, 28) ``image`` in place, ink = 1."""
    shift = 4  # cv2 fixed-point sub-pixel coordinates
    a = tuple(int(round(v * (1 << shift))) for v in p0)
    b = tuple(int(round(v * (1 << shift))) for v in p1)
    canvas = np.zeros((28, 28), np.uint8)
    cv2.line(canvas, a, b, 255, max(1, int(round(0.8 * width))), cv2.LINE_AA, shift)
    np.maximum(image, canvas.astype(np.float32) / 255, out=image)


def _stroke_width(image: np.ndarray) -> float:
    """Stroke width in px of a float32 (28, 28) digit, about twice the largest
    distance from an ink pixel to the background."""
    mask = (image > 0.3).astype(np.uint8)
    if not mask.any():
        return 2.0
    distance = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    return float(np.clip(2 * np.percentile(distance[mask > 0], 90), 1.0, 4.0))


def add_crossbar(seven: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 7 with a crossbar through its stem (the continental 7).

    seven: float32 (28, 28) in [0, 1], an MNIST 7. Returns float32 (28, 28), renormalised.
    """
    image = seven.copy()
    x, y, w, h = ink_bbox(image)
    row = int(round(y + h * rng.uniform(0.45, 0.6)))
    cols = np.nonzero(image[row] > 0.3)[0]
    stem_x = float(cols.mean()) if len(cols) else x + w / 2
    half = rng.uniform(3.0, 5.0)
    tilt = rng.uniform(-1.0, 1.0)
    _line(image, (stem_x - half, row + tilt), (stem_x + half, row - tilt), _stroke_width(seven))
    return to_mnist_28(image)


def add_flag_and_base(one: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 1 with a flag at the top and, half the time, a base line.

    one: float32 (28, 28) in [0, 1], an MNIST 1. Returns float32 (28, 28), renormalised.
    """
    image = one.copy()
    width = _stroke_width(one)
    x, y, w, h = ink_bbox(image)
    top_cols = np.nonzero(image[y] > 0.2)[0]
    top_x = float(top_cols.mean()) if len(top_cols) else x + w / 2
    length = h * rng.uniform(0.2, 0.6)  # up to the long flag of a continental 1
    angle = np.deg2rad(rng.uniform(25, 60))  # below horizontal, pointing left
    _line(image, (top_x, y), (top_x - length * np.cos(angle), y + length * np.sin(angle)), width)
    if rng.random() < 0.5:
        bottom = y + h - 1
        bottom_cols = np.nonzero(image[bottom] > 0.2)[0]
        bottom_x = float(bottom_cols.mean()) if len(bottom_cols) else x + w / 2
        half = h * rng.uniform(0.15, 0.25)
        _line(image, (bottom_x - half, bottom), (bottom_x + half, bottom), width)
    return to_mnist_28(image)


def add_slash(zero: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 0 struck through by a slash, as many engineers and continental writers tell it
    from the letter O: through its centre, rising to the right and flatter than the
    ring's own axis (a slash along the axis of a leaning ring would fill it).

    zero: float32 (28, 28) in [0, 1], an MNIST 0. Returns float32 (28, 28), renormalised.
    """
    moments = cv2.moments(zero)
    centre = np.array([moments["m10"], moments["m01"]]) / max(moments["m00"], 1e-6)
    # Angles counter-clockwise from the x axis with y pointing up, in degrees.
    ring_axis = np.rad2deg(0.5 * np.arctan2(-2 * moments["mu11"], moments["mu20"] - moments["mu02"])) % 180
    slash = np.deg2rad(np.clip(ring_axis - rng.uniform(30, 50), 15, 70))
    direction = np.array([np.cos(slash), -np.sin(slash)])
    ys, xs = np.nonzero(zero > 0.3)
    reach = np.abs((np.stack([xs, ys], axis=1) - centre) @ direction).max()  # the ring's, along the slash
    along = reach * rng.uniform(1.0, 1.25) * direction
    image = zero.copy()
    _line(image, tuple(centre - along), tuple(centre + along), 0.8 * _stroke_width(zero))
    return to_mnist_28(image)


def stem_on_the_left(nine: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """A 9 whose stem hangs from the left of its loop, like a "P" (as some continental
    writers make it): the 9 mirrored, its lean taken out and a small one put back.

    nine: float32 (28, 28) in [0, 1], an MNIST 9. Returns float32 (28, 28), renormalised,
    or None for a 9 whose loop is open (mirrored, it looks like a "?", or a 2 or 7).
    """
    background = (nine <= 0.3).astype(np.uint8)
    if cv2.connectedComponents(background, connectivity=4)[0] - 1 < 2:  # no hole: the loop is open
        return None
    image = np.ascontiguousarray(nine[:, ::-1])
    moments = cv2.moments(image)
    if moments["mu02"] < 1e-6:
        return to_mnist_28(image)
    # x shift per unit of height (y down): the mirrored 9's lean, taken out, and one of 0-0.25
    # to the right (its foot left of its top) put in.
    shear = moments["mu11"] / moments["mu02"] + rng.uniform(0.0, 0.25)
    centre_y = moments["m01"] / moments["m00"]
    upright = cv2.warpAffine(image, np.float32([[1, -shear, shear * centre_y], [0, 1, 0]]), (28, 28),
                             flags=cv2.INTER_LINEAR, borderValue=0)
    return to_mnist_28(upright)


def add_writing_styles(
    images: np.ndarray, labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Extra training digits in writing styles MNIST rarely has.

    images: uint8 (n, 28, 28); labels: uint8 (n,). For ``fraction`` of the 7s a
    crossbar copy, of the 1s a flag (and base) copy, of the 0s a slashed copy and of the
    9s a copy with the stem on the left is made.
    Returns the new digits only: uint8 (m, 28, 28), uint8 (m,).
    """
    rng = np.random.default_rng(seed)
    makers = {7: add_crossbar, 1: add_flag_and_base, 0: add_slash, 9: stem_on_the_left}
    new_images, new_labels = [], []
    for digit, make in makers.items():
        indices = np.nonzero(labels == digit)[0]
        chosen = rng.choice(indices, size=int(len(indices) * fraction), replace=False)
        for i in chosen:
            styled = make(images[i].astype(np.float32) / 255, rng)
            if styled is None:  # a digit this style does not suit
                continue
            new_images.append(np.round(styled * 255).astype(np.uint8))
            new_labels.append(digit)
    if not new_images:
        return np.zeros((0, 28, 28), np.uint8), np.zeros((0,), np.uint8)
    return np.stack(new_images), np.array(new_labels, np.uint8)
