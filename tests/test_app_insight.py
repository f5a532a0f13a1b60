"""The Model and Your digits pages, and the feedback controls of the Draw page, in
Streamlit's AppTest with the real model, the real MNIST test set and real SQLite stores.

Chart clicks cannot be simulated in AppTest; the chart's selection is set through its
key in session state, as the browser would send it: {"selection": {"cell": [{...}]}}.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from mnist_app.feedback import FeedbackStore
from tests.conftest import ROOT
from tests.drawing import blank_canvas, mnist_as_stroke, paste
from tests.test_app_draw import as_canvas_value, clean_digit, prediction_text

MODEL_PAGE = "mnist_app/ui/pages/model.py"
YOUR_DIGITS_PAGE = "mnist_app/ui/pages/your_digits.py"


def page(path: str, profile: str | None = None) -> AppTest:
    """The app on page ``path``; ``profile``: the visitor's, as a bookmarked address gives it."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    if profile is not None:
        at.query_params["profile"] = profile
    at.switch_page(path)
    at.run()
    assert not at.exception, at.exception
    return at


def shown_matrix(at: AppTest) -> np.ndarray:
    """The confusion matrix as the page shows it in "The matrix as a table"."""
    return at.table[0].value.to_numpy().astype(int)


def select_cell(at: AppTest, key: str, true_digit: int, predicted_digit: int) -> None:
    at.session_state[key] = {"selection": {"cell": [{"true": true_digit, "predicted": predicted_digit}]}}
    at.run()
    assert not at.exception, at.exception


def by_key_prefix(widgets, prefix: str):
    found = [w for w in widgets if w.key and w.key.startswith(prefix)]
    assert len(found) == 1, f"expected one widget with key {prefix}*, found {[w.key for w in widgets]}"
    return found[0]


def metric(at: AppTest, label_start: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label_start))


