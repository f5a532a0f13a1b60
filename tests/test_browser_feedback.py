"""End-to-end feedback loop in Chromium: draw a digit with the mouse, correct the model's
reading, and see the answer counted in the live confusion matrix of "Your digits".

The server writes to a temporary store (MNIST_FEEDBACK_DB). Screenshots of the Your
digits and Model pages go to test-artifacts/.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from mnist_app.feedback import FeedbackStore
from tests.browser_support import (PAGE_TIMEOUT_MS, RERUN_TIMEOUT_MS, chromium, draw_strokes, open_page, runs,
                                   screenshot_whole_page, streamlit_server, wait_idle, wait_settled)

CANVAS = "canvas.upper-canvas"
PREDICTION = ".st-key-prediction"
FEEDBACK = ".st-key-draw_feedback_0"
MODEL_PAGE_TIMEOUT_MS = 180_000  # the first visit reads the 10k MNIST test digits


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    return tmp_path_factory.mktemp("feedback") / "feedback.sqlite3"


@pytest.fixture(scope="module")
def server(db_path):
    with streamlit_server(env={"MNIST_FEEDBACK_DB": str(db_path)}, log_name="browser-feedback") as url:
        yield url


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as b:
        yield b


def cell(page, true_digit: int, predicted_digit: int):
    """A confusion-matrix cell of the SVG heatmap, found by its accessible label."""
    return page.locator(f'path[aria-label*="True: {true_digit}; Predicted: {predicted_digit};"]')


def choose_option(page, container, option: str) -> None:
    """Pick ``option`` in the selectbox inside ``container`` and wait for the rerun."""
    combobox = container.get_by_role("combobox")
    before = runs(page)
    combobox.click()
    if combobox.get_attribute("aria-expanded") != "true":
        combobox.press("ArrowDown")  # a click does not always open the list
    page.get_by_role("option", name=option, exact=True).click()
    wait_settled(page, before)


def go_to(page, title: str) -> None:
    page.locator("[data-testid=stSidebarNav] a", has_text=title).click()


def test_a_corrected_drawing_is_counted_in_your_digits(browser, server, db_path):
    from playwright.sync_api import expect

    page = open_page(browser, server, CANVAS)
    try:
        box = page.locator(CANVAS).bounding_box()

        def at(fx, fy):
            return box["x"] + fx * box["width"], box["y"] + fy * box["height"]

        draw_strokes(page, [[at(0.38, 0.2), at(0.62, 0.2), at(0.47, 0.85)]])  # a 7
        expect(page.locator(PREDICTION)).to_have_text(re.compile(r"\d"))
        predicted = int(re.search(r"\d", page.locator(PREDICTION).inner_text()).group())
        # Any digit other than the one read: the correction is what must reach the matrix.
        label = (predicted + 1) % 10

        feedback = page.locator(FEEDBACK)
        choose_option(page, feedback, str(label))
        feedback.get_by_role("button", name="Save").click()
        expect(feedback).to_contain_text(f"saved as {label}", timeout=RERUN_TIMEOUT_MS)
        [answer] = FeedbackStore(db_path).list_answers()
        assert (answer.label, answer.predicted, answer.source) == (label, predicted, "draw")

        go_to(page, "Your digits")
        expect(cell(page, label, predicted)).to_have_attribute("aria-label", re.compile(r"Images: 1;"),
                                                               timeout=PAGE_TIMEOUT_MS)
        expect(page.locator("[data-testid=stMetric]", has_text="Answers")).to_contain_text("1")
        wait_idle(page)
        before = runs(page)
        cell(page, label, predicted).click(force=True)  # the count's text lies on top of the cell
        wait_settled(page, before)
        expect(page.get_by_role("heading", name=f"You meant {label}, the model read {predicted}")).to_be_visible()
        expect(page.get_by_text("1 image, newest first")).to_be_visible()
        screenshot_whole_page(page, "your_digits")

        with page.expect_download() as download:
            page.get_by_role("button", name="Labels (CSV)").click()
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
        assert [(int(r["label"]), int(r["predicted"])) for r in rows] == [(label, predicted)]

        go_to(page, "Model")
        expect(page.get_by_role("heading", name="Confusion matrix")).to_be_visible(timeout=MODEL_PAGE_TIMEOUT_MS)
        expect(cell(page, 0, 0)).to_be_visible(timeout=MODEL_PAGE_TIMEOUT_MS)
        wait_idle(page, MODEL_PAGE_TIMEOUT_MS)
        screenshot_whole_page(page, "model_page")
    finally:
        page.context.close()
