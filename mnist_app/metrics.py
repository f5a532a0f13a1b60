"""Classification metrics over integer labels, in plain numpy."""

from __future__ import annotations

import numpy as np

NUM_CLASSES = 10


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """int64 (num_classes, num_classes): rows = true digit, columns = predicted digit."""
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return matrix


def classification_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """Accuracy, confusion matrix and per-class precision / recall / F1 (JSON-ready)."""
    matrix = confusion_matrix(y_true, y_pred)
    correct = np.diag(matrix).astype(np.float64)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
    precision = np.divide(correct, predicted, out=np.zeros(len(correct)), where=predicted > 0)
    recall = np.divide(correct, actual, out=np.zeros(len(correct)), where=actual > 0)
    f1 = np.divide(2 * precision * recall, precision + recall,
                   out=np.zeros(len(correct)), where=(precision + recall) > 0)
    n = int(matrix.sum())
    return {
        "accuracy": float(correct.sum() / n) if n else 0.0,
        "n": n,
        "errors": int(n - correct.sum()),
        "confusion": matrix.tolist(),
        "per_class": [
            {"digit": d, "precision": float(precision[d]), "recall": float(recall[d]),
             "f1": float(f1[d]), "support": int(actual[d])}
            for d in range(len(correct))
        ],
    }
