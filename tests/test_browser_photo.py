"""End to end in Chromium: upload a phone photo and a corrupt file on the Photo page.

Uses the shared server and browser helpers of ``tests/browser_support.py``; the
full-page screenshot goes to ``test-artifacts/photo_upload.png``.
"""

import re

import pytest

from tests.browser_support import (
    RERUN_TIMEOUT_MS,
    chromium,
    open_page,
    runs,
    screenshot_whole_page,
    streamlit_server,
    wait_settled,
)
from tests.conftest import ROOT
from tests.photos import SAMPLE_SPECS

UPLOAD_INPUT = ".st-key-photo_files [data-testid=stFileUploaderDropzoneInput]"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = tmp_path_factory.mktemp("feedback") / "feedback.sqlite3"
    with streamlit_server(env={"MNIST_FEEDBACK_DB": str(db)}, log_name="photo") as url:
        yield url


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as b:
        yield b


def test_upload_a_photo_and_a_corrupt_file(browser, server):
    from playwright.sync_api import expect

    page = open_page(browser, f"{server}/photo", ready_selector=".st-key-photo_files")
    try:
        photo = (ROOT / "assets" / "samples" / "2026.jpg").read_bytes()
        before = runs(page)
        page.set_input_files(UPLOAD_INPUT, files=[
            {"name": "desk-photo.jpg", "mimeType": "image/jpeg", "buffer": photo},
            {"name": "broken.jpg", "mimeType": "image/jpeg", "buffer": photo[:1500]},
        ])
        wait_settled(page, before, timeout_ms=2 * RERUN_TIMEOUT_MS)
        result = page.locator(".st-key-photo_result_0")
        expect(result).to_be_visible(timeout=RERUN_TIMEOUT_MS)
        number = re.search(r"\d+", result.inner_text())
        assert number and number.group() == SAMPLE_SPECS["2026.jpg"][1].label, result.inner_text()
        error = page.locator("[data-testid=stAlertContentError]").filter(has_text="broken.jpg")
        expect(error).to_have_count(1)
        expect(error).to_contain_text("corrupt or truncated")
        expect(page.locator(".st-key-photo_result_1")).to_have_count(0)
        expect(page.get_by_text("Traceback")).to_have_count(0)
        # The expander with the pipeline's steps opens.
        page.get_by_text("How the photo was read").first.click()
        expect(page.get_by_text("1. Light flattened").first).to_be_visible()
        # Images take their height once loaded: wait, so the whole page is measured.
        page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalHeight > 0)")
        screenshot_whole_page(page, "photo_upload")
    finally:
        page.context.close()
