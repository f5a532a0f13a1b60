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
    """The shipped model in Keras: what training made, for comparing with a plain model.predict."""
    from mnist_app.model import load_model

    return load_model()


@pytest.fixture(scope="session")
def network():
    """The shipped model's exported network, as the app reads with it."""
    from mnist_app.network import Network

    return Network.from_file()


# --- The feedback store on both databases ------------------------------------------------

@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL server for the test session (``tests.postgres_support``).
    Without PostgreSQL's binaries this fails, saying how to install them: the store's
    PostgreSQL tests are never skipped."""
    from tests.postgres_support import INSTALL_HINT, postgres_bin, throwaway_postgres

    if postgres_bin() is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    with throwaway_postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server):
    """The URL of a new, empty database of its own on the session's server; this process's
    pooled connections to it are closed after the test."""
    from mnist_app.feedback import FeedbackStore

    url = postgres_server.create_database()
    yield url
    FeedbackStore(url).close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request, tmp_path):
    """Where a new, empty feedback store is: an SQLite file path (Path), then a PostgreSQL
    database's URL (str); no store is made there yet."""
    if request.param == "sqlite":
        return tmp_path / "feedback.sqlite3"
    return request.getfixturevalue("postgres_url")


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
