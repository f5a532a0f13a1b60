"""Looking into the model: the training report, the confusion matrix in long form,
and which images sit in which cell (plain numpy / pandas, no Streamlit).

Conventions: y_true and y_pred are int (n,) digits, probabilities float32 (n, 10);
"confidence" is the probability of the digit the model read.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from mnist_app.evaluation import SETS
from mnist_app.network import REPORT_PATH

GALLERY_PAGE_SIZE = 24


class ReportError(ValueError):
    """The training report exists but cannot be read."""


def read_report(path: Path = REPORT_PATH) -> dict | None:
    """The JSON report ``train_model.py`` writes next to the model, or None if there is none."""
    path = Path(path)
    try:
        report = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path} cannot be read: {exc}") from None
    if not isinstance(report, dict):
        raise ReportError(f"{path} does not hold a training report")
    return report


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 1:
        return f"{seconds:.0f} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def model_card(report: dict) -> list[tuple[str, str]]:
    """The report as (field, value) lines for people; fields the report lacks are left out."""
    lines = []
    architecture = report.get("architecture", {})
    training = report.get("training", {})
    test = report.get("test", {})
    if "member" in architecture:
        members = architecture.get("members", 1)
        lines.append(("Architecture", f"one CNN, {architecture['member'].removesuffix('; logits averaged')}"
                      if members == 1 else f"ensemble of {members} CNNs, each {architecture['member']}"))
    if "parameters" in architecture:
        lines.append(("Parameters", f"{architecture['parameters']:,}"))
    if "trained_at" in report:
        try:
            trained = datetime.fromisoformat(report["trained_at"]).strftime("%Y-%m-%d %H:%M UTC")
        except ValueError:
            trained = str(report["trained_at"])
        lines.append(("Trained", trained))
    if "epochs_run" in training:
        runs = ", ".join(str(e) for e in training["epochs_run"])
        most = training.get("epochs_max", "?")
        most = ", ".join(str(e) for e in most) if isinstance(most, list) else f"{most} per member"
        lines.append(("Epochs", f"{runs} (of at most {most})"))
    from_saved = bool(training.get("fine_tuned_from") or training.get("grown_from"))
    if "wall_time_s" in training:
        last_step = " (the last step)" if from_saved else ""
        lines.append(("Training time", _duration(float(training["wall_time_s"])) + last_step))
    if training.get("fine_tuned_from"):
        lines.append(("Fine-tuned from", f"model {training['fine_tuned_from'].get('version', '?')} "
                                         f"({training['fine_tuned_from'].get('model', '?')})"))
    if "train_size" in training:
        parts = [f"{training[key]:,} {what}" for key, what in
                 (("mnist_digits", "MNIST"), ("pen_renders", "pen renders"), ("paper_scans", "paper scans"))
                 if training.get(key)]
        lines.append(("Training digits", f"{training['train_size']:,}"
                      + (f" ({', '.join(parts)})" if parts else "")
                      + (" (quick smoke run)" if training.get("quick") else "")))
    if training.get("command"):
        lines.append(("Made by", f"`{training['command']}`" + (
            ", the last step; every step, in order: train_model.py's docstring" if from_saved else "")))
    if "accuracy" in test:
        lines.append(("Test accuracy, the network alone", f"{test['accuracy']:.2%} on {test.get('n', 0):,} MNIST test digits "
                                       f"({test.get('errors', 0):,} errors)"))
    if "validation_accuracy" in report:
        lines.append(("Validation accuracy", f"{report['validation_accuracy']:.2%}"))
    calibration = report.get("calibration", {})
    if "min_top_logit" in calibration:
        checks = [f"top logit below {calibration['min_top_logit']:.2f}"]
        if "max_feature_distance" in calibration:
            checks.append(f"features farther than {calibration['max_feature_distance']:,.0f} "
                          "(squared Mahalanobis) from every digit class")
        share = calibration.get("percentile_of_validation_digits", 0.5)
        lines.append(("Flagged as not a digit", " or ".join(checks)
                      + f"; each check flags {share:g}% of validation digits"))
    if "temperature" in calibration:
        lines.append(("Confidence", f"logits divided by a temperature of {calibration['temperature']:.2f} "
                                    "(fitted on held-out real digits); flagged unsure below "
                                    f"{calibration.get('unsure_below', 0.7):.0%}"))
    feedback = report.get("feedback")
    if feedback:
        held_out = feedback.get("held_out", {})
        text = f"{feedback.get('train', 0)} of your digits added to training"
        if held_out.get("n"):
            text += f"; accuracy on {held_out['n']} held-out ones {held_out['accuracy']:.2%}"
        lines.append(("Your digits", text))
    return lines


def report_matches(report: dict, confusion: np.ndarray) -> bool:
    """Whether the report's MNIST test confusion matrix, as the app reads those digits
    (``report["sets"]["mnist"]``; older reports: the network's own, ``report["test"]``),
    is the one ``confusion`` measured now: the report describes the loaded model."""
    measured = report.get("sets", {}).get("mnist") or report.get("test", {})
    return np.array_equal(np.asarray(measured.get("confusion", [])), confusion)


def set_figures(report: dict | None) -> dict[str, dict | None]:
    """Each measuring set's figures in the training report (``evaluation.SETS`` order):
    ``report["sets"][name]`` as ``evaluation.SetResults.summary`` gives them; MNIST
    falls back on the older reports' ``test`` entry (accuracy and n only); None where
    the report has none."""
    sets = (report or {}).get("sets", {})
    figures = {name: sets.get(name) for name in SETS}
    if figures["mnist"] is None and "accuracy" in (report or {}).get("test", {}):
        figures["mnist"] = {"accuracy": report["test"]["accuracy"], "n": report["test"]["n"]}
    return figures


def confusion_frame(matrix: np.ndarray) -> pd.DataFrame:
    """int (10, 10) matrix (rows true, columns predicted) -> one row per cell:
    true, predicted, count, share (of the true digit's row), diagonal."""
    matrix = np.asarray(matrix, np.int64)
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    true, predicted = np.indices(matrix.shape)
    return pd.DataFrame({
        "true": true.ravel(),
        "predicted": predicted.ravel(),
        "count": matrix.ravel(),
        "share": shares.ravel(),
        "diagonal": (true == predicted).ravel(),
    })


def selected_cell(chart_state, selection: str = "cell") -> tuple[int, int] | None:
    """(true, predicted) of the clicked confusion-matrix cell, or None.

    ``chart_state`` is what ``st.altair_chart(..., on_select="rerun")`` returns (or the
    plain dict in its session-state key): ``{"selection": {selection: [{"true": t,
    "predicted": p}]}}``, with an empty selection when nothing is clicked.
    """
    try:
        points = chart_state["selection"][selection]
        point = points[0]
        return int(point["true"]), int(point["predicted"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def cell_indices(y_true: np.ndarray, y_pred: np.ndarray, confidence: np.ndarray,
                 true_digit: int, predicted_digit: int) -> np.ndarray:
    """int64 indices of the images with ``y_true == true_digit`` and ``y_pred ==
    predicted_digit``, the model's most confident first (ties by index)."""
    (indices,) = np.nonzero((np.asarray(y_true) == true_digit) & (np.asarray(y_pred) == predicted_digit))
    return indices[np.lexsort((indices, -np.asarray(confidence)[indices]))].astype(np.int64)


def confident_mistakes(y_true: np.ndarray, y_pred: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """int64 indices of every misread image, the model's most confident first."""
    (indices,) = np.nonzero(np.asarray(y_true) != np.asarray(y_pred))
    return indices[np.lexsort((indices, -np.asarray(confidence)[indices]))].astype(np.int64)


def page_count(n_items: int, per_page: int = GALLERY_PAGE_SIZE) -> int:
    return max(1, -(-n_items // per_page))


def page_bounds(n_items: int, page: int, per_page: int = GALLERY_PAGE_SIZE) -> tuple[int, int]:
    """[start, stop) of 1-based ``page``, clamped to the pages there are."""
    page = min(max(1, int(page)), page_count(n_items, per_page))
    start = (page - 1) * per_page
    return start, min(n_items, start + per_page)
