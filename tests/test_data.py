import gzip
import shutil

import numpy as np
import pytest

from mnist_app.data import MNIST_DIR, MNIST_FILES, MnistFileError, load_idx, load_mnist, parse_idx


def test_shapes_dtypes_and_labels(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert set(np.unique(y_train)) == set(range(10))
    assert x_train.max() == 255 and x_train.min() == 0
    # Known first labels of the original files.
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert y_test[:5].tolist() == [7, 2, 1, 0, 4]
    # Every digit is well represented (MNIST's smallest class has 5421 training images).
    assert np.bincount(y_train).min() == 5421


def _copy_files(tmp_path):
    for name in MNIST_FILES:
        shutil.copy(MNIST_DIR / name, tmp_path / name)


def _rewrite(path, mutate):
    raw = bytearray(gzip.decompress(path.read_bytes()))
    path.write_bytes(gzip.compress(bytes(mutate(raw))))


def test_a_corrupted_copy_is_refused_naming_the_file(tmp_path):
    _copy_files(tmp_path)
    name = "t10k-images-idx3-ubyte.gz"

    def flip_one_pixel(raw):
        raw[5000] ^= 0xFF
        return raw

    _rewrite(tmp_path / name, flip_one_pixel)
    with pytest.raises(MnistFileError, match=f"{name}.*checksum mismatch"):
        load_mnist(tmp_path)


def test_a_truncated_gzip_is_refused(tmp_path):
    _copy_files(tmp_path)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(MnistFileError, match="train-labels-idx1-ubyte.gz"):
        load_mnist(tmp_path)


def test_a_missing_file_among_present_ones_is_an_error_not_a_fallback(tmp_path):
    _copy_files(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(MnistFileError, match="t10k-labels-idx1-ubyte.gz.*not found"):
        load_mnist(tmp_path)


def test_unverified_load_reads_the_mutated_bytes(tmp_path):
    _copy_files(tmp_path)
    _rewrite(tmp_path / "t10k-labels-idx1-ubyte.gz", lambda raw: raw[:8] + bytes([9]) * 10000)
    labels = load_idx(tmp_path / "t10k-labels-idx1-ubyte.gz")
    assert labels.shape == (10000,) and (labels == 9).all()


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x00\x00", "too short"),
        (b"\x00\x00\x09\x99" + b"\x00" * 8, "unknown IDX magic"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05" + b"\x01" * 3, "promises 5 bytes"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x01\x00\x00\x00\x1c", "truncated"),
    ],
)
def test_malformed_idx_is_refused(raw, message):
    with pytest.raises(MnistFileError, match=message):
        parse_idx(raw)


def test_parse_idx_reads_a_tiny_image_file():
    raw = b"\x00\x00\x08\x03" + (2).to_bytes(4, "big") + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(range(12))
    images = parse_idx(raw)
    assert images.shape == (2, 2, 3) and images.dtype == np.uint8
    assert images[1, 1, 2] == 11
