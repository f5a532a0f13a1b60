"""The Photo page in Streamlit's AppTest: sample photos, uploads of good and bad files,
saliency on demand."""

import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.drawing import blank_canvas
from tests.photos import SAMPLE_SPECS

PAGE = "mnist_app/ui/pages/photo.py"
SAMPLES = ROOT / "assets" / "samples"


def numbers(at: AppTest) -> list[str]:
    """The text of each result container's number line, in order."""
    return [re.sub(r"<[^>]+>", "", m.value) for m in at.markdown
            if "class='photo-number'" in m.value or "class='photo-empty'" in m.value]


def error_texts(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


@pytest.fixture()
def app():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def test_the_page_invites_a_photo_and_shows_no_result(app):
    assert numbers(app) == []
    assert any("Upload a photo" in i.value for i in app.info)
    assert app.file_uploader(key="photo_files").accept_multiple_files
    assert len(app.camera_input) == 0  # the camera is asked for only behind the toggle


def test_a_sample_photo_is_read_with_crops_and_the_steps(app):
    app.selectbox(key="photo_sample").set_value("2026.jpg").run()
    assert not app.exception, app.exception
    assert numbers(app) == [SAMPLE_SPECS["2026.jpg"][1].label]
    # The annotated photo and the four 28x28 crops; the pipeline's steps are drawn only once
    # their expander is opened (tests/test_browser_photo.py opens it).
    assert len(app.image) == 1 + 4
    assert any(e.label == "How the photo was read" for e in app.expander)


def test_saliency_for_a_chosen_digit_on_demand(app):
    app.selectbox(key="photo_sample").set_value("blue-ink.jpg").run()
    app.toggle(key="photo_explain_0").set_value(True).run()
    assert not app.exception, app.exception
    app.selectbox(key="photo_digit_0").set_value(2).run()
    app.segmented_control(key="photo_method_0").set_value("smoothgrad").run()
    assert not app.exception, app.exception
    assert any("Red" in m.value for m in app.markdown)  # the saliency legend


def test_camera_is_behind_a_toggle(app):
    app.toggle(key="photo_use_camera").set_value(True).run()
    assert not app.exception, app.exception
    assert len(app.camera_input) == 1


def test_bad_files_get_a_message_each_and_never_spoil_the_good_ones(app):
    good = (SAMPLES / "2026.jpg").read_bytes()
    files = [
        ("empty.png", b"", "image/png"),
        ("photo.jpg", good, "image/jpeg"),
        ("notes.png", b"my digits are 2026\n" * 10, "image/png"),
        ("truncated.jpg", good[:2000], "image/jpeg"),
        ("random.bin", np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes(),
         "application/octet-stream"),
    ]
    app.file_uploader(key="photo_files").set_value(files).run()
    assert not app.exception, app.exception
    errors = error_texts(app)
    for name in ("empty.png", "notes.png", "truncated.jpg", "random.bin"):
        assert sum(name in e for e in errors) == 1, (name, errors)
    assert all("Traceback" not in e for e in errors)
    assert numbers(app) == [SAMPLE_SPECS["2026.jpg"][1].label]


def test_a_clean_drawing_and_a_blank_picture(app):
    import io

    from PIL import Image

    def png(array):
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, "PNG")
        return buffer.getvalue()

    app.file_uploader(key="photo_files").set_value([("blank.png", png(blank_canvas()), "image/png")]).run()
    assert not app.exception, app.exception
    (text,) = numbers(app)
    assert not re.search(r"\d", text) and "No digits" in text


def test_answers_given_on_the_photo_page_are_stored(monkeypatch, tmp_path):
    from mnist_app.feedback import FeedbackStore

    monkeypatch.setenv("MNIST_FEEDBACK_DB", str(tmp_path / "feedback.sqlite3"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("mnist_app/ui/pages/photo.py").run()
    at.selectbox(key="photo_sample").set_value("2026.jpg").run()
    assert not [b for b in at.button if b.label.startswith("✓ Yes")]  # drawn only once asked for
    at.session_state["photo_teach_0"] = True  # the visitor opens "Teach the model"
    at.run()
    yes = [b for b in at.button if b.label.startswith("✓ Yes")]
    assert len(yes) == 4  # one per digit of 2026
    yes[0].click().run()
    assert not at.exception, at.exception
    answers = FeedbackStore().list_answers()
    assert len(answers) == 1
    assert (answers[0].label, answers[0].predicted, answers[0].source) == (2, 2, "photo")
    assert answers[0].crop_png  # the digit's crop of the photo is kept too
