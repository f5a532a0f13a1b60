"""Shared pieces for the end-to-end tests and ``make bench``: a real ``streamlit run
app.py`` server, Debian's Chromium driven by Playwright, and ``AppPage``, a tab on the
app that follows its websocket to know when a rerun is really done.

Use from a test module::

    from tests.browser_support import chromium, open_app, streamlit_server

    @pytest.fixture(scope="module")
    def server(tmp_path_factory):
        with streamlit_server(env={"MNIST_FEEDBACK_DB": str(tmp_path_factory.mktemp("db") / "f.sqlite3")},
                              log_name="my-test") as app_server:
            yield app_server.url

    @pytest.fixture(scope="module")
    def browser(server):
        with chromium() as b:
            yield b

    def test_something(browser, server):
        app = open_app(browser, server, CANVAS, PREDICTION)
        app.draw("3", 0.5, 0.5, 0.8)                  # waits for the rerun it caused
        with app.rerun("clicking Save"):              # any other action that reruns
            app.page.get_by_role("button", name="Save").click()
        app.screenshot("page_draw")                   # whole page, charts and images loaded

Needs ``/usr/bin/chromium`` (``apt-get install -y chromium``; Playwright's own browser
download cannot work offline). Without it tests are skipped locally but fail in CI
(env ``CI`` set), where ``.ci/run`` installs it. Screenshots and server logs go to
``test-artifacts/``. Every wait is on a condition, never a fixed sleep.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.strokes import DIGIT_STROKES, place

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
SERVER_START_TIMEOUT_S = 90
PAGE_TIMEOUT_MS = 60_000  # a first load imports TensorFlow and loads the model
RERUN_TIMEOUT_MS = 30_000
VIEWPORT = {"width": 1400, "height": 1100}

# The Draw page
CANVAS = "canvas.upper-canvas"  # Fabric's event layer, inside the component's shadow root
PREDICTION = ".st-key-prediction"
CLEAR_BUTTON = ".st-key-clear_canvas button"
NO_DIGITS = re.compile(r"^\D*$")

SETTLE_S = 0.3  # the app must have been quiet this long after its last run finished
POLL_MS = 50  # polling interval of the bounded websocket wait
MOUSE_SPACING_PX = 10  # stroke points this far apart, each reached in 4 mouse-move steps

# True once the (single) drawing canvas sits at the top of its element container and
# fills it, unchanged over two animation frames. A freshly mounted canvas (page load,
# or Clear changing its key) is first laid out some 330 px lower for up to ~2 s while
# the component initialises; strokes aimed at it then would land on the widgets below.
_CANVAS_SETTLED_JS = """
() => {
  const measure = () => {
    const canvases = [];
    for (const host of document.querySelectorAll('[data-testid=stBidiComponentIsolated]')) {
      const cv = host.shadowRoot && host.shadowRoot.querySelector('canvas.upper-canvas');
      if (cv) canvases.push([host, cv]);
    }
    if (canvases.length !== 1) return null;
    const [host, cv] = canvases[0];
    const box = (host.closest('[data-testid=stElementContainer]') || host).getBoundingClientRect();
    const c = cv.getBoundingClientRect();
    if (c.width < 1 || Math.abs(c.top - box.top) > 2 || Math.abs(c.height - box.height) > 2) return null;
    return [c.left, c.top, c.width, c.height].join();
  };
  // Polled once per animation frame: compare with the previous frame's layout.
  const now = measure(), before = window.__canvasLayout;
  window.__canvasLayout = now;
  return now !== null && now === before;
}
"""

# True once nothing in the main area is still loading: no grey skeleton (lazily loaded
# elements), every image decoded with a size (their heights count for a whole-page shot),
# and every Vega-Lite chart drawn.
_RENDERED_JS = """
() => {
  const main = document.querySelector('[data-testid=stMain]');
  if (!main || main.querySelector('[data-testid=stSkeleton]')) return false;
  if (![...main.querySelectorAll('img')].every((img) => img.complete && img.naturalHeight > 0)) return false;
  return [...main.querySelectorAll('[data-testid=stVegaLiteChart]')].every((chart) =>
    [...chart.querySelectorAll('svg, canvas')].some((el) => el.getBoundingClientRect().height > 0));
}
"""
# True once the page has stopped moving: no finite animation or transition running
# (an expander opening slides), and the content's height unchanged over three animation
# frames (polled once per frame).
_LAYOUT_STILL_JS = """
() => {
  const main = document.querySelector('[data-testid=stMain]') || document.documentElement;
  const moving = document.getAnimations().some((a) => a.playState === 'running'
    && !(a.effect && a.effect.getComputedTiming().iterations === Infinity));
  const height = main.scrollHeight, same = window.__shotHeight === height;
  window.__shotHeight = height;
  window.__shotFrames = same ? (window.__shotFrames || 0) + 1 : 0;
  return !moving && window.__shotFrames >= 3;
}
"""
_NO_TOAST_JS = "() => !document.querySelector('[data-testid=stToast]')"  # toasts leave after ~4 s
_CONTENT_HEIGHT_JS = "() => (document.querySelector('[data-testid=stMain]') || document.documentElement).scrollHeight"


# --------------------------------------------------------------------------- #
# Server and browser
# --------------------------------------------------------------------------- #
def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str):
    """Skip locally, fail in CI: the CI script installs everything these tests need."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so this is an error, not a skip)", pytrace=False)
    pytest.skip(reason)


