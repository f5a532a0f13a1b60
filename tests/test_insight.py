"""Model insight as plain functions: which images sit in a confusion cell, the report card,
paging, the chart's selection, and the gallery picture."""

import json

import numpy as np
import pytest

from mnist_app.insight import (ReportError, cell_indices, confident_mistakes, confusion_frame, model_card,
                               page_bounds, page_count, read_report, report_matches, selected_cell)
from mnist_app.metrics import confusion_matrix
from mnist_app.visual import GALLERY_PREDICTED, GALLERY_TRUE, gallery_grid


@pytest.fixture(scope="module")
def test_set_predictions(model, mnist_test):
    """The shipped model (whichever it is) on the 10k test digits."""
    from mnist_app.model import predict_probabilities

    x, y = mnist_test
    probabilities = predict_probabilities(model, x)
    return y.astype(np.int64), probabilities


def test_a_cell_gallery_holds_exactly_that_cells_images_most_confident_first(test_set_predictions):
    y_true, probabilities = test_set_predictions
    y_pred, confidence = probabilities.argmax(1), probabilities.max(1)
    matrix = confusion_matrix(y_true, y_pred)
    off_diagonal = matrix - np.diag(np.diag(matrix))
    # The busiest error cell, whatever the model; a diagonal one if it makes no errors.
    cells = [np.unravel_index(off_diagonal.argmax(), matrix.shape)] if off_diagonal.any() else []
    cells.append((3, 3))
    for true_digit, predicted_digit in cells:
        indices = cell_indices(y_true, y_pred, confidence, true_digit, predicted_digit)
        expected = np.nonzero((y_true == true_digit) & (y_pred == predicted_digit))[0]
        assert sorted(indices.tolist()) == expected.tolist()
        assert len(indices) == matrix[true_digit, predicted_digit]
        assert np.all(np.diff(confidence[indices]) <= 0)


def test_cell_indices_break_ties_by_index_and_skip_other_cells():
    y_true = np.array([7, 7, 7, 7, 1, 7])
    y_pred = np.array([2, 2, 7, 2, 2, 2])
    confidence = np.array([0.5, 0.9, 0.99, 0.5, 0.95, 0.7])
    assert cell_indices(y_true, y_pred, confidence, 7, 2).tolist() == [1, 5, 0, 3]
    assert cell_indices(y_true, y_pred, confidence, 4, 4).tolist() == []
    assert confident_mistakes(y_true, y_pred, confidence).tolist() == [4, 1, 5, 0, 3]


def test_confident_mistakes_are_every_error_most_confident_first(test_set_predictions):
    y_true, probabilities = test_set_predictions
    y_pred, confidence = probabilities.argmax(1), probabilities.max(1)
    mistakes = confident_mistakes(y_true, y_pred, confidence)
    assert sorted(mistakes.tolist()) == np.nonzero(y_true != y_pred)[0].tolist()
    assert np.all(np.diff(confidence[mistakes]) <= 0)


def test_confusion_frame_has_one_row_per_cell_with_row_shares():
    matrix = np.zeros((10, 10), int)
    matrix[7, 7], matrix[7, 1], matrix[2, 2] = 3, 1, 5
    frame = confusion_frame(matrix)
    assert len(frame) == 100
    row = frame[(frame["true"] == 7) & (frame["predicted"] == 1)].iloc[0]
    assert row["count"] == 1 and row["share"] == pytest.approx(0.25) and not row["diagonal"]
    assert frame[frame["true"] == 4]["share"].sum() == 0  # an empty row is not NaN
    assert frame["diagonal"].sum() == 10


def test_selected_cell_reads_the_chart_state():
    assert selected_cell({"selection": {"cell": [{"true": 3, "predicted": 5}]}}) == (3, 5)
    assert selected_cell({"selection": {"cell": [{"true": "3", "predicted": "5"}]}}) == (3, 5)
    assert selected_cell({"selection": {"cell": {}}}) is None  # nothing clicked
    assert selected_cell({"selection": {"cell": []}}) is None
    assert selected_cell(None) is None
    assert selected_cell({}) is None


def test_paging():
    assert page_count(0) == 1 and page_count(24) == 1 and page_count(25) == 2
    assert page_bounds(50, 1) == (0, 24)
    assert page_bounds(50, 3) == (48, 50)
    assert page_bounds(50, 99) == (48, 50)  # clamped to the last page
    assert page_bounds(50, 0) == (0, 24)


REPORT = {
    "trained_at": "2026-11-21T16:15:17+00:00",
    "test": {"accuracy": 0.9971, "n": 10000, "errors": 29, "confusion": np.eye(10, dtype=int).tolist()},
    "validation_accuracy": 0.9968,
    "architecture": {"members": 3, "member": "Conv32x3-...-Dense10", "parameters": 980478},
    "training": {"epochs_max": 30, "epochs_run": [24, 30, 27], "wall_time_s": 5520.0, "train_size": 58000},
}


