"""End-to-end: draw digits with a real mouse in a real browser and read the app's prediction.

Starts ``streamlit run app.py`` on a free port, opens it in Debian's Chromium through
Playwright, draws the stroke paths from ``tests/strokes.py`` on the drawable canvas and
checks the digits shown in the ``st.container(key="prediction")`` element.

Server, browser and the page helpers (``AppPage``: the rerun a mouse-up or click caused
is followed on the app's websocket; strokes wait for a freshly mounted canvas to reach
its final place) are in ``tests/browser_support.py``. Waits are on conditions, never
fixed sleeps. Screenshots and the server log go to ``test-artifacts/``; the Draw page's
picture for the README is ``test-artifacts/page_draw.png``.
"""

from __future__ import annotations

import pytest

from tests.browser_support import CANVAS, NO_DIGITS, PREDICTION, open_app

WIDTH_SLIDER = ".st-key-stroke_width input[type=range]"  # react-aria slider
CHART = "[data-testid=stVegaLiteChart]"


@pytest.fixture(scope="module")
def app(browser, server):
    """One tab for the module: the first page load (TensorFlow import) is the slow part."""
    app = open_app(browser, server, CANVAS, PREDICTION)
    yield app
    app.close()


# --------------------------------------------------------------------------- #
# Tests
# --------------------------------------------------------------------------- #
def test_empty_canvas_shows_no_digits(app):
    from playwright.sync_api import expect

    expect(app.page.locator(PREDICTION)).to_have_text(NO_DIGITS)
    app.screenshot("draw_empty")


# (name, stroke style, expected digit, box centre as fractions of the canvas width and
# height, box size as a fraction of the canvas height)
SINGLE_DIGITS = [
    ("3_centre", "3", "3", 0.50, 0.50, 0.80),
    ("7_centre", "7", "7", 0.50, 0.50, 0.80),
    ("2_small_top_left", "2", "2", 0.22, 0.26, 0.42),
    ("0", "0", "0", 0.50, 0.50, 0.80),
    ("1_flag_base", "1_flag_base", "1", 0.50, 0.50, 0.80),
    ("4_open", "4_open", "4", 0.50, 0.50, 0.80),
    ("5", "5", "5", 0.50, 0.50, 0.80),
    ("6", "6", "6", 0.50, 0.50, 0.80),
    ("7_crossbar", "7_crossbar", "7", 0.50, 0.50, 0.80),
    ("8", "8", "8", 0.50, 0.50, 0.80),
    ("9_small_bottom_right", "9", "9", 0.80, 0.74, 0.42),
]


@pytest.mark.parametrize(
    "name,style,expected,cx,cy,size", SINGLE_DIGITS, ids=[c[0] for c in SINGLE_DIGITS]
)
def test_single_digit(app, name, style, expected, cx, cy, size):
    app.clear()
    app.draw(style, cx, cy, size)
    app.assert_reads(expected, f"draw_{name}")


def test_thin_stroke_digit(browser, server):
    """Stroke-width slider set to its minimum (keyboard), then a large 4: still read as 4."""
    from playwright.sync_api import expect

    app = open_app(browser, server, CANVAS, PREDICTION)  # own tab: the narrow width must not leak
    try:
        slider = app.page.locator(WIDTH_SLIDER)
        low = slider.get_attribute("min")
        changed = slider.input_value() != low
        before = app.requests
        slider.focus()
        app.page.keyboard.press("Home")
        expect(slider).to_have_value(low)
        if changed:
            app.wait_processed(before, "moving the stroke-width slider")
        app.draw("4", 0.50, 0.50, 0.92)
        app.assert_reads("4", f"draw_4_thin_width{low}")
    finally:
        app.close()


@pytest.mark.parametrize("left,right", [("4", "1"), ("2", "7")])
def test_two_digits_side_by_side(app, left, right):
    app.clear()
    app.draw(left, 0.32, 0.50, 0.75)
    app.draw(right, 0.68, 0.50, 0.75)
    app.assert_reads(left + right, f"draw_{left}{right}")


def test_clear_empties_prediction(app):
    from playwright.sync_api import expect

    app.clear()
    app.draw("5", 0.50, 0.50, 0.80)
    assert app.read_number() is not None, f"no digits after drawing: {app.prediction_text()!r}"
    app.clear()
    expect(app.page.locator(PREDICTION)).to_have_text(NO_DIGITS)
    app.screenshot("draw_cleared")


def test_draw_page_screenshot(app):
    """The Draw page as a user sees it after drawing: the reading, the probability chart
    and the saliency pictures, all rendered (``test-artifacts/page_draw.png``)."""
    from playwright.sync_api import expect

    app.clear()
    app.draw("3", 0.50, 0.50, 0.80)
    expect(app.page.locator(CHART).first).to_be_visible()
    expect(app.page.get_by_text("What the model saw, and why")).to_be_visible()
    for caption in ("The 28x28 input", "Saliency for '3' on the input", "Saliency mapped back onto your drawing"):
        expect(app.page.locator("[data-testid=stImageContainer]", has_text=caption).locator("img")).to_be_visible()
    assert app.wait_rendered(), "the chart or the saliency pictures never finished loading"
    app.assert_reads("3", "page_draw")


def test_on_a_phone_the_canvas_fits_and_the_reading_stays_in_view(browser, server):
    """390x844 with touch: a finger draws a 1 (real touch events); the canvas fits the
    screen's width, and the reading and its answer buttons are on screen with it,
    without scrolling."""
    from playwright.sync_api import expect

    phone = {"width": 390, "height": 844}
    app = open_app(browser, server, CANVAS, viewport=phone, has_touch=True, is_mobile=True)
    try:
        box = app.canvas_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= phone["width"], box
        touch = app.page.context.new_cdp_session(app.page)
        points = [{"x": box["x"] + 0.5 * box["width"], "y": box["y"] + (0.15 + 0.035 * i) * box["height"]}
                  for i in range(21)]
        with app.rerun("drawing a 1 with a finger"):
            touch.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [points[0]]})
            for point in points[1:]:
                touch.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
            touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        expect(app.page.locator(PREDICTION)).to_contain_text("Prediction: 1")
        yes = app.page.get_by_role("button", name="Yes, it is a 1")
        for element in (app.page.locator(PREDICTION), yes, app.page.get_by_role("button", name="Save")):
            expect(element).to_be_in_viewport(ratio=1)
        assert app.page.evaluate("window.scrollY") == 0
        assert app.canvas_box()["y"] + app.canvas_box()["height"] <= app.page.locator(PREDICTION).bounding_box()["y"]
        app.screenshot("page_draw_phone")
    finally:
        app.close()
