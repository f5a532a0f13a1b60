"""``train_model.py --include-feedback``: users' digits join the training split, and the
report gives the accuracy on the held-out ones apart from MNIST's."""

import json
import subprocess
import sys

import numpy as np

from mnist_app.feedback import FeedbackStore
from tests.conftest import ROOT


def test_quick_training_with_feedback_reports_accuracy_on_users_digits(tmp_path, mnist):
    _, (x_test, y_test) = mnist
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    for i in range(20):  # MNIST test digits standing in for users' answers, accepted by the operator
        store.set_review(store.add(x_test[i], int(y_test[i]), int(y_test[i]), np.eye(10)[y_test[i]], "v", "draw"),
                         "accepted")
    store.add(x_test[20], int(y_test[20]), int(y_test[20]), np.eye(10)[y_test[20]], "v", "draw")  # not reviewed
    out = tmp_path / "model"
    result = subprocess.run(
        [sys.executable, "train_model.py", "--quick", "--epochs", "1", "--out", str(out),
         "--include-feedback", str(store.path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "16 user digits" in result.stdout and "4 held out" in result.stdout

    report = json.loads((out / "report.json").read_text())
    feedback = report["feedback"]
    assert feedback["db"] == str(store.path)
    assert feedback["train"] == 16  # ids 5, 10, 15, 20 are held out
    held_out = feedback["held_out"]
    assert held_out["n"] == 4 and 0.0 <= held_out["accuracy"] <= 1.0
    assert np.array(held_out["confusion"]).sum(axis=1)[y_test[[4, 9, 14, 19]]].all()
    assert report["test"]["n"] == 10000  # MNIST's test set is reported as before, separately
    # 2,000 MNIST digits (plus styled copies), pen renders and 16 user digits repeated.
    training = report["training"]
    assert training["train_size"] == 2000 + training["styled_extra"] + training["pen_renders"] + 16 * feedback["repeat"]


def test_feedback_is_off_by_default_and_the_flag_alone_uses_the_default_store(monkeypatch, tmp_path):
    from train_model import parse_args

    monkeypatch.setenv("MNIST_FEEDBACK_DB", str(tmp_path / "f.sqlite3"))
    assert parse_args([]).include_feedback is None
    assert parse_args(["--include-feedback"]).include_feedback == tmp_path / "f.sqlite3"