def test_model_card_reads_the_report():
    card = dict(model_card(REPORT))
    assert card["Architecture"].startswith("ensemble of 3 CNNs")
    assert card["Parameters"] == "980,478"
    assert card["Trained"] == "2026-11-21 16:15 UTC"
    assert card["Epochs"] == "24, 30, 27 (of at most 30 per member)"
    report = {**REPORT, "training": {**REPORT["training"], "epochs_max": [20, 40, 40]}}
    assert dict(model_card(report))["Epochs"] == "24, 30, 27 (of at most 20, 40, 40)"
    assert card["Training time"] == "1 h 32 min"
    assert card["Test accuracy, the network alone"] == "99.71% on 10,000 MNIST test digits (29 errors)"
    assert "Your digits" not in card
    calibrated = dict(model_card({**REPORT, "calibration": {
        "min_top_logit": 5.804, "percentile_of_validation_digits": 0.5, "max_feature_distance": 1440.2}}))
    assert calibrated["Flagged as not a digit"] == (
        "top logit below 5.80 or features farther than 1,440 (squared Mahalanobis) from every digit "
        "class; each check flags 0.5% of validation digits")
    with_feedback = dict(model_card({**REPORT, "feedback": {"train": 40, "held_out": {"n": 10, "accuracy": 0.9}}}))
    assert with_feedback["Your digits"] == "40 of your digits added to training; accuracy on 10 held-out ones 90.00%"
    assert model_card({}) == []
    fine_tuned = dict(model_card({**REPORT, "training": {
        **REPORT["training"], "mnist_digits": 30000, "pen_renders": 5246, "paper_scans": 15723,
        "fine_tuned_from": {"model": "/tmp/pair/model.keras", "version": "0123456789ab"},
        "command": "python train_model.py --fine-tune /tmp/pair/model.keras"}}))
    assert fine_tuned["Fine-tuned from"] == "model 0123456789ab (/tmp/pair/model.keras)"
    assert fine_tuned["Training digits"] == "58,000 (30,000 MNIST, 5,246 pen renders, 15,723 paper scans)"
    assert fine_tuned["Made by"] == ("`python train_model.py --fine-tune /tmp/pair/model.keras`, the last step; "
                                     "every step, in order: train_model.py's docstring")
    assert fine_tuned["Training time"] == "1 h 32 min (the last step)"


def test_report_matches_only_its_own_model():
    assert report_matches(REPORT, np.eye(10, dtype=int))
    assert not report_matches(REPORT, 2 * np.eye(10, dtype=int))
    assert not report_matches({}, np.eye(10, dtype=int))
    # A report is the loaded model's when the app's own reading of the test set matches.
    read_by_the_app = 3 * np.eye(10, dtype=int)
    with_sets = {**REPORT, "sets": {"mnist": {"confusion": read_by_the_app.tolist()}}}
    assert report_matches(with_sets, read_by_the_app)
    assert not report_matches(with_sets, np.eye(10, dtype=int))


def test_read_report(tmp_path):
    assert read_report(tmp_path / "absent.json") is None
    good = tmp_path / "report.json"
    good.write_text(json.dumps(REPORT))
    assert read_report(good)["test"]["errors"] == 29
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ReportError, match="bad.json"):
        read_report(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ReportError):
        read_report(bad)


def test_gallery_grid_draws_a_fixed_width_page_with_probability_strips():
    images = np.zeros((7, 28, 28), np.float32)
    images[:, 10:18, 12:16] = 1.0
    probabilities = np.full((7, 10), 0.02, np.float32)
    probabilities[:, 2] = 0.82  # read as 2
    true_labels = np.full(7, 7)
    grid = gallery_grid(images, probabilities, true_labels, [f"#{i} 7->2" for i in range(7)], columns=6, scale=4)
    full = gallery_grid(images[:6], probabilities[:6], true_labels[:6], ["x"] * 6, columns=6, scale=4)
    one = gallery_grid(images[:1], probabilities[:1], true_labels[:1], ["x"], columns=6, scale=4)
    assert grid.dtype == np.uint8 and grid.ndim == 3 and grid.shape[2] == 3
    assert grid.shape[1] == full.shape[1] == one.shape[1]  # same width whatever the count
    assert grid.shape[0] > full.shape[0] == one.shape[0]  # a second row for the 7th image
    colours = {tuple(c) for c in grid.reshape(-1, 3)}
    assert tuple(GALLERY_PREDICTED) in colours and tuple(GALLERY_TRUE) in colours
    assert (grid == 0).all(axis=2).any()  # the black background of the 28x28 inputs
