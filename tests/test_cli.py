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


def test_teach_stores_each_digit_in_the_profile_and_reports_bad_files(tmp_path, mnist_test, store_location):
    from PIL import Image

    from mnist_app.feedback import FeedbackStore

    x, y = mnist_test
    sevens = [i for i in range(200) if y[i] == 7][:2]
    files = []
    for n, i in enumerate(sevens):
        files.append(tmp_path / f"seven{n}.png")
        Image.fromarray(np.pad(255 - np.round(x[i] * 255).astype(np.uint8), 20, constant_values=255)).save(files[-1])
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    blank = tmp_path / "blank.png"
    Image.new("L", (80, 80), 255).save(blank)
    result = subprocess.run([sys.executable, "-m", "mnist_app", "teach", "--profile", "ann", "--label", "7",
                             str(files[0]), str(broken), str(blank), str(files[1])], cwd=ROOT,
                            capture_output=True, text=True, timeout=300,
                            env={**__import__("os").environ, "MNIST_FEEDBACK_DB": str(store_location)})
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "broken.png" in result.stderr and "blank.png: no digit found" in result.stderr
    assert result.stdout.count("stored as a 7 in profile ann") == 2
    answers = FeedbackStore(store_location).list_answers(newest_first=False)
    assert [(a.profile, a.label, a.source) for a in answers] == [("ann", 7, "photo")] * 2
    assert all(a.predicted == 7 for a in answers)  # clear MNIST 7s, read right


def test_teach_refuses_a_bad_profile_name(tmp_path):
    result = run_cli("teach", "--profile", "../etc", "--label", "7", str(tmp_path / "x.png"))
    assert result.returncode == 2 and "profile name" in result.stderr and "Traceback" not in result.stderr
