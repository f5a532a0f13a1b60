"""Shared pieces for the end-to-end tests: a real ``streamlit run app.py`` server and
Debian's Chromium driven by Playwright.

Use from a test module::

    from tests.browser_support import chromium, open_page, streamlit_server

    @pytest.fixture(scope="module")
    def server(tmp_path_factory):
        with streamlit_server(env={"MNIST_FEEDBACK_DB": str(tmp_path_factory.mktemp("db") / "f.sqlite3")},
                              log_name="my-test") as url:
            yield url

    @pytest.fixture(scope="module")
    def browser(server):
        with chromium() as b:
            yield b

Needs ``/usr/bin/chromium`` (``apt-get install -y chromium``; Playwright's own browser
download cannot work offline). Without it tests are skipped locally but fail in CI
(env ``CI`` set), where ``.ci/run`` installs it. Screenshots and server logs go to
``test-artifacts/``. Every wait is on a condition, never a fixed sleep.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

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

# Counts Streamlit script runs: stApp's data-test-script-state attribute turns "running"
# on every (fragment) rerun. Installed before the page loads, so no run is missed.
RUN_COUNTER_JS = """
window.__stRuns = 0;
window.__stLastChange = performance.now();
new MutationObserver((mutations) => {
  for (const m of mutations) {
    window.__stLastChange = performance.now();
    if (m.target.getAttribute('data-test-script-state') === 'running') window.__stRuns += 1;
  }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-test-script-state']});
"""
# True once a run newer than `before` has finished and the app has been idle a moment
# (one user action may queue more than one rerun).
SETTLED_JS = """
(before) => {
  const app = document.querySelector('[data-testid=stApp]');
  return app !== null && window.__stRuns > before
    && app.getAttribute('data-test-script-state') === 'notRunning'
    && performance.now() - window.__stLastChange > 300;
}
"""
IDLE_JS = ("() => document.querySelector('[data-testid=stApp]')"
           "?.getAttribute('data-test-script-state') === 'notRunning'")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str):
    """Skip locally, fail in CI: the CI script installs everything these tests need."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so this is an error, not a skip)", pytrace=False)
    pytest.skip(reason)


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


@contextlib.contextmanager
def streamlit_server(app: str = "app.py", env: dict[str, str] | None = None, log_name: str = "browser-test"):
    """``streamlit run app`` on a free port with extra ``env``; yields the base URL and
    stops the server's whole process group afterwards. The log goes to
    ``test-artifacts/<log_name>-server.log``."""
    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    log_path = ARTIFACTS / f"{log_name}-server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", app,
                "--server.headless", "true",
                "--browser.gatherUsageStats", "false",
                "--server.address", "127.0.0.1",
                "--server.port", str(port),
                "--server.fileWatcherType", "none",
            ],
            cwd=ROOT,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1", **(env or {})},
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
                time.sleep(0.25)  # polling interval of a bounded wait
            yield base
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
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -r requirements-test.txt)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, url: str, ready_selector: str | None = None, width: int = 1400, height: int = 1100):
    """A new tab (own context) on ``url`` with the run counter installed; returns once
    ``ready_selector`` (if given) is visible and the script has finished running."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    context.add_init_script(RUN_COUNTER_JS)
    page = context.new_page()
    page.goto(url)
    if ready_selector:
        expect(page.locator(ready_selector).first).to_be_visible(timeout=PAGE_TIMEOUT_MS)
    wait_idle(page)
    return page


def runs(page) -> int:
    """How many script runs the page has seen (see ``RUN_COUNTER_JS``)."""
    return page.evaluate("() => window.__stRuns")


def wait_settled(page, before: int = -1, timeout_ms: int = RERUN_TIMEOUT_MS) -> None:
    """Wait until a script run newer than run count ``before`` has finished and the app
    is idle; with the default, just until the app is idle after at least one run."""
    page.wait_for_function(SETTLED_JS, arg=before, timeout=timeout_ms)


def wait_idle(page, timeout_ms: int = PAGE_TIMEOUT_MS) -> None:
    page.wait_for_function(IDLE_JS, timeout=timeout_ms)


def draw_strokes(page, strokes, canvas_selector: str = "canvas.upper-canvas") -> None:
    """Draw ``strokes`` (lists of (x, y) page coordinates) with the mouse, one
    down/move/up per stroke, then wait for the reruns the strokes caused."""
    before = runs(page)
    for stroke in strokes:
        page.mouse.move(*stroke[0])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(x, y, steps=4)
        before = runs(page)
        page.mouse.up()
    wait_settled(page, before)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


_IMAGES_LOADED_JS = "() => [...document.images].every((image) => image.complete)"
_CONTENT_HEIGHT_JS = """
() => {
  const main = document.querySelector('[data-testid=stMain]');
  return main ? main.scrollHeight : document.documentElement.scrollHeight;
}
"""


def screenshot_whole_page(page, name: str, max_height: int = 6000) -> Path:
    """Like ``screenshot`` but of the whole page: Streamlit scrolls inside its own
    container, so the viewport is stretched to the content's height for the shot."""
    viewport = page.viewport_size
    page.mouse.move(0, 0)  # no tooltip in the picture
    page.wait_for_function(_IMAGES_LOADED_JS)  # their heights count
    height = min(max_height, max(viewport["height"], int(page.evaluate(_CONTENT_HEIGHT_JS))))
    page.set_viewport_size({"width": viewport["width"], "height": height})
    try:
        wait_idle(page)
        page.wait_for_function(_IMAGES_LOADED_JS)
        return screenshot(page, name)
    finally:
        page.set_viewport_size(viewport)
