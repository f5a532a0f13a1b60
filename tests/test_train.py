import json
import subprocess
import sys

import numpy as np
from PIL import Image

from mnist_app.evaluation import CALIBRATION_SETS, available_sets
from mnist_app.feedback import FeedbackStore
from tests.conftest import ROOT


def test_quick_training_writes_a_loadable_model_and_a_report(tmp_path, mnist, postgres_url):
    """One quick training (a minute): the model, its report, and users' accepted answers
    from a PostgreSQL store in its training split, their held-out accuracy reported apart."""
    _, (x_test, y_test) = mnist
    store = FeedbackStore(postgres_url)
    for i in range(20):  # MNIST test digits standing in for users' answers, accepted by the operator
        store.set_review(store.add(x_test[i], int(y_test[i]), int(y_test[i]), np.eye(10)[y_test[i]], "v", "draw"),
                         "accepted")
    store.add(x_test[20], int(y_test[20]), int(y_test[20]), np.eye(10)[y_test[20]], "v", "draw")  # not reviewed
    result = subprocess.run(
        [sys.executable, "train_model.py", "--quick", "--out", str(tmp_path), "--seed", "7", "--paper-repeat", "1",
         "--include-feedback", postgres_url],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test accuracy" in result.stdout
    assert "16 user digits" in result.stdout and "4 held out" in result.stdout

    from mnist_app.model import load_model, logits_model, predict_probabilities

    model = load_model(tmp_path / "model.keras")
    x = np.zeros((2, 28, 28), np.float32)
    assert predict_probabilities(model, x).shape == (2, 10)
    assert logits_model(model)(x).shape == (2, 10)
    from mnist_app.network import Network, model_version

    digits = x_test[:300].astype(np.float32) / 255  # the exported network the app reads with reads as Keras
    np.testing.assert_allclose(Network.from_file(tmp_path / "model.keras").read(digits)[0],
                               logits_model(model)(digits).numpy(), atol=1e-4)

    report = json.loads((tmp_path / "report.json").read_text())
    assert 0.0 <= report["test"]["accuracy"] <= 1.0
    assert report["test"]["n"] == 10000
    assert len(report["test"]["confusion"]) == 10
    assert {"precision", "recall", "f1"} <= set(report["test"]["per_class"][3])
    assert report["training"]["quick"] is True
    assert isinstance(report["calibration"]["min_top_logit"], float)
    assert report["network"]["exported_from"] == model_version(tmp_path / "model.keras")
    from mnist_app.inference import Recognizer

    recognizer = Recognizer.from_file(tmp_path / "model.keras")  # with the feature statistics written beside it
    assert recognizer.density is not None and report["calibration"]["max_feature_distance"] > 0
    assert recognizer.temperature == report["calibration"]["temperature"]
    assert recognizer.unsure_below == report["calibration"]["unsure_below"]
    probabilities, top_logits, features = recognizer.classify(x)
    assert features.shape == (2, 128) and recognizer.looks_like_digit(top_logits, features).shape == (2,)
    assert report["training"]["seed"] == 7
    assert 0.25 <= report["calibration"]["temperature"] <= 10 and 0.5 <= report["calibration"]["unsure_below"] <= 0.99
    assert all(report["calibration"]["held_out"][name]["n"] == 200 for name in CALIBRATION_SETS)
    assert report["training"]["paper_digits"] >= 590  # 300 USPS and 300 kensanata16 scans, nearly all read as one
    assert set(report["sets"]) == set(available_sets())
    assert all(report["sets"][name]["n"] == 200 and 0 <= report["sets"][name]["wrong_but_sure"] <= 1
               for name in report["sets"])
    assert len(report["training"]["history"][0]["val_accuracy"]) == report["training"]["epochs_run"][0]
    assert set(report["versions"]) >= {"tensorflow", "keras", "numpy"}
    assert report["data_md5"]["t10k-labels-idx1-ubyte.gz"] == "27ae3e4e09519cfbb04c329615203637"
    curves = Image.open(tmp_path / "training_curves.png")
    assert curves.size[0] >= 800

    feedback = report["feedback"]
    assert feedback["db"] == str(store.path) and "***" in feedback["db"]  # no password in the report
    assert feedback["train"] == 16  # ids 5, 10, 15, 20 are held out
    held_out = feedback["held_out"]
    assert held_out["n"] == 4 and 0.0 <= held_out["accuracy"] <= 1.0
    assert np.array(held_out["confusion"]).sum(axis=1)[y_test[[4, 9, 14, 19]]].all()
    # MNIST's training digits (plus styled copies), pen renders and 16 user digits repeated.
    training = report["training"]
    assert training["train_size"] == (2000 + training["styled_extra"] + training["pen_renders"] + training["paper_scans"]
                                      + 16 * feedback["repeat"])


def test_fine_tuning_starts_from_the_saved_model_and_says_so(tmp_path):
    """--fine-tune: the shipped model, trained on a little more (one quick epoch), keeps the
    members --keep names, in that order, and the report names where it started and the
    command that made it."""
    result = subprocess.run(
        [sys.executable, "train_model.py", "--quick", "--out", str(tmp_path), "--fine-tune", "assets/model.keras",
         "--keep", "2", "0", "--epochs", "1", "--lr", "1e-5", "--paper-repeat", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    from mnist_app.model import ensemble_members, load_model
    from mnist_app.network import model_version

    assert report["training"]["fine_tuned_from"] == {"model": "assets/model.keras",
                                                     "version": model_version(ROOT / "assets" / "model.keras")}
    assert "--fine-tune assets/model.keras --keep 2 0" in report["training"]["command"]
    assert json.loads((ROOT / "assets" / "report.json").read_text())["architecture"]["members"] == 3
    shipped = [member.name for member in ensemble_members(load_model(ROOT / "assets" / "model.keras"))]
    assert [member.name for member in ensemble_members(load_model(tmp_path / "model.keras"))] == [shipped[2], shipped[0]]
    assert report["architecture"]["members"] == 2 and report["training"]["epochs_run"] == [1, 1]
    # A small step from the shipped model still reads MNIST as it did (200 test digits).
    assert report["sets"]["mnist"]["accuracy"] >= 0.98


def test_keep_without_a_saved_ensemble_is_refused_with_a_message(tmp_path):
    """--keep names members of a saved ensemble; alone it would be silently ignored."""
    result = subprocess.run([sys.executable, "train_model.py", "--quick", "--keep", "0", "--out", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "--keep takes members of a saved ensemble" in result.stderr
    assert "Traceback" not in result.stderr
    past = subprocess.run([sys.executable, "train_model.py", "--quick", "--fine-tune", "assets/model.keras",
                           "--keep", "0", "7", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert past.returncode != 0 and "--keep 7: assets/model.keras has 3 members" in past.stderr
    assert "Traceback" not in past.stderr


def test_growing_from_two_saved_ensembles_keeps_the_members_named(tmp_path):
    """--grow with two saved ensembles: --keep counts their members in order, one list;
    members of the same name are refused with a message, not a traceback."""
    shipped = str(ROOT / "assets" / "model.keras")
    clash = subprocess.run([sys.executable, "train_model.py", "--quick", "--out", str(tmp_path / "clash"),
                            "--grow", shipped, shipped], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert clash.returncode != 0 and "must have different names" in clash.stderr
    assert "Traceback" not in clash.stderr
    result = subprocess.run([sys.executable, "train_model.py", "--quick", "--out", str(tmp_path), "--grow", shipped,
                             shipped, "--keep", "4", "0", "--members", "2"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    from mnist_app.model import ensemble_members, load_model

    names = [member.name for member in ensemble_members(load_model(shipped))]
    assert [member.name for member in ensemble_members(load_model(tmp_path / "model.keras"))] == [names[1], names[0]]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["training"]["grown_from"] == f"{shipped}, {shipped}"
    assert len(report["training"]["history"]) == 2