def require_browser() -> None:
    """Chromium and Playwright present, or skip (fail in CI); checked before the slow server start."""
    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("playwright is not installed (pip install -r requirements-test.txt)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _health_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200 and resp.read().strip() == b"ok"
    except OSError:
        return False


@dataclasses.dataclass(frozen=True)
class AppServer:
    url: str  # http://127.0.0.1:<port>
    pid: int  # the streamlit process
    log_path: Path

    def rss_mb(self, field: str = "VmRSS") -> float:
        """Resident memory of the server process now (``VmRSS``) or at its peak (``VmHWM``)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
        raise ValueError(f"no {field} in /proc/{self.pid}/status")


@contextlib.contextmanager
def streamlit_server(app: str = "app.py", env: dict[str, str] | None = None, log_name: str = "browser-test",
                     for_browser: bool = True, options: dict[str, str] | None = None):
    """``streamlit run app`` on a free port with extra ``env`` and config ``options``
    (e.g. ``{"server.disconnectedSessionTTL": "10"}``); yields an ``AppServer`` and
    stops the server's whole process group afterwards. The log goes to
    ``test-artifacts/<log_name>-server.log``. ``for_browser``: check for Chromium first
    (skip or fail before the slow start)."""
    if for_browser:
        require_browser()
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    log_path = ARTIFACTS / f"{log_name}-server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [
                # app.py as ``make run`` starts it (its imports begun while the server starts).
                *([sys.executable, "-m", "mnist_app.ui.serve"] if app == "app.py"
                  else [sys.executable, "-m", "streamlit", "run", app]),
                "--server.headless", "true",
                "--browser.gatherUsageStats", "false",
                "--server.address", "127.0.0.1",
                "--server.port", str(port),
                "--server.fileWatcherType", "none",
                *(arg for name, value in (options or {}).items() for arg in (f"--{name}", value)),
            ],
            cwd=ROOT,
            # MALLOC_ARENA_MAX as ``make run`` starts the app (see the Makefile).
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1", "MALLOC_ARENA_MAX": "2",
                 **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group, so teardown can stop it all
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + SERVER_START_TIMEOUT_S
            while not _health_ok(f"{base}/_stcore/health"):
                if proc.poll() is not None:
                    pytest.fail(f"streamlit exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    pytest.fail(f"streamlit not healthy after {SERVER_START_TIMEOUT_S} s:\n"
                                f"{log_path.read_text()[-3000:]}")
                time.sleep(0.05)  # polling interval of a bounded wait
            yield AppServer(base, proc.pid, log_path)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=15)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)


@contextlib.contextmanager
def chromium():
    """A headless Chromium (Debian's) through Playwright."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


# --------------------------------------------------------------------------- #
# A tab on the app
# --------------------------------------------------------------------------- #
def _resample(stroke, spacing: float):
    """Keep stroke points at least ``spacing`` px apart (and the last point)."""
    out = [stroke[0]]
    for p in stroke[1:-1]:
        if (p[0] - out[-1][0]) ** 2 + (p[1] - out[-1][1]) ** 2 >= spacing**2:
            out.append(p)
    if len(stroke) > 1:
        out.append(stroke[-1])
    return out


class AppPage:
    """A browser tab on the app that follows its websocket to know when a rerun is done.

    Every widget change (a mouse-up on the canvas, a click, a slider move, a file
    upload, a page link) makes the browser send a ``rerun_script`` BackMsg; the server
    answers with ``new_session`` when a run starts and ``script_finished`` when it ends
    (a run interrupted by a newer request ends ``FINISHED_EARLY_FOR_RERUN``). The app
    has processed the latest request once a run started after it has finished
    successfully and nothing else followed for ``SETTLE_S``. Unlike watching the DOM's
    script state, this cannot miss a request that arrives while a run is going on.
    """

    def __init__(self, page):
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self._BackMsg, self._ForwardMsg = BackMsg, ForwardMsg
        self._ok = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}
        self.page = page
        self.requests = 0  # rerun_script messages sent so far
        self._events: list[tuple] = []  # ("request", n) | ("start", run_id) | ("finish", run_id, status)
        self.backend_errors: list[str] = []  # failed backend operations (e.g. a deferred download)
        self._last_frame = time.monotonic()
        page.on("websocket", self._attach)

    # websocket bookkeeping (Playwright calls these while the test waits on it)
    def _attach(self, ws) -> None:
        if "_stcore/stream" in ws.url:
            ws.on("framesent", self._on_sent)
            ws.on("framereceived", self._on_received)

    def _on_sent(self, payload) -> None:
        if isinstance(payload, (bytes, bytearray)):
            msg = self._BackMsg.FromString(bytes(payload))
            if msg.WhichOneof("type") == "rerun_script":
                self.requests += 1
                self._events.append(("request", self.requests))

    def _on_received(self, payload) -> None:
        self._last_frame = time.monotonic()
        if not isinstance(payload, (bytes, bytearray)):
            return
        msg = self._ForwardMsg.FromString(bytes(payload))
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self._events.append(("start", msg.metadata.run.script_run_id))
        elif kind == "script_finished":
            self._events.append(("finish", msg.metadata.run.script_run_id, msg.script_finished))
        elif kind == "backend_operation_response" and msg.backend_operation_response.error_msg:
            self.backend_errors.append(msg.backend_operation_response.error_msg)

    def _processed(self, after: int) -> bool:
        """True when a request newer than ``after`` was made and the app is done with it."""
        if self.requests <= after:
            return False
        last_request = max(i for i, e in enumerate(self._events) if e[0] == "request")
        later = self._events[last_request + 1 :]
        starts = [i for i, e in enumerate(later) if e[0] == "start"]
        if not starts:
            return False
        run_id = later[starts[-1]][1]
        finished = any(e[0] == "finish" and e[1] == run_id and e[2] in self._ok for e in later[starts[-1] :])
        return finished and time.monotonic() - self._last_frame >= SETTLE_S

    def wait_processed(self, after: int, what: str, timeout_s: float = RERUN_TIMEOUT_MS / 1000) -> None:
        """Wait (bounded) until the app has finished the rerun requested after request
        count ``after`` (take ``self.requests`` before the action)."""
        deadline = time.monotonic() + timeout_s
        while not self._processed(after):
            if time.monotonic() > deadline:
                path = self.screenshot("timeout", render_timeout_ms=2000)
                if self.requests <= after:
                    pytest.fail(f"{what}: the browser requested no rerun (input lost?); screenshot: {path}")
                pytest.fail(f"{what}: rerun not finished after {timeout_s:.0f} s "
                            f"(events since: {self._events[-6:]}); screenshot: {path}")
            self.page.wait_for_timeout(POLL_MS)  # lets Playwright deliver websocket events

    @contextlib.contextmanager
    def rerun(self, what: str, timeout_s: float = RERUN_TIMEOUT_MS / 1000):
        """``with app.rerun("clicking Save"): button.click()``: wait for the rerun the
        block's action caused."""
        before = self.requests
        yield
        self.wait_processed(before, what, timeout_s)

    def select_option(self, container, option: str) -> None:
        """Pick ``option`` in the selectbox inside the locator ``container``; wait for the rerun."""
        combobox = container.get_by_role("combobox")
        combobox.click()
        if combobox.get_attribute("aria-expanded") != "true":
            combobox.press("ArrowDown")  # a click does not always open the list
        with self.rerun(f"choosing {option!r}"):
            self.page.get_by_role("option", name=option, exact=True).click()

    def go_to(self, title: str, timeout_s: float = PAGE_TIMEOUT_MS / 1000) -> None:
        """Follow the sidebar link ``title`` and wait until the page's first run is done."""
        with self.rerun(f"opening {title!r}", timeout_s):
            self.page.locator("[data-testid=stSidebarNav] a", has_text=title).click()

    # the Draw page
    def canvas_box(self) -> dict:
        """The canvas's bounding box once its layout has settled (see _CANVAS_SETTLED_JS)."""
        self.page.wait_for_function(_CANVAS_SETTLED_JS, timeout=RERUN_TIMEOUT_MS)
        box = self.page.locator(CANVAS).bounding_box()
        assert box and box["width"] >= 150 and box["height"] >= 80, f"canvas too small: {box}"  # zoomed on a phone
        return box

    def draw_strokes(self, strokes, what: str = "drawing") -> None:
        """Draw ``strokes`` (lists of (x, y) page coordinates) with the mouse, one
        down/move/up per stroke as a person would, then wait for the rerun."""
        mouse = self.page.mouse
        before = self.requests
        for stroke in (_resample(pts, MOUSE_SPACING_PX) for pts in strokes):
            mouse.move(*stroke[0])
            mouse.down()
            for x, y in stroke[1:]:
                mouse.move(x, y, steps=4)
            before = self.requests
            mouse.up()
        self.wait_processed(before, what)

    def draw(self, key: str, cx: float, cy: float, size: float) -> None:
        """Draw ``DIGIT_STROKES[key]`` in a square box centred at (``cx``, ``cy``), given as
        fractions of the canvas width and height, ``size`` times the canvas height across."""
        box = self.canvas_box()
        side = size * box["height"]
        strokes = place(
            DIGIT_STROKES[key],
            box["x"] + cx * box["width"] - side / 2,
            box["y"] + cy * box["height"] - side / 2,
            side,
            side,
        )
        self.draw_strokes(strokes, f"drawing {key!r}")

    def clear(self) -> None:
        """Click Clear; wait until the prediction shows no digits and the canvas has been
        remounted (its key changes), so the next strokes land on the new canvas."""
        from playwright.sync_api import expect

        old_canvas = self.page.locator(CANVAS).element_handle()
        with self.rerun("clicking Clear"):
            self.page.locator(CLEAR_BUTTON).click()
        expect(self.page.locator(PREDICTION)).to_have_text(NO_DIGITS, timeout=RERUN_TIMEOUT_MS)
        self.page.wait_for_function("el => !el.isConnected", arg=old_canvas, timeout=RERUN_TIMEOUT_MS)
        expect(self.page.locator(CANVAS)).to_be_visible(timeout=RERUN_TIMEOUT_MS)

    def prediction_text(self) -> str:
        return " ".join(self.page.locator(PREDICTION).inner_text().split())

    def read_number(self) -> str | None:
        """The first run of digits in the prediction container, or None."""
        m = re.search(r"\d+", self.prediction_text())
        return m.group(0) if m else None

    def assert_reads(self, expected: str, shot: str) -> None:
        path = self.screenshot(shot)
        got, text = self.read_number(), self.prediction_text()
        assert got == expected, f"drew {expected!r}, app read {got!r} (text {text!r}); screenshot: {path}"

    # pictures
    def _wait(self, js: str, timeout_ms: int) -> bool:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            self.page.wait_for_function(js, timeout=timeout_ms)
            return True
        except PlaywrightTimeout:
            return False

    def wait_rendered(self, timeout_ms: int = RERUN_TIMEOUT_MS) -> bool:
        """Wait until charts and images have loaded (see _RENDERED_JS) and the layout has
        stopped moving (see _LAYOUT_STILL_JS); False if not within ``timeout_ms`` each."""
        if not self._wait(_RENDERED_JS, timeout_ms):
            return False
        self.page.evaluate("() => { window.__shotFrames = 0; }")  # count still frames from now
        return self._wait(_LAYOUT_STILL_JS, timeout_ms)

    def screenshot(self, name: str, max_height: int = 6000, render_timeout_ms: int = RERUN_TIMEOUT_MS) -> Path:
        """``test-artifacts/<name>.png`` of the whole page once charts and images have
        loaded, the layout is still and toasts have gone (if that never happens, the shot
        shows what did not). Streamlit scrolls inside its own container, so the viewport
        is stretched to the content's height."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.mouse.move(0, 0)  # no tooltip or hover outline in the picture
        self._wait(_NO_TOAST_JS, render_timeout_ms)
        self.wait_rendered(render_timeout_ms)  # image heights count for the page's height
        viewport = self.page.viewport_size
        height = min(max_height, max(viewport["height"], int(self.page.evaluate(_CONTENT_HEIGHT_JS))))
        self.page.set_viewport_size({"width": viewport["width"], "height": height})
        try:
            self.wait_rendered(render_timeout_ms)  # laid out again at the new size
            self.page.screenshot(path=str(path), full_page=True)
        finally:
            self.page.set_viewport_size(viewport)
        return path

    def close(self) -> None:
        self.page.context.close()


def matrix_cell(page, true_digit: int, predicted_digit: int):
    """A confusion-matrix cell of the SVG heatmap, found by its accessible label."""
    return page.locator(f'path[aria-label*="True: {true_digit}; Predicted: {predicted_digit};"]')


def open_app(browser, url: str, *visible: str, timeout_s: float = PAGE_TIMEOUT_MS / 1000,
             viewport: dict | None = None, **context_options) -> AppPage:
    """A new tab (own context) on ``url``; returns once the page's first run has
    finished and every selector in ``visible`` shows. ``context_options``: more of
    Playwright's ``new_context`` options (e.g. ``has_touch=True, is_mobile=True``)."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport=viewport or VIEWPORT, **context_options)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    app = AppPage(context.new_page())  # listening before the page opens its websocket
    app.page.goto(url)
    app.wait_processed(0, f"loading {url}", timeout_s=timeout_s)
    for selector in visible:
        expect(app.page.locator(selector).first).to_be_visible()
    return app