# --- the Model page ------------------------------------------------------------------
@pytest.fixture(scope="module")
def cli_report():
    result = subprocess.run([sys.executable, "-m", "mnist_app", "evaluate", "--json"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def model_page():
    return page(MODEL_PAGE)


def busiest_error_cell(confusion) -> tuple[int, int]:
    matrix = np.array(confusion)
    np.fill_diagonal(matrix, -1)
    t, p = np.unravel_index(matrix.argmax(), matrix.shape)
    return int(t), int(p)


def test_the_matrix_is_the_loaded_models_as_the_cli_measures_it(model_page, cli_report):
    np.testing.assert_array_equal(shown_matrix(model_page), np.array(cli_report["confusion"]))
    assert metric(model_page, "Accuracy") == f"{cli_report['accuracy']:.2%}"
    assert metric(model_page, "Errors") == f"{cli_report['errors']:,}"
    from mnist_app.network import MODEL_PATH, model_version

    assert metric(model_page, "Model version") == model_version(MODEL_PATH)
    assert not [w.value for w in model_page.warning]  # the shipped report is the loaded model's
    per_class = model_page.dataframe[0].value
    for row in cli_report["per_class"]:
        assert per_class.loc[row["digit"], "recall"] == pytest.approx(row["recall"])
        assert per_class.loc[row["digit"], "f1"] == pytest.approx(row["f1"])


def test_clicking_a_cell_opens_its_gallery(model_page, cli_report, mnist):
    _, (_, y_test) = mnist
    t, p = busiest_error_cell(cli_report["confusion"])
    count = cli_report["confusion"][t][p]
    select_cell(model_page, "mnist_confusion", t, p)
    assert any(m.value == f"#### True {t} -> read {p}" for m in model_page.markdown)
    if count == 0:  # a model without errors
        assert any("No test image" in i.value for i in model_page.info)
        return
    assert any(c.value.startswith(f"{count:,} image") for c in model_page.caption)
    inspect = model_page.selectbox(key=f"mnist_cell_{t}_{p}_inspect_1")
    assert len(inspect.options) == min(24, count)
    titles = [re.fullmatch(rf"#(\d+) {t}->{p} (\d+)%", option) for option in inspect.options]
    assert all(titles), inspect.options
    assert all(y_test[int(m.group(1))] == t for m in titles)
    confidences = [int(m.group(2)) for m in titles]
    assert confidences == sorted(confidences, reverse=True)

    inspect.set_value(0).run()
    assert not model_page.exception, model_page.exception
    assert any(m.value.startswith(f"**Test image #{titles[0].group(1)}**") for m in model_page.markdown)
    model_page.session_state[f"mnist_cell_{t}_{p}_details_saliency"] = "gradient"
    model_page.run()
    assert not model_page.exception, model_page.exception
    captions = [caption for element in model_page.get("image") for caption in element.captions]
    assert f"Saliency for '{p}'" in captions


def test_the_page_switches_to_real_handwriting(model_page):
    """The pen digits as the CLI reads them: the same accuracy, matrix and galleries."""
    result = subprocess.run([sys.executable, "-m", "mnist_app", "evaluate", "--set", "pen", "--json"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    pen = json.loads(result.stdout.strip().splitlines()[-1])
    model_page.session_state["measuring_set"] = "pen"
    model_page.run()
    assert not model_page.exception, model_page.exception
    assert metric(model_page, "Accuracy") == f"{pen['accuracy']:.2%}"
    assert metric(model_page, "Errors") == f"{pen['errors']:,}"
    assert metric(model_page, "Wrong but shown as sure") == f"{pen['wrong_but_sure']:.1%}"
    np.testing.assert_array_equal(shown_matrix(model_page), np.array(pen["confusion"]))
    t, p = busiest_error_cell(pen["confusion"])
    select_cell(model_page, "pen_confusion", t, p)
    if pen["confusion"][t][p]:
        inspect = model_page.selectbox(key=f"pen_cell_{t}_{p}_inspect_1")
        assert all(re.fullmatch(rf"#\d+ {t}->{p} \d+%", option) for option in inspect.options)
    model_page.session_state["measuring_set"] = "mnist"
    model_page.run()


def test_row_normalised_view_keeps_the_numbers(model_page, cli_report):
    model_page.toggle(key="mnist_confusion_normalised").set_value(True).run()
    assert not model_page.exception, model_page.exception
    charts = [chart.proto.spec for chart in model_page.get("vega_lite_chart")]
    spec = next(spec for spec in charts if "Predicted digit" in spec)
    assert "share" in spec
    assert any("Confidence shown" in spec for spec in charts)  # the reliability diagram
    np.testing.assert_array_equal(shown_matrix(model_page), np.array(cli_report["confusion"]))
    model_page.toggle(key="mnist_confusion_normalised").set_value(False).run()


def test_the_model_card_comes_from_the_report(monkeypatch, tmp_path, cli_report):
    import mnist_app.network

    report_path = tmp_path / "report.json"
    monkeypatch.setattr(mnist_app.network, "REPORT_PATH", report_path)
    at = page(MODEL_PAGE)
    assert any("No training report" in i.value for i in at.info)

    report = {
        "trained_at": "2026-11-21T16:15:17+00:00",
        "test": {k: cli_report[k] for k in ("accuracy", "n", "errors", "confusion", "per_class")},
        "architecture": {"members": 3, "member": "Conv32x3-Dense10", "parameters": 123456},
        "training": {"epochs_max": 30, "epochs_run": [20, 21, 22], "wall_time_s": 4000},
    }
    report_path.write_text(json.dumps(report))
    at.run()
    card = next(m.value for m in at.markdown if "**Architecture**" in m.value)
    for text in ("ensemble of 3 CNNs", "123,456", "2026-11-21 16:15 UTC", "20, 21, 22", "1 h 7 min",
                 f"{cli_report['accuracy']:.2%}"):
        assert text in card
    assert not at.warning  # the report describes the loaded model

    report["test"]["confusion"] = (np.array(cli_report["confusion"]) + np.eye(10, dtype=int)).tolist()
    report_path.write_text(json.dumps(report))
    at.run()
    assert any("another model" in w.value for w in at.warning)

    report_path.write_text("{broken")
    at.run()
    assert not at.exception, at.exception
    assert any("cannot be read" in w.value for w in at.warning)


# --- the Your digits page --------------------------------------------------------------
def add(store: FeedbackStore, label: int, predicted: int, seed: int = 0) -> int:
    probabilities = np.full(10, 0.02)
    probabilities[predicted] = 0.82
    image = np.random.default_rng(seed).random((28, 28)).astype(np.float32)
    return store.add(image, label, predicted, probabilities, model_version="cafe00000001", source="draw")


@pytest.fixture
def store(monkeypatch, tmp_path):
    path = tmp_path / "feedback.sqlite3"
    monkeypatch.setenv("MNIST_FEEDBACK_DB", str(path))
    return FeedbackStore(path)


def test_your_digits_shows_the_stored_answers_live(store):
    everyone, store = store, store.for_profile("tester")
    for i, (label, predicted) in enumerate([(7, 1), (7, 1), (7, 1), (7, 7), (7, 7), (4, 9)]):
        add(store, label, predicted, seed=i)
    add(everyone.for_profile("someone-else"), 7, 1, seed=50)  # another visitor's: never shown here
    at = page(YOUR_DIGITS_PAGE, profile="tester")
    assert metric(at, "Answers") == "6"
    assert metric(at, "Corrected") == "4"
    expected = np.zeros((10, 10), int)
    expected[7, 1], expected[7, 7], expected[4, 9] = 3, 2, 1
    np.testing.assert_array_equal(shown_matrix(at), expected)

    select_cell(at, "feedback_confusion", 7, 1)
    assert any(m.value == "#### You meant 7, the model read 1" for m in at.markdown)
    assert any(c.value.startswith("3 images, newest first") for c in at.caption)

    inspect = at.selectbox(key="feedback_gallery_7_1_inspect_1")
    newest = store.list_answers(label=7, predicted=1)[0]
    assert inspect.options[0] == f"#{newest.id} 7->1 82%"
    inspect.set_value(0).run()
    at.button(key=f"delete_{newest.id}").click().run()
    assert not at.exception, at.exception
    assert store.get(newest.id) is None and store.count() == 5
    assert shown_matrix(at)[7, 1] == 2

    add(store, 2, 3, seed=99)  # an answer from another session of this visitor arrives
    add(everyone.for_profile("someone-else"), 2, 3, seed=98)
    at.run()
    assert metric(at, "Answers") == "6"
    assert shown_matrix(at)[2, 3] == 1


def test_your_digits_without_answers_or_without_a_store(store, monkeypatch, tmp_path):
    at = page(YOUR_DIGITS_PAGE)
    assert any("No answers yet" in i.value for i in at.info)
    monkeypatch.setenv("MNIST_FEEDBACK_DB", str(tmp_path / "missing" / "feedback.sqlite3"))
    at.run()
    assert not at.exception, at.exception
    assert any("cannot be read" in w.value for w in at.warning)


# --- feedback from the Draw page ---------------------------------------------------------
CANVAS_KEY = "canvas_0"


def draw_digit(at: AppTest, mnist_test, model, digit: int) -> str:
    canvas = paste(blank_canvas(), mnist_as_stroke(clean_digit(mnist_test, model, digit), 200, 18), 200, 50)
    at.session_state[CANVAS_KEY] = as_canvas_value(canvas)
    at.run()
    assert not at.exception, at.exception
    return re.search(r"\d", prediction_text(at)).group()


def test_correcting_a_drawn_digit_stores_the_answer(store, mnist_test, model):
    from mnist_app.network import MODEL_PATH, model_version

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    predicted = int(draw_digit(at, mnist_test, model, 3))
    label = (predicted + 1) % 10
    by_key_prefix(at.selectbox, "draw_label_").set_value(label).run()
    by_key_prefix(at.button, "draw_save_").click().run()
    assert not at.exception, at.exception
    assert any(f"saved as **{label}**" in c.value for c in at.caption)
    [answer] = store.list_answers()
    assert (answer.label, answer.predicted, answer.source) == (label, predicted, "draw")
    assert answer.model_version == model_version(MODEL_PATH)
    crop = np.asarray(Image.open(io.BytesIO(answer.crop_png)))
    assert crop.shape[0] > 100 and crop.shape[1] > 50  # the drawn digit, not the 28x28 input
    assert answer.image.max() > 200  # the 28x28 input holds ink

    predicted = int(draw_digit(at, mnist_test, model, 0))  # a new drawing asks again
    by_key_prefix(at.button, "draw_correct_").click().run()
    assert store.count() == 2
    assert store.list_answers()[0].label == store.list_answers()[0].predicted == predicted


def test_an_unwritable_store_warns_and_the_page_still_predicts(monkeypatch, mnist_test, model):
    monkeypatch.setenv("MNIST_FEEDBACK_DB", "/proc/feedback.sqlite3")  # nobody may create files there
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    predicted = draw_digit(at, mnist_test, model, 3)
    by_key_prefix(at.button, "draw_correct_").click().run()
    assert not at.exception, at.exception
    assert any("not saved" in w.value for w in at.warning)
    assert re.search(r"\d", prediction_text(at)).group() == predicted
    assert len(at.get("image")) >= 3  # the input and the saliency maps are still shown


def test_the_operators_live_view_says_when_the_answers_cannot_be_read(monkeypatch, tmp_path):
    broken = tmp_path / "feedback.sqlite3"
    broken.write_text("not a database")  # a file that is no SQLite store
    monkeypatch.setenv("MNIST_FEEDBACK_DB", str(broken))
    monkeypatch.setenv("MNIST_OPERATOR_SECRET", "s3cret")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.switch_page("mnist_app/ui/pages/operator.py").run()
    at.text_input(key="operator_secret_input").input("s3cret")
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert any("cannot be read" in w.value and "not an SQLite database" in w.value for w in at.warning)
