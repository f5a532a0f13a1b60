"""Shared fixtures: the real MNIST data and the real shipped model, loaded once per run."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def mnist():
    from mnist_app.data import load_mnist

    return load_mnist()


@pytest.fixture(scope="session")
def mnist_test(mnist):
    """x: float32 (10000, 28, 28) in [0, 1]; y: uint8 (10000,)."""
    _, (x, y) = mnist
    return x.astype(np.float32) / 255, y


@pytest.fixture(scope="session")
def model():
    from mnist_app.model import load_model

    return load_model()
