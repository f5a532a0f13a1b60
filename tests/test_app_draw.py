"""The Draw page in Streamlit's AppTest, with a drawing injected through the canvas's key."""

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.drawing import blank_canvas, leaning, mnist_as_stroke, paste

CANVAS_KEY = "canvas_0"


def as_canvas_value(rgba: np.ndarray) -> dict:
    """What the canvas component stores in session state after a stroke."""
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return {"drawing": {"raw": {"objects": []}, "data": url}}


def prediction_text(at: AppTest) -> str:
    texts = [m.value for m in at.markdown if "class='prediction'" in m.value]
    assert len(texts) == 1, f"expected one prediction line, found {texts}"
    return re.sub(r"<[^>]+>", "", texts[0])


@pytest.fixture(scope="module")
def app():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def clean_digit(mnist_test, model, digit):
    from mnist_app.model import predict_probabilities

    x, y = mnist_test
    candidates = np.nonzero(y[:300] == digit)[0]
    p = predict_probabilities(model, x[candidates])
    return x[candidates[int(p[:, digit].argmax())]]


def test_empty_canvas_shows_no_digits(app):
    text = prediction_text(app)
    assert not re.search(r"\d", text), text
    assert "Draw a digit" in text


def test_a_drawn_digit_shows_prediction_chart_input_and_saliency(app, mnist_test, model):
    canvas = paste(blank_canvas(), mnist_as_stroke(clean_digit(mnist_test, model, 3), 200, 18), 200, 50)
    app.session_state[CANVAS_KEY] = as_canvas_value(canvas)
    app.run()
    assert not app.exception, app.exception
    text = prediction_text(app)
    assert re.search(r"\d+", text).group() == "3", text
    assert re.search(r"\(\d+%\)", text)
    assert len(app.get("vega_lite_chart")) == 1  # the probability bar chart
    images = app.image
    assert len(images) == 3  # 28x28 input, saliency on it, saliency on the drawing
    assert any("Red" in m.value for m in app.markdown)  # the saliency legend

    # Other saliency methods run too.
    for method in ("smoothgrad", "integrated"):
        app.session_state["saliency_method"] = method
        app.run()
        assert not app.exception, app.exception
        assert len(app.image) == 3


def test_several_digits_are_read_as_a_number(app, mnist_test, model):
    canvas = blank_canvas()
    cursor = 20
    for digit in (2, 0, 2, 6):
        stroke = mnist_as_stroke(clean_digit(mnist_test, model, digit), 110, 12)
        paste(canvas, stroke, cursor, 100)
        cursor += stroke.shape[1] + 25
    app.session_state[CANVAS_KEY] = as_canvas_value(canvas)
    app.run()
    assert not app.exception, app.exception
    assert re.search(r"\d+", prediction_text(app)).group() == "2026"
    assert len(app.radio) == 1 and len(app.radio[0].options) == 4  # choose which digit to inspect


def test_a_dot_is_not_a_prediction(app):
    canvas = blank_canvas()
    canvas[150:165, 300:315, :3] = 255
    app.session_state[CANVAS_KEY] = as_canvas_value(canvas)
    app.run()
    assert not app.exception, app.exception
    assert not re.search(r"\d", prediction_text(app))
    assert any("dot" in i.value for i in app.info)


def test_the_reset_button_of_the_canvas_gives_no_prediction(app):
    # The canvas's own reset sends an all-black image, not None.
    app.session_state[CANVAS_KEY] = as_canvas_value(np.zeros((320, 560, 4), np.uint8))
    app.run()
    assert not re.search(r"\d", prediction_text(app))


def test_a_shape_unlike_any_digit_is_not_presented_as_a_confident_prediction(app):
    import math

    from tests.strokes import render_strokes

    def polar(angle):
        return 280 + 120 * math.cos(math.radians(angle)), 160 + 120 * math.sin(math.radians(angle))

    star = [[polar(a), polar(a + 180)] for a in (0, 60, 120)]  # the softmax alone: a "4" at 100%
    app.session_state[CANVAS_KEY] = as_canvas_value(render_strokes(star, size=(560, 320), width=18))
    app.run()
    assert not app.exception, app.exception
    text = prediction_text(app)
    assert "unlike the digits it learned" in text and "?" in text, text
    assert any("does not look like a digit" in w.value for w in app.warning)


def test_a_leaning_hand_is_read_straightened_once_taught_and_the_page_says_so(monkeypatch, tmp_path, mnist_test):
    from mnist_app.feedback import FeedbackStore

    path = tmp_path / "feedback.sqlite3"
    monkeypatch.setenv("MNIST_FEEDBACK_DB", str(path))
    x, y = mnist_test
    hand = leaning(x[:61], 1.2)  # a writer whose digits all lean far to the right
    store = FeedbackStore(path).for_profile("leaning-writer")
    for image, label in zip(hand[:50], y[:50]):
        store.add(image, label=int(label), predicted=int(label), probabilities=np.eye(10)[label],
                  model_version="test", source="draw")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["profile"] = "leaning-writer"
    at.session_state[CANVAS_KEY] = as_canvas_value(paste(blank_canvas(), mnist_as_stroke(hand[60], 200, 18), 180, 50))
    at.run()
    assert not at.exception, at.exception
    notes = [c.value for c in at.caption if "read straightened" in c.value]
    assert len(notes) == 1 and "leaning right" in notes[0], [c.value for c in at.caption]
    assert re.search(r"\d+", prediction_text(at)).group() == str(y[60])
    assert any(c.startswith("Straightened for your writing") for i in at.image for c in i.captions)
