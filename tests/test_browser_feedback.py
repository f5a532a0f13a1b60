"""End-to-end feedback loop in Chromium: draw a digit with the mouse, correct the model's
reading, see the next reading follow the correction and the answer counted in the live
confusion matrix of "Your digits"; each visitor (a browser context of its own) sees
only their own digits, kept in the address, and reads with only their own examples.

The server writes to a temporary store (MNIST_FEEDBACK_DB). Screenshots of the Your
digits and Model pages go to test-artifacts/page_your_digits.png and page_model.png.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from mnist_app.feedback import FeedbackStore
from tests.browser_support import CANVAS, PAGE_TIMEOUT_MS, PREDICTION, RERUN_TIMEOUT_MS, matrix_cell, open_app

FEEDBACK = ".st-key-draw_feedback_0"
YOUR_EXAMPLES = ".st-key-your_examples"
SEVEN = ((0.38, 0.2), (0.62, 0.2), (0.47, 0.85))
MODEL_PAGE_TIMEOUT_MS = 180_000  # the first visit reads the 10k MNIST test digits


def test_a_corrected_drawing_is_counted_in_your_digits(browser, server, feedback_db):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    app = open_app(browser, server, CANVAS, PREDICTION)
    page = app.page
    try:
        box = app.canvas_box()

        def at(fx, fy):
            return box["x"] + fx * box["width"], box["y"] + fy * box["height"]

        app.draw_strokes([[at(0.38, 0.2), at(0.62, 0.2), at(0.47, 0.85)]], "drawing a 7")
        expect(page.locator(PREDICTION)).to_have_text(re.compile(r"\d"))
        predicted = int(re.search(r"\d", page.locator(PREDICTION).inner_text()).group())
        # Any digit other than the one read: the correction is what must reach the matrix.
        label = (predicted + 1) % 10

        feedback = page.locator(FEEDBACK)
        app.select_option(feedback, str(label))
        with app.rerun("clicking Save"):
            feedback.get_by_role("button", name="Save").click()
        expect(feedback).to_contain_text(f"saved as {label}", timeout=RERUN_TIMEOUT_MS)
        [answer] = FeedbackStore(feedback_db).list_answers()
        assert (answer.label, answer.predicted, answer.source) == (label, predicted, "draw")

        app.go_to("Your digits")
        expect(matrix_cell(page, label, predicted)).to_have_attribute("aria-label", re.compile(r"Images: 1;"),
                                                               timeout=PAGE_TIMEOUT_MS)
        expect(page.locator("[data-testid=stMetric]", has_text="Answers")).to_contain_text("1")
        with app.rerun("clicking the matrix cell"):
            matrix_cell(page, label, predicted).click(force=True)  # the count's text lies on top of the cell
        expect(page.get_by_role("heading", name=f"You meant {label}, the model read {predicted}")).to_be_visible()
        expect(page.get_by_text("1 image, newest first")).to_be_visible()
        app.screenshot("page_your_digits")

        try:
            with page.expect_download() as download:
                page.get_by_role("button", name="Labels (CSV)").click()
        except PlaywrightTimeout:
            pytest.fail(f"clicking Labels (CSV) started no download; server errors: {app.backend_errors}; "
                        f"screenshot: {app.screenshot('download_failed', render_timeout_ms=2000)}")
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
        assert [(int(r["label"]), int(r["predicted"])) for r in rows] == [(label, predicted)]

        app.go_to("Model", timeout_s=MODEL_PAGE_TIMEOUT_MS / 1000)
        expect(page.get_by_role("heading", name="Confusion matrix")).to_be_visible(timeout=MODEL_PAGE_TIMEOUT_MS)
        expect(matrix_cell(page, 0, 0)).to_be_visible(timeout=MODEL_PAGE_TIMEOUT_MS)
        app.screenshot("page_model")
    finally:
        app.close()


def profile_in(url: str) -> str:
    return parse_qs(urlparse(url).query)["profile"][0]


def test_your_digits_are_yours_alone_and_come_back_with_your_address(browser, server, feedback_db):
    from playwright.sync_api import expect

    others = FeedbackStore(feedback_db).count()  # other visitors' answers (the test above)
    first = open_app(browser, server, CANVAS, PREDICTION)
    try:
        box = first.canvas_box()
        first.draw_strokes([[(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in SEVEN]],
                           "drawing a 7")
        expect(first.page.locator(PREDICTION)).to_have_text(re.compile(r"\d"))
        shared = int(re.search(r"\d", first.page.locator(PREDICTION).inner_text()).group())
        label = (shared + 1) % 10  # this visitor writes their sevens so that they mean another digit
        feedback = first.page.locator(FEEDBACK)
        first.select_option(feedback, str(label))
        with first.rerun("clicking Save"):
            feedback.get_by_role("button", name="Save").click()
        expect(feedback).to_contain_text(f"saved as {label}", timeout=RERUN_TIMEOUT_MS)
        # The correction reads the very next time, and says where the reading comes from.
        expect(first.page.locator(PREDICTION)).to_contain_text(f"Prediction: {label}")
        expect(first.page.locator(YOUR_EXAMPLES)).to_contain_text(f"like 1 of your {label}s")
        expect(first.page.locator(YOUR_EXAMPLES)).to_contain_text(f"the shared model alone reads {shared}")
        mine = profile_in(first.page.url)
        assert FeedbackStore(feedback_db).for_profile(mine).count() == 1
    finally:
        first.close()

    stranger = open_app(browser, server, CANVAS, PREDICTION)
    try:
        # No operator secret on this server: no Operator page to find.
        expect(stranger.page.locator("[data-testid=stSidebarNav] a", has_text="Operator")).to_have_count(0)
        box = stranger.canvas_box()
        stranger.draw_strokes([[(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
                                for fx, fy in SEVEN]], "drawing the same 7")
        # The first visitor's correction is theirs: the stranger reads with the shared model.
        expect(stranger.page.locator(PREDICTION)).to_contain_text(f"Prediction: {shared}")
        expect(stranger.page.locator(YOUR_EXAMPLES)).to_have_count(0)
        stranger.go_to("Your digits")
        expect(stranger.page.get_by_text("No answers yet")).to_be_visible()
        theirs = profile_in(stranger.page.url)
        assert theirs != mine
        with stranger.rerun("clicking Start afresh"):
            stranger.page.get_by_role("button", name="Start afresh").click()
        expect(stranger.page).not_to_have_url(re.compile(re.escape(theirs)))
        expect(stranger.page.get_by_text(profile_in(stranger.page.url))).to_be_visible()  # the page says which
    finally:
        stranger.close()

    back = open_app(browser, f"{server}/your_digits?profile={mine}")  # a bookmark, another device
    try:
        expect(back.page.locator("[data-testid=stMetric]", has_text="Answers")).to_contain_text(
            "1", timeout=PAGE_TIMEOUT_MS)
        assert profile_in(back.page.url) == mine
        with back.rerun("clicking Delete all your digits"):
            back.page.get_by_role("button", name="Delete all your digits").click()
        expect(back.page.get_by_text("Deleted all 1 of your digits")).to_be_visible()
        expect(back.page.get_by_text("No answers yet")).to_be_visible()
    finally:
        back.close()
    store = FeedbackStore(feedback_db)
    assert store.for_profile(mine).count() == 0 and store.count() == others  # theirs untouched
