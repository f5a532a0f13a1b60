"""Classification metrics over integer labels, in plain numpy."""

from __future__ import annotations

import numpy as np

NUM_CLASSES = 10


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """int64 (num_classes, num_classes): rows = true digit, columns = predicted digit."""
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return matrix


def per_class_metrics(matrix: np.ndarray, support: np.ndarray | None = None) -> list[dict]:
    """Precision, recall, F1 and support per digit from a confusion matrix (rows = true
    digit). ``support``: how many of each digit there were, when some readings are not
    in the matrix (they count as misses); by default the matrix's row sums."""
    correct = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0)
    actual = matrix.sum(axis=1) if support is None else np.asarray(support)
    precision = np.divide(correct, predicted, out=np.zeros(len(correct)), where=predicted > 0)
    recall = np.divide(correct, actual, out=np.zeros(len(correct)), where=actual > 0)
    f1 = np.divide(2 * precision * recall, precision + recall,
                   out=np.zeros(len(correct)), where=(precision + recall) > 0)
    return [{"digit": d, "precision": float(precision[d]), "recall": float(recall[d]),
             "f1": float(f1[d]), "support": int(actual[d])} for d in range(len(correct))]


def classification_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """Accuracy, confusion matrix and per-class precision / recall / F1 (JSON-ready)."""
    matrix = confusion_matrix(y_true, y_pred)
    n = int(matrix.sum())
    correct = int(np.trace(matrix))
    return {
        "accuracy": float(correct / n) if n else 0.0,
        "n": n,
        "errors": int(n - correct),
        "confusion": matrix.tolist(),
        "per_class": per_class_metrics(matrix),
    }
