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


# --- Browser tests: one app server and one Chromium per test module ------------------

@pytest.fixture(scope="module")
def feedback_db(tmp_path_factory):
    """A fresh feedback database path for the module's app server."""
    return tmp_path_factory.mktemp("feedback") / "feedback.sqlite3"


@pytest.fixture(scope="module")
def server(request, feedback_db):
    """``streamlit run app.py`` on a free port, answers stored in ``feedback_db``; yields
    the base URL. The log is test-artifacts/<module>-server.log; a module's ``SERVER_ENV``
    dict adds to the server's environment. BROWSER_TEST_APP runs another script
    instead, only to debug a browser test."""
    from tests.browser_support import streamlit_server

    app = os.environ.get("BROWSER_TEST_APP", "app.py")
    log_name = request.module.__name__.rsplit(".", 1)[-1]
    env = {"MNIST_FEEDBACK_DB": str(feedback_db), **getattr(request.module, "SERVER_ENV", {})}
    with streamlit_server(app=app, env=env, log_name=log_name) as app_server:
        yield app_server.url


@pytest.fixture(scope="module")
def browser(server):
    """Headless Debian Chromium, started once the module's server is up."""
    from tests.browser_support import chromium

    with chromium() as b:
        yield b
