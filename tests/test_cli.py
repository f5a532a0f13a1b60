import json
import subprocess
import sys

import numpy as np

from tests.conftest import ROOT


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "mnist_app", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_evaluate_json_matches_the_model(model, mnist_test):
    from mnist_app.model import predict_probabilities

    result = run_cli("evaluate", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    x, y = mnist_test
    predicted = predict_probabilities(model, x).argmax(axis=1)
    assert report["n"] == 10000
    assert report["accuracy"] == float((predicted == y).mean())
    confusion = np.array(report["confusion"])
    assert confusion.shape == (10, 10)
    assert (confusion.sum(axis=1) == np.bincount(y, minlength=10)).all()
    assert confusion[3, 5] == int(((y == 3) & (predicted == 5)).sum())


def test_evaluate_without_a_model_says_what_to_do(tmp_path):
    result = run_cli("evaluate", "--model", str(tmp_path / "absent.keras"))
    assert result.returncode == 2
    assert "train_model.py" in result.stderr
    assert "Traceback" not in result.stderr
