"""Fuzzing the paths every user file and drawing goes through: decoding, ink,
segmentation, 28x28. No input may raise anything but ImageError (whose message is
shown to the user), and whatever decodes must come out well-formed."""

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from mnist_app.images import ImageError, decode_image
from mnist_app.preprocess import ink_from_picture
from mnist_app.segmentation import segment_digits

FORMATS = ["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM", "ICO"]


def read_as_the_app_does(data: bytes):
    """decode -> ink -> digits; returns the crops, or the ImageError message."""
    try:
        rgba = decode_image(data)
    except ImageError as exc:
        assert str(exc), "an ImageError needs a message for the user"
        return str(exc)
    assert rgba.dtype == np.uint8 and rgba.ndim == 3 and rgba.shape[2] == 4
    crops = segment_digits(ink_from_picture(rgba))
    for crop in crops:
        assert crop.image.shape == (28, 28) and crop.image.dtype == np.float32
        assert 0.0 <= crop.image.min() and crop.image.max() <= 1.0
    return crops


def seed_files() -> list[bytes]:
    """Valid files of a small digit-like drawing in every format Pillow writes here."""
    image = np.zeros((40, 60, 3), np.uint8)
    image[8:32, 10:14] = 255
    image[8:12, 30:50] = 200
    image[8:32, 46:50] = 200
    files = []
    for fmt in FORMATS:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, fmt)
        files.append(buffer.getvalue())
    return files


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    raw = bytearray(data)
    kind = rng.integers(0, 5)
    if kind == 0:  # flip random bits
        for _ in range(int(rng.integers(1, 20))):
            raw[int(rng.integers(0, len(raw)))] ^= 1 << int(rng.integers(0, 8))
    elif kind == 1:  # truncate
        raw = raw[: int(rng.integers(0, len(raw)))]
    elif kind == 2:  # overwrite a run with random bytes
        start = int(rng.integers(0, len(raw)))
        raw[start : start + 16] = rng.integers(0, 256, 16, dtype=np.uint8).tobytes()
    elif kind == 3:  # duplicate a slice
        a, b = sorted(int(v) for v in rng.integers(0, len(raw), 2))
        raw = raw[:b] + raw[a:b] + raw[b:]
    else:  # header numbers set to extremes (dimensions, lengths)
        for _ in range(4):
            i = int(rng.integers(0, min(len(raw), 64)))
            raw[i] = int(rng.choice([0, 0xFF, 0x7F, 0x80]))
    return bytes(raw)


def test_valid_files_of_every_format_decode():
    for fmt, data in zip(FORMATS, seed_files()):
        crops = read_as_the_app_does(data)
        assert isinstance(crops, list), f"{fmt}: {crops}"


def test_thousands_of_mutated_files_never_raise_anything_but_image_error():
    rng = np.random.default_rng(7)
    seeds = seed_files()
    outcomes = {"decoded": 0, "refused": 0}
    for i in range(1200):
        result = read_as_the_app_does(mutate(seeds[i % len(seeds)], rng))
        outcomes["decoded" if isinstance(result, list) else "refused"] += 1
    print(outcomes)
    # The mutations must really exercise both outcomes.
    assert outcomes["decoded"] > 100 and outcomes["refused"] > 100


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_arbitrary_bytes(data):
    read_as_the_app_does(data)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 200), st.integers(1, 200), st.sampled_from([1, 3, 4]),
    st.integers(0, 2**32 - 1), st.sampled_from(["noise", "sparse", "flat", "lines"]),
)
def test_arbitrary_pixels_through_ink_and_segmentation(height, width, channels, seed, kind):
    rng = np.random.default_rng(seed)
    if kind == "noise":
        image = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    elif kind == "sparse":
        image = (rng.random((height, width, channels)) > 0.97).astype(np.uint8) * 255
    elif kind == "flat":
        image = np.full((height, width, channels), rng.integers(0, 256), np.uint8)
    else:
        image = np.zeros((height, width, channels), np.uint8)
        image[:, :: max(1, width // 5)] = 255
    image = image[..., 0] if channels == 1 else image
    for crop in segment_digits(ink_from_picture(image)):
        assert crop.image.shape == (28, 28)
        assert np.isfinite(crop.image).all()


@pytest.mark.parametrize("size", [(1, 1), (1, 5000), (5000, 1)])
def test_degenerate_image_sizes(size):
    buffer = io.BytesIO()
    Image.new("L", size, 255).save(buffer, "PNG")
    assert read_as_the_app_does(buffer.getvalue()) == []


def test_the_canvas_png_decodes_as_pillow_reads_it_and_anything_else_as_any_file():
    from mnist_app.images import decode_canvas_png
    from tests.strokes import render_strokes

    stroke = [(120.0, 60.0), (150.0, 120.0), (140.0, 220.0), (200.0, 250.0)]
    drawing = render_strokes([stroke], size=(560, 320), width=18)  # RGBA, as the canvas sends
    # Translucent edges too: OpenCV must not premultiply or reorder anything.
    drawing[..., 3] = np.where(drawing[..., 0] > 0, 255, 0).astype(np.uint8)
    drawing[0, 0] = (10, 20, 30, 40)
    buffer = io.BytesIO()
    Image.fromarray(drawing, "RGBA").save(buffer, format="PNG")
    png = buffer.getvalue()
    np.testing.assert_array_equal(decode_canvas_png(png), np.asarray(Image.open(io.BytesIO(png))))
    for data in seed_files():  # not an RGBA PNG: read as any file the user gives
        assert np.array_equal(decode_canvas_png(data), decode_image(data))
    with pytest.raises(ImageError):
        decode_canvas_png(b"not an image at all")
