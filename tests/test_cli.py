import json
import subprocess
import sys

import numpy as np

from tests.conftest import ROOT


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "mnist_app", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_evaluate_json_matches_the_model(model, network, mnist_test):
    from mnist_app.inference import Recognizer
    from mnist_app.model import predict_probabilities

    result = run_cli("evaluate", "--json", "--limit", "3000")  # the whole set: tests/test_real_handwriting.py
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    x, y = mnist_test
    x, y = x[:3000], y[:3000]
    predicted = Recognizer(network).predict(x).argmax(axis=1)  # the exported network, as the app reads
    assert report["n"] == 3000
    assert report["accuracy"] == float((predicted == y).mean())
    keras_accuracy = float((predict_probabilities(model, x).argmax(axis=1) == y).mean())
    assert abs(report["accuracy"] - keras_accuracy) <= 1 / len(y)  # logits alike to ~1e-5: a near tie at most
    confusion = np.array(report["confusion"])
    assert confusion.shape == (10, 10)
    assert (confusion.sum(axis=1) == np.bincount(y, minlength=10)).all()
    assert confusion[3, 5] == int(((y == 3) & (predicted == 5)).sum())


def test_evaluate_reads_the_sets_with_pen_lifts_and_says_when_the_cvl_forms_are_not_here(tmp_path):
    import os

    result = run_cli("evaluate", "--set", "skahl", "--json", "--limit", "60")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["set"] == "skahl" and report["source"] == "canvas" and report["n"] == 60
    assert sum(report["not_one_digit"]) == 0 and report["accuracy"] >= 0.95
    missing = subprocess.run([sys.executable, "-m", "mnist_app", "evaluate", "--set", "cvl"], cwd=ROOT,
                             capture_output=True, text=True, timeout=300,
                             env={**os.environ, "MNIST_CVL_FILE": str(tmp_path / "absent.npz")})
    assert missing.returncode == 2
    assert "cvl" in missing.stderr and "never shipped" in missing.stderr
    assert "Traceback" not in missing.stderr
    writers = subprocess.run([sys.executable, "-m", "mnist_app", "adaptation", "--writers", "cvl"], cwd=ROOT,
                             capture_output=True, text=True, timeout=300,
                             env={**os.environ, "MNIST_CVL_FILE": str(tmp_path / "absent.npz")})
    assert writers.returncode == 2 and "never shipped" in writers.stderr and "Traceback" not in writers.stderr


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


def test_predict_with_a_profile_reads_with_its_examples_and_an_unknown_one_as_none(tmp_path, mnist_test,
                                                                                   monkeypatch, capsys):
    """In this process (the commands' own main, not a fresh interpreter each: the same
    code, without loading TensorFlow three more times)."""
    import cv2
    from PIL import Image

    from mnist_app.__main__ import main
    from mnist_app.images import decode_image
    from mnist_app.inference import Recognizer
    from mnist_app.network import MODEL_PATH
    from mnist_app.photo import crops_from_picture

    recognizer = Recognizer.from_file(MODEL_PATH)
    x, y = mnist_test
    read = recognizer.predict(x[:2000]).argmax(1)
    misread = int(np.flatnonzero(read != y[:2000])[0])  # a real digit the model reads wrong

    def written(angle, name):  # the same writer's digit, written a little differently each time
        turned = cv2.warpAffine(x[misread], cv2.getRotationMatrix2D((13.5, 13.5), angle, 1.0), (28, 28))
        path = tmp_path / name
        Image.fromarray(np.pad(255 - np.round(turned * 255).astype(np.uint8), 20, constant_values=255)).save(path)
        return path

    taught = [written(4, "a.png"), written(-4, "b.png")]
    new = written(1, "new.png")
    monkeypatch.setenv("MNIST_FEEDBACK_DB", str(tmp_path / "feedback.sqlite3"))
    assert main(["teach", "--profile", "ann", "--label", str(y[misread]), *map(str, taught)]) == 0

    capsys.readouterr()
    assert main(["predict", "--json", "--profile", "ann", str(new)]) == 0
    (digit,) = json.loads(capsys.readouterr().out)["digits"]
    assert digit["digit"] == y[misread] and digit["shared_digit"] == read[misread]
    assert len(digit["like_your_examples"]) >= 1

    alone = recognizer.read_many([crops_from_picture(decode_image(new.read_bytes()))])[0].to_json()
    assert main(["predict", "--json", "--profile", "nobody", str(new)]) == 0
    (digit,) = json.loads(capsys.readouterr().out)["digits"]
    assert digit["digit"] == alone["digits"][0]["digit"] == read[misread] and digit["like_your_examples"] == []
    np.testing.assert_allclose(digit["probabilities"], alone["digits"][0]["probabilities"], atol=1e-5)
