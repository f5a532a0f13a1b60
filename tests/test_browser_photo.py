"""End to end in Chromium on the Photo page: upload a phone photo and a corrupt file,
and pick a sample photo.

Uses the shared server, browser and ``AppPage`` helpers of ``tests/browser_support.py``;
the full-page screenshots go to ``test-artifacts/photo_upload.png`` and
``test-artifacts/page_photo.png`` (the page's picture for the README).
"""

import re


from tests.browser_support import RERUN_TIMEOUT_MS, open_app
from tests.conftest import ROOT
from tests.photos import SAMPLE_SPECS

UPLOADER = ".st-key-photo_files"
UPLOAD_INPUT = f"{UPLOADER} [data-testid=stFileUploaderDropzoneInput]"
SAMPLE_PICKER = ".st-key-photo_sample"


def open_the_pipeline_and_shoot(app, name: str) -> None:
    """Open the expander with the pipeline's steps and take the whole page once its
    pictures have loaded."""
    from playwright.sync_api import expect

    app.page.get_by_text("How the photo was read").first.click()
    expect(app.page.get_by_text("1. Light flattened").first).to_be_visible()
    assert app.wait_rendered(), "the photo's pictures never finished loading"
    app.screenshot(name)


def test_upload_a_photo_and_a_corrupt_file(browser, server):
    from playwright.sync_api import expect

    app = open_app(browser, f"{server}/photo", UPLOADER)
    page = app.page
    try:
        photo = (ROOT / "assets" / "samples" / "2026.jpg").read_bytes()
        with app.rerun("uploading two files", timeout_s=2 * RERUN_TIMEOUT_MS / 1000):
            page.set_input_files(UPLOAD_INPUT, files=[
                {"name": "desk-photo.jpg", "mimeType": "image/jpeg", "buffer": photo},
                {"name": "broken.jpg", "mimeType": "image/jpeg", "buffer": photo[:1500]},
            ])
        result = page.locator(".st-key-photo_result_0")
        expect(result).to_be_visible(timeout=RERUN_TIMEOUT_MS)
        number = re.search(r"\d+", result.inner_text())
        assert number and number.group() == SAMPLE_SPECS["2026.jpg"][1].label, result.inner_text()
        error = page.locator("[data-testid=stAlertContentError]").filter(has_text="broken.jpg")
        expect(error).to_have_count(1)
        expect(error).to_contain_text("corrupt or incomplete")
        expect(page.locator(".st-key-photo_result_1")).to_have_count(0)
        expect(page.get_by_text("Traceback")).to_have_count(0)
        open_the_pipeline_and_shoot(app, "photo_upload")
    finally:
        app.close()


def test_a_sample_photo_is_read(browser, server):
    """Picking "A phone photo of 2026" reads 2026 and shows the crops and the pipeline
    (``test-artifacts/page_photo.png``)."""
    from playwright.sync_api import expect

    app = open_app(browser, f"{server}/photo", SAMPLE_PICKER)
    page = app.page
    try:
        app.select_option(page.locator(SAMPLE_PICKER), "A phone photo of 2026")
        result = page.locator(".st-key-photo_result_0")
        expect(result).to_be_visible(timeout=RERUN_TIMEOUT_MS)
        expect(result).to_contain_text(SAMPLE_SPECS["2026.jpg"][1].label)
        expect(page.get_by_text("Sample: A phone photo of 2026")).to_be_visible()
        expect(page.locator("[data-testid=stAlertContentError]")).to_have_count(0)
        expect(page.get_by_text("Traceback")).to_have_count(0)
        open_the_pipeline_and_shoot(app, "page_photo")
    finally:
        app.close()


def test_the_answers_are_drawn_when_asked_for_and_stored(browser, server, feedback_db):
    """Opening "Teach the model" shows a "Yes" button per digit (drawn by the panel's own
    rerun; tests/test_app_photo.py checks they are not sent before); "Yes" under the first
    digit of 2026 stores a 2 read from a photo."""
    from playwright.sync_api import expect

    from mnist_app.feedback import FeedbackStore

    app = open_app(browser, f"{server}/photo", SAMPLE_PICKER)
    page = app.page
    try:
        app.select_option(page.locator(SAMPLE_PICKER), "A phone photo of 2026")
        expect(page.locator(".st-key-photo_result_0")).to_contain_text("2026", timeout=RERUN_TIMEOUT_MS)
        yes = page.get_by_role("button", name=re.compile("Yes, it is a"))
        expect(yes).to_have_count(0)
        page.get_by_text("Teach the model: were these digits read right?").click()
        expect(yes).to_have_count(4, timeout=RERUN_TIMEOUT_MS)
        expect(yes.first).to_contain_text("Yes, it is a 2")
        yes.first.click()
        expect(page.get_by_text("Digit #1: saved as 2")).to_be_visible(timeout=RERUN_TIMEOUT_MS)
        expect(page.get_by_text("Traceback")).to_have_count(0)
        answers = FeedbackStore(feedback_db).list_answers()
        assert [(a.label, a.predicted, a.source) for a in answers] == [(2, 2, "photo")]
    finally:
        app.close()
