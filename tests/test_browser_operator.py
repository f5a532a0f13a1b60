"""The Operator page in Chromium: offered only where an operator secret is set, opened
only with it; it shows every visitor's answers and accepts them for training, which
takes accepted answers alone (``feedback.training_split``)."""

from __future__ import annotations

import numpy as np

from mnist_app.feedback import PENDING, FeedbackStore, training_split
from tests.browser_support import PAGE_TIMEOUT_MS, RERUN_TIMEOUT_MS, open_app

SECRET = "correct horse battery staple"
SERVER_ENV = {"MNIST_OPERATOR_SECRET": SECRET}


def test_the_operator_opens_with_the_secret_and_accepts_answers_for_training(browser, server, feedback_db,
                                                                            mnist_test):
    from playwright.sync_api import expect

    x, y = mnist_test
    store = FeedbackStore(feedback_db)
    for i, visitor in enumerate(["ann", "ann", "bob"]):
        store.for_profile(visitor).add(x[i], int(y[i]), int(y[i]), np.eye(10)[y[i]], "v", "draw")

    app = open_app(browser, server)
    page = app.page
    try:
        app.go_to("Operator")
        secret = page.get_by_label("Operator secret")
        secret.fill("guess")
        with app.rerun("opening with a wrong secret"):
            page.get_by_role("button", name="Open").click()
        expect(page.get_by_text("That is not the operator secret.")).to_be_visible()
        expect(page.get_by_text("Not reviewed")).to_have_count(0)  # nothing shown without it

        secret.fill(SECRET)
        with app.rerun("opening with the secret"):
            page.get_by_role("button", name="Open").click()
        expect(page.locator("[data-testid=stMetric]", has_text="Not reviewed")).to_contain_text("3",
                                                                                            timeout=PAGE_TIMEOUT_MS)
        expect(page.locator("[data-testid=stMetric]", has_text="Profiles")).to_contain_text("2")
        app.screenshot("page_operator")
        with app.rerun("accepting the page"):
            page.get_by_role("button", name="Accept the 3 on this page").click()
        expect(page.locator("[data-testid=stMetric]", has_text="Accepted for training")).to_contain_text(
            "3", timeout=RERUN_TIMEOUT_MS)
    finally:
        app.close()
    assert store.count(review="accepted") == 3 and store.count(review=PENDING) == 0
    (x_train, _), (x_held, _) = training_split(store)
    assert len(x_train) + len(x_held) == 3
