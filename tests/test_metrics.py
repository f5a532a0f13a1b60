"""Confusion matrix and per-class metrics on a small case checked by hand."""

import numpy as np
import pytest

from mnist_app.metrics import classification_report, confusion_matrix

# Seven predictions over digits 0-2: two 0s (one read as 1), two 1s (both right),
# three 2s (one read as 0).
Y_TRUE = np.array([0, 0, 1, 1, 2, 2, 2])
Y_PRED = np.array([0, 1, 1, 1, 2, 0, 2])


def test_confusion_matrix_by_hand():
    matrix = confusion_matrix(Y_TRUE, Y_PRED)
    assert matrix.shape == (10, 10) and matrix.dtype == np.int64
    expected = np.zeros((10, 10), np.int64)
    expected[0, 0], expected[0, 1] = 1, 1
    expected[1, 1] = 2
    expected[2, 2], expected[2, 0] = 2, 1
    np.testing.assert_array_equal(matrix, expected)


def test_classification_report_by_hand():
    report = classification_report(Y_TRUE, Y_PRED)
    assert report["n"] == 7 and report["errors"] == 2
    assert report["accuracy"] == pytest.approx(5 / 7)
    by_digit = {row["digit"]: row for row in report["per_class"]}
    # digit 0: read right once; "0" was said twice (once for a 2); two real 0s.
    assert by_digit[0]["precision"] == pytest.approx(1 / 2)
    assert by_digit[0]["recall"] == pytest.approx(1 / 2)
    assert by_digit[0]["f1"] == pytest.approx(1 / 2)
    # digit 1: both real 1s read right; "1" was said three times.
    assert by_digit[1]["precision"] == pytest.approx(2 / 3)
    assert by_digit[1]["recall"] == pytest.approx(1.0)
    assert by_digit[1]["f1"] == pytest.approx(2 * (2 / 3) / (2 / 3 + 1))  # 0.8
    # digit 2: "2" said twice, both right; three real 2s.
    assert by_digit[2]["precision"] == pytest.approx(1.0)
    assert by_digit[2]["recall"] == pytest.approx(2 / 3)
    assert by_digit[2]["f1"] == pytest.approx(0.8)
    assert [by_digit[d]["support"] for d in range(3)] == [2, 2, 3]
    # Digits never seen nor said: zeros, not NaN.
    for d in range(3, 10):
        assert by_digit[d] == {"digit": d, "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert report["confusion"] == confusion_matrix(Y_TRUE, Y_PRED).tolist()


def test_empty_input_gives_zero_accuracy_not_an_error():
    report = classification_report(np.array([], int), np.array([], int))
    assert report["n"] == 0 and report["accuracy"] == 0.0
