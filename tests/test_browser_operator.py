"""The Operator page in Chromium: offered only where an operator secret is set, opened
only with it; it shows how the model reads every visitor's digits (live figures, the
matrix whose cells open their digits) and every answer, to accept for training, which
takes accepted answers alone (``feedback.training_split``)."""

from __future__ import annotations

import re

import numpy as np

from mnist_app.feedback import PENDING, FeedbackStore, training_split
from tests.browser_support import PAGE_TIMEOUT_MS, RERUN_TIMEOUT_MS, matrix_cell, open_app

SECRET = "correct horse battery staple"
SERVER_ENV = {"MNIST_OPERATOR_SECRET": SECRET}


def test_the_operator_opens_with_the_secret_sees_the_wild_and_accepts_answers_for_training(
        browser, server, feedback_db, mnist_test):
    from playwright.sync_api import expect

    x, y = mnist_test
    store = FeedbackStore(feedback_db)
    sevens = np.flatnonzero(y == 7)[:2]
    three = int(np.flatnonzero(y == 3)[0])
    misread = np.full(10, 0.05)
    misread[1] = 0.55
    # Two visitors: ann's two 7s were read as 1 on the canvas, bob's 3 read right on a photo.
    ann_ids = [store.for_profile("ann").add(x[i], 7, 1, misread, "v", "draw", shown_sure=False) for i in sevens]
    store.for_profile("bob").add(x[three], 3, 3, np.eye(10)[3], "v", "photo", shown_sure=True)

    app = open_app(browser, server)
    page = app.page
    try:
        app.go_to("Operator")
        secret = page.get_by_label("Operator secret")
        secret.fill("guess")
        with app.rerun("opening with a wrong secret"):
            page.get_by_role("button", name="Open").click()
        expect(page.get_by_text("That is not the operator secret.")).to_be_visible()
        for hidden in ("In the wild", "Confusion in the wild", "Not reviewed"):  # nothing shown without it
            expect(page.get_by_text(hidden)).to_have_count(0)

        secret.fill(SECRET)
        with app.rerun("opening with the secret"):
            page.get_by_role("button", name="Open").click()
        # The wild, live: both visitors' answers, per source, over time and in the matrix.
        expect(page.get_by_text("3 answers from visitors")).to_be_visible(timeout=PAGE_TIMEOUT_MS)
        expect(page.get_by_role("heading", name="Over time")).to_be_visible()
        expect(matrix_cell(page, 7, 1)).to_have_attribute("aria-label", re.compile(r"Images: 2;"),
                                                   timeout=PAGE_TIMEOUT_MS)
        expect(matrix_cell(page, 3, 3)).to_have_attribute("aria-label", re.compile(r"Images: 1;"))
        expect(page.get_by_text("2 images, most confident first")).to_be_visible()  # the mistakes: ann's
        app.screenshot("page_operator")
        # Live: a new answer shows within the view's refresh, without a reload.
        store.for_profile("carol").add(x[three], 3, 3, np.eye(10)[3], "v", "photo", shown_sure=True)
        expect(page.get_by_text("4 answers from visitors")).to_be_visible(timeout=3 * 10_000)
        expect(matrix_cell(page, 3, 3)).to_have_attribute("aria-label", re.compile(r"Images: 2;"))
        with app.rerun("clicking the matrix cell"):
            matrix_cell(page, 7, 1).click(force=True)  # the count's text lies on top of the cell
        expect(page.get_by_role("heading", name="Meant 7, read 1")).to_be_visible()
        inspect = page.locator(".st-key-wild_gallery_all_71_inspect_1")
        inspect.get_by_role("combobox").click()
        shown = page.get_by_role("option").all_inner_texts()
        assert sorted(int(re.match(r"#(\d+) ", t).group(1)) for t in shown) == sorted(ann_ids), shown
        page.keyboard.press("Escape")

        with app.rerun("switching to the review"):
            page.get_by_text("Review answers", exact=True).click()
        expect(page.locator("[data-testid=stMetric]", has_text="Not reviewed")).to_contain_text("4",
                                                                                            timeout=PAGE_TIMEOUT_MS)
        expect(page.locator("[data-testid=stMetric]", has_text="Profiles")).to_contain_text("3")
        with app.rerun("accepting the page"):
            page.get_by_role("button", name="Accept the 4 on this page").click()
        expect(page.locator("[data-testid=stMetric]", has_text="Accepted for training")).to_contain_text(
            "4", timeout=RERUN_TIMEOUT_MS)
    finally:
        app.close()
    assert store.count(review="accepted") == 4 and store.count(review=PENDING) == 0
    (x_train, _), (x_held, _) = training_split(store)
    assert len(x_train) + len(x_held) == 4
