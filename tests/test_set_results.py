"""What a model read in each measuring set, kept on disk per model version
(``mnist_app.set_results``): the Model page's first visit reads these instead of
thousands of digits."""

import json

import numpy as np
import pytest

from mnist_app import set_results
from mnist_app.evaluation import SETS, evaluate_set, load_set
from mnist_app.inference import Recognizer
from mnist_app.network import MODEL_PATH, REPORT_PATH, model_version


@pytest.fixture(scope="module")
def recognizer():
    return Recognizer.from_file(MODEL_PATH)


def test_results_come_back_as_read_and_only_for_the_model_that_read_them(tmp_path, recognizer):
    read = evaluate_set(recognizer, load_set("mnist", limit=200), baseline=False)["pipeline"]
    path = tmp_path / "mnist.npz"
    set_results.save(read, path, "version-a")
    back = set_results.load(path, "version-a")
    for field in ("labels", "predicted", "confidence", "sure", "probabilities"):
        np.testing.assert_array_equal(getattr(back, field), getattr(read, field))
    assert np.abs(back.images - read.images).max() <= 0.5 / 255 + 1e-6  # kept as uint8
    assert back.summary() == read.summary()
    assert set_results.load(path, "version-b") is None  # another model's reading is never shown
    assert set_results.load(tmp_path / "missing.npz", "version-a") is None
    (tmp_path / "broken.npz").write_bytes(b"not a zip file")
    assert set_results.load(tmp_path / "broken.npz", "version-a") is None


def test_a_model_without_shipped_results_has_them_cached_once_read(tmp_path, monkeypatch, recognizer):
    monkeypatch.setenv(set_results.CACHE_ENV, str(tmp_path / "cache"))
    read = evaluate_set(recognizer, load_set("skahl", limit=50), baseline=False)["pipeline"]
    assert set_results.find("a-retrained-model", "skahl") is None
    set_results.keep(read, "a-retrained-model", "skahl")
    assert set_results.find("a-retrained-model", "skahl").summary() == read.summary()


def test_the_shipped_results_are_the_shipped_models_own_reading():
    """Written with the model (train_model.py, or evaluate --save-results); the same
    figures as its training report, which measured the same path."""
    version = model_version(MODEL_PATH)
    report = json.loads(REPORT_PATH.read_text())
    for name in SETS:
        shipped = set_results.load(set_results.shipped_dir() / f"{name}.npz", version)
        assert shipped is not None, f"assets/set_results/{name}.npz is missing or of another model"
        summary = shipped.summary()
        assert summary["n"] == report["sets"][name]["n"]
        assert summary["accuracy"] == pytest.approx(report["sets"][name]["accuracy"], abs=1e-9), name
        assert summary["confusion"] == report["sets"][name]["confusion"], name
