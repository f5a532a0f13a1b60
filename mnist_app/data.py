"""Reading the original MNIST files (IDX format, gzip-compressed) into numpy arrays.

The files ship in ``assets/mnist``. Every file is checked against the MD5 of its
*decompressed* bytes, so a truncated or corrupted copy is refused with an error
that names the file, instead of silently training or evaluating on wrong data.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np

from mnist_app import ASSETS_DIR

MNIST_DIR = ASSETS_DIR / "mnist"

# MD5 of the decompressed IDX bytes, as published for the original files.
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
}

IDX_IMAGES_MAGIC = 0x00000803
IDX_LABELS_MAGIC = 0x00000801


class MnistFileError(RuntimeError):
    """A MNIST file is missing, unreadable, corrupted or not in IDX format."""


def read_idx_bytes(path: Path, expected_md5: str | None = None) -> bytes:
    """Decompress one ``.gz`` IDX file and verify the MD5 of its decompressed bytes.

    Raises MnistFileError naming the file when it cannot be read, is not valid gzip,
    or its checksum differs from ``expected_md5``.
    """
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise MnistFileError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise MnistFileError(f"{path}: not a readable gzip file ({exc})") from None
    if expected_md5 is not None:
        actual = hashlib.md5(raw).hexdigest()
        if actual != expected_md5:
            raise MnistFileError(
                f"{path}: checksum mismatch, the file is corrupted or truncated "
                f"(MD5 of decompressed bytes {actual}, expected {expected_md5})"
            )
    return raw


def parse_idx(raw: bytes, name: str = "IDX data") -> np.ndarray:
    """Parse IDX bytes: images -> uint8 (n, rows, cols); labels -> uint8 (n,)."""
    if len(raw) < 8:
        raise MnistFileError(f"{name}: too short to be an IDX file ({len(raw)} bytes)")
    magic, count = struct.unpack(">II", raw[:8])
    if magic == IDX_IMAGES_MAGIC:
        if len(raw) < 16:
            raise MnistFileError(f"{name}: IDX image header is truncated")
        rows, cols = struct.unpack(">II", raw[8:16])
        shape, offset = (count, rows, cols), 16
    elif magic == IDX_LABELS_MAGIC:
        shape, offset = (count,), 8
    else:
        raise MnistFileError(f"{name}: unknown IDX magic number 0x{magic:08x}")
    expected = int(np.prod(shape))
    if len(raw) - offset != expected:
        raise MnistFileError(
            f"{name}: header promises {expected} bytes of data, file holds {len(raw) - offset}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape)


def encode_idx(array: np.ndarray) -> bytes:
    """The inverse of ``parse_idx``: uint8 images (n, rows, cols) or labels (n,) -> IDX bytes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    if array.ndim == 3:
        header = struct.pack(">IIII", IDX_IMAGES_MAGIC, *array.shape)
    elif array.ndim == 1:
        header = struct.pack(">II", IDX_LABELS_MAGIC, len(array))
    else:
        raise ValueError(f"IDX holds images (n, rows, cols) or labels (n,), not shape {array.shape}")
    return header + array.tobytes()


def load_idx(path: Path, expected_md5: str | None = None) -> np.ndarray:
    """Read and verify one IDX file; see ``read_idx_bytes`` and ``parse_idx``."""
    return parse_idx(read_idx_bytes(path, expected_md5), name=str(path))


def load_mnist(directory: Path = MNIST_DIR, verify: bool = True):
    """Load MNIST as ``((x_train, y_train), (x_test, y_test))``.

    Shapes and dtypes: x_train uint8 (60000, 28, 28), y_train uint8 (60000,),
    x_test uint8 (10000, 28, 28), y_test uint8 (10000,); pixel 0 = background, 255 = ink.

    If none of the four files is in ``directory`` it falls back to
    ``keras.datasets.mnist.load_data()`` (which needs internet) and says so on stderr.
    A file that is present but corrupted is always an error, never a fallback.
    """
    directory = Path(directory)
    if not any((directory / name).exists() for name in MNIST_FILES):
        import sys

        print(
            f"MNIST files not found in {directory}; falling back to "
            "keras.datasets.mnist.load_data(), which needs internet access.",
            file=sys.stderr,
        )
        import keras

        return keras.datasets.mnist.load_data()
    arrays = {
        name: load_idx(directory / name, md5 if verify else None)
        for name, md5 in MNIST_FILES.items()
    }
    x_train, y_train = arrays["train-images-idx3-ubyte.gz"], arrays["train-labels-idx1-ubyte.gz"]
    x_test, y_test = arrays["t10k-images-idx3-ubyte.gz"], arrays["t10k-labels-idx1-ubyte.gz"]
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise MnistFileError(f"{directory}: image and label counts differ")
    return (x_train, y_train), (x_test, y_test)


def mnist_md5s(directory: Path = MNIST_DIR) -> dict[str, str]:
    """MD5 of each file's decompressed bytes, for the training report."""
    return {name: hashlib.md5(read_idx_bytes(Path(directory) / name)).hexdigest() for name in MNIST_FILES}
