"""Load test: many simulated users on one ``streamlit run app.py``.

Each user is a WebSocket client that speaks Streamlit's protocol the way the browser
does: ``rerun_script`` BackMsgs carrying the widgets' values, ForwardMsg deltas back,
files through the real upload endpoint, and every image the app shows fetched over
HTTP. So the server does the work browsers would cause, without ten Chromiums
competing for the same two cores. A user:

- draws digits on the Draw page stroke by stroke (one rerun per mouse-up; the canvas
  value is what streamlit-drawable-canvas sends: a PNG of white strokes on black),
  clears the canvas between drawings, and answers "Yes" or corrects the label;
- goes to the Photo page, uploads a generated photo of MNIST digits on paper, and
  confirms a digit;
- now and then leaves and comes back as a new session, with the same handwriting
  profile (its bookmarked ``?profile=`` address), so its answers read in its next ones.

Errors are anything a user would see go wrong: a traceback, an error or "not saved"
message, a run that does not finish, a failed upload or image, a dropped connection,
and a reading said to be "like" examples of a digit this user never taught (another
profile's). Afterwards every confirmed answer must be in the feedback store, under the
profile of the user who gave it.

    .venv/bin/python -m tests.load [--clients 10] [--duration 120] [--think 0.5] [--session-ttl S]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import concurrent.futures
import contextlib
import dataclasses
import http.cookies
import json
import re
import statistics
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import cv2
import numpy as np

from tests.strokes import DIGIT_STROKES, place, render_strokes

RECONNECT_DELAY_S = 1.0
RUN_TIMEOUT_S = 120  # one rerun under load; far above the p95, far below "hung"
CANVAS_SIZE = (560, 320)  # the Draw page's canvas (width, height)
BROWSER_CONNECTIONS = 6  # a browser's connections to one host at once (HTTP/1.1)
SESSION_ACTIONS = (3, 6)  # a user makes this many drawings (inclusive range) before leaving
MEMORY_SAMPLE_S = 0.5
OK_STATUSES = ("FINISHED_SUCCESSFULLY", "FINISHED_FRAGMENT_RUN_SUCCESSFULLY")

PREDICTION = re.compile(r"class='prediction'>Prediction: (\d+)")
PHOTO_NUMBER = re.compile(r"class='photo-number'>(\d+)<")
SAVED = re.compile(r"saved as \*\*(\d)\*\*")
LIKE_YOURS = re.compile(r"like \d+ of your (\d)s")


# --------------------------------------------------------------------------- #
# What a user sends: drawings and photos with known answers
# --------------------------------------------------------------------------- #
@dataclasses.dataclass(frozen=True)
class Drawing:
    label: str
    stroke_urls: tuple[str, ...]  # the canvas after each mouse-up, as PNG data URLs


@dataclasses.dataclass(frozen=True)
class Photo:
    label: str
    name: str
    jpeg: bytes


def _png_data_url(rgba: np.ndarray) -> str:
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    assert ok
    return "data:image/png;base64," + base64.b64encode(png.tobytes()).decode()


def make_drawings(rng: np.random.Generator, count: int) -> list[Drawing]:
    """``count`` drawings of every style in ``DIGIT_STROKES``, at random sizes, places
    and pen widths on the 560x320 canvas."""
    keys = sorted(DIGIT_STROKES)
    width, height = CANVAS_SIZE
    drawings = []
    for i in range(count):
        key = keys[i % len(keys)]
        size = rng.uniform(120, 290)
        strokes = place(DIGIT_STROKES[key], rng.uniform(10, width - size - 10),
                        rng.uniform(5, height - size - 5) if size < height - 10 else 5, size, size)
        pen = int(rng.integers(10, 28))
        urls = tuple(_png_data_url(render_strokes(strokes[: k + 1], size=CANVAS_SIZE, width=pen))
                     for k in range(len(strokes)))
        drawings.append(Drawing(key[0], urls))
    return drawings


def make_photos(rng: np.random.Generator, count: int) -> list[Photo]:
    """``count`` generated phone photos of 1-4 MNIST test digits on paper."""
    from mnist_app.data import load_mnist
    from tests.photos import random_photo

    _, (images, labels) = load_mnist()
    photos = []
    for i in range(count):
        jpeg, spec = random_photo(rng, images, labels, count=int(rng.integers(1, 5)))
        photos.append(Photo(spec.label, f"photo-{i:03d}-{spec.label}.jpg", jpeg))
    return photos


# --------------------------------------------------------------------------- #
# One session over the websocket
# --------------------------------------------------------------------------- #
class AppError(Exception):
    """Something a user would have seen go wrong."""


class ConnectionLost(AppError):
    """The app's websocket closed or broke: the browser would show "Connecting" and
    reconnect; fine only while a replica is being killed on purpose."""


@dataclasses.dataclass
class Run:
    """What one script run sent back."""

    status: str = ""
    widget_ids: dict[str, str] = dataclasses.field(default_factory=dict)  # user key -> widget id
    fragments: dict[str, str] = dataclasses.field(default_factory=dict)  # widget id -> its fragment's id ("": none)
    fragments_run: set[str] = dataclasses.field(default_factory=set)  # the fragments whose elements came
    blocks: dict[tuple, str] = dataclasses.field(default_factory=dict)  # a container's delta path -> its fragment
    first_paths: dict[str, tuple] = dataclasses.field(default_factory=dict)  # fragment -> its first element's path
    markdown: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)  # exceptions and error alerts
    image_urls: list[str] = dataclasses.field(default_factory=list)

    def text(self) -> str:
        return "\n".join(self.markdown)

    def add_block(self, block, fragment_id: str = "", path: tuple = ()) -> None:
        """A container; an expander with a key that reruns when opened is a widget too."""
        self.blocks[path] = fragment_id
        if block.WhichOneof("type") == "expandable":
            self._add_widget(block.expandable.id, fragment_id)

    def _add_widget(self, widget_id: str, fragment_id: str) -> None:
        if widget_id.startswith("$$ID-"):
            self.widget_ids[widget_id.split("-", 2)[2]] = widget_id
            self.fragments[widget_id] = fragment_id

    def add(self, element, fragment_id: str = "", path: tuple = ()) -> None:
        kind = element.WhichOneof("type")
        if kind is None:
            return
        self.fragments_run.add(fragment_id)
        self.first_paths.setdefault(fragment_id, path)
        body = getattr(element, kind)
        self._add_widget(getattr(body, "id", "") if "id" in body.DESCRIPTOR.fields_by_name else "", fragment_id)
        if kind == "markdown":
            self.markdown.append(body.body)
        elif kind == "alert":
            if body.format == body.ERROR:
                self.errors.append(f"error message: {body.body}")
            elif body.format == body.WARNING:
                self.warnings.append(body.body)
        elif kind == "exception":
            self.errors.append(f"traceback: {body.type}: {body.message}")
        elif kind == "imgs":
            self.image_urls += [img.url for img in body.imgs]


class AppSession:
    """One browser tab's worth of Streamlit session, driven over the websocket.

    ``state`` holds the widgets' current values, sent with every rerun as the browser
    does; widgets a run no longer shows are dropped from it, triggers (button clicks)
    are sent once. As in the browser, a widget inside an ``st.fragment`` reruns only its
    fragment: the run then replaces only that fragment's widgets (and those of the
    fragments it drew), the rest of the page stays.
    """

    def __init__(self, base_url: str, profile: str | None = None):
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self._BackMsg, self._ForwardMsg = BackMsg, ForwardMsg
        self.base_url = base_url
        self.query_string = "" if profile is None else f"profile={profile}"
        self.session_id = ""
        self.pages: dict[str, str] = {}  # url path ("" for the default page) -> page script hash
        self.page = ""
        self.state: dict = {}  # widget id -> WidgetState
        self.widgets: dict[str, str] = {}  # user key -> widget id, of every widget on the page now
        self.fragment_of: dict[str, str] = {}  # widget id -> its fragment's id ("": none)
        self.block_owner: dict[tuple, str] = {}  # a container's delta path -> the fragment that made it
        self.parent: dict[str, str] = {}  # fragment -> the fragment it was drawn in (nested fragments)
        self.last_run = Run()
        self._ws = None
        self._reader: asyncio.Task | None = None
        self._run: Run | None = None
        self._run_done: asyncio.Future | None = None
        self._file_urls: dict[str, asyncio.Future] = {}
        self._xsrf = ""
        self.cookies: dict[str, str] = {}  # as a browser keeps them: XSRF, and a proxy's replica cookie
        self.closed = False  # the websocket has ended

    # --- connection -------------------------------------------------------------------
    async def __aenter__(self) -> "AppSession":
        import websockets

        try:
            await asyncio.to_thread(self._fetch_cookies)
        except urllib.error.HTTPError as exc:
            if exc.code in (502, 503, 504):  # a proxy with no replica to answer, yet
                raise ConnectionLost(f"the app's health check answered HTTP {exc.code}") from None
            raise
        self._xsrf = self.cookies.get("_streamlit_xsrf", "")
        ws_url = self.base_url.replace("http://", "ws://", 1) + "/_stcore/stream"
        headers = {"Cookie": self.cookie_header()} if self.cookies else {}
        self._ws = await websockets.connect(
            ws_url, subprotocols=["streamlit", self._xsrf or "_"], origin=self.base_url,
            additional_headers=headers, max_size=None, open_timeout=RUN_TIMEOUT_S)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._ws is not None:
            await self._ws.close()

    def _fetch_cookies(self) -> None:
        """The cookies the browser's health check gets: the XSRF cookie (uploads echo it
        in a header) and, behind a proxy, the one that keeps this tab on its replica."""
        with urllib.request.urlopen(self.base_url + "/_stcore/health", timeout=RUN_TIMEOUT_S) as response:
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in http.cookies.SimpleCookie(header).items():
                    self.cookies[name] = morsel.value

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    async def _read(self) -> None:
        try:
            async for payload in self._ws:
                if isinstance(payload, bytes):
                    self._receive(self._ForwardMsg.FromString(payload))
            self.closed = True
            self._fail(ConnectionLost("the server closed the connection"))
        except Exception as exc:  # the connection broke: fail whatever waits on it
            self.closed = True
            self._fail(ConnectionLost(f"connection lost: {exc!r}"))
            raise

    def _fail(self, exc: Exception) -> None:
        for future in [self._run_done, *self._file_urls.values()]:
            if future is not None and not future.done():
                future.set_exception(exc)

    def _receive(self, msg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.session_id = msg.new_session.initialize.session_id or self.session_id
            # The first run's pages; later ones come with each full run's navigation message
            # (a fragment run's new_session names the pages differently).
            self.pages = self.pages or {page.url_pathname: page.page_script_hash
                                        for page in msg.new_session.app_pages}
            if self._run_done is not None:
                self._run = Run()  # a run started after the request: collect from here
        elif kind == "navigation":
            self.pages = {page.url_pathname: page.page_script_hash for page in msg.navigation.app_pages}
        elif kind == "delta" and self._run is not None and msg.delta.WhichOneof("type") == "new_element":
            self._run.add(msg.delta.new_element, msg.delta.fragment_id, tuple(msg.metadata.delta_path))
        elif kind == "delta" and self._run is not None and msg.delta.WhichOneof("type") == "add_block":
            self._run.add_block(msg.delta.add_block, msg.delta.fragment_id, tuple(msg.metadata.delta_path))
        elif kind == "script_finished" and self._run is not None:
            status = self._ForwardMsg.ScriptFinishedStatus.Name(msg.script_finished)
            if status != "FINISHED_EARLY_FOR_RERUN" and not self._run_done.done():
                self._run.status = status
                self._run_done.set_result(self._run)
        elif kind == "session_event" and msg.session_event.WhichOneof("type") == "script_compilation_exception":
            if self._run_done is not None and not self._run_done.done():
                self._run_done.set_exception(AppError("the page failed to compile"))
        elif kind == "page_not_found":
            if self._run_done is not None and not self._run_done.done():
                self._run_done.set_exception(AppError(f"page not found: {msg.page_not_found.page_name}"))
        elif kind == "file_urls_response":
            future = self._file_urls.pop(msg.file_urls_response.response_id, None)
            if future is not None and not future.done():
                future.set_result(msg.file_urls_response)

    # --- actions ----------------------------------------------------------------------
    async def rerun(self, *changes, page: str | None = None) -> Run:
        """Send the widgets' state with ``changes`` (WidgetStates) applied, as the browser
        does after an interaction, and wait for the run and its images."""
        if page is not None and page != self.page:
            self.page, self.state = page, {}  # a new page starts with no widget values
            self.widgets, self.fragment_of = {}, {}
        fragment = next((self.fragment_of.get(c.id, "") for c in changes), "")  # the browser's choice too
        msg = self._BackMsg()
        request = msg.rerun_script
        request.fragment_id = fragment
        for change in changes:
            if change.WhichOneof("value") != "trigger_value":
                self.state[change.id] = change
        request.widget_states.widgets.extend(
            [*self.state.values(), *(c for c in changes if c.WhichOneof("value") == "trigger_value")])
        request.page_script_hash = self.pages.get(self.page, "")
        request.query_string = self.query_string
        request.context_info.timezone = "UTC"
        request.context_info.locale = "en-US"
        request.context_info.url = f"{self.base_url}/{self.page}"
        self._run, self._run_done = None, asyncio.get_running_loop().create_future()
        await self._send(msg)
        try:
            run = await asyncio.wait_for(self._run_done, RUN_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise AppError(f"a rerun of page {self.page or 'Draw'!r} did not finish within {RUN_TIMEOUT_S} s") from None
        finally:
            self._run_done = None
        if run.status not in OK_STATUSES:
            raise AppError(f"the run ended {run.status}")
        if run.errors:
            raise AppError("; ".join(run.errors))
        self._learn_nesting(run, whole_page=not fragment)
        replaced = run.fragments_run | self._within(fragment) if fragment else None  # None: the whole page ran
        self.widgets = {key: wid for key, wid in self.widgets.items()
                        if replaced is not None and self.fragment_of[wid] not in replaced}
        self.widgets.update(run.widget_ids)
        self.fragment_of = {wid: run.fragments.get(wid) or self.fragment_of.get(wid, "")
                            for wid in self.widgets.values()}
        shown = set(self.widgets.values())
        self.state = {wid: value for wid, value in self.state.items() if wid in shown}
        await asyncio.gather(*(asyncio.to_thread(self._fetch, url) for url in set(run.image_urls)))
        self.last_run = run
        return run

    def _learn_nesting(self, run: Run, whole_page: bool) -> None:
        """Which fragment each fragment of ``run`` was drawn in: the innermost container
        around its first element that another fragment made."""
        if whole_page:
            self.block_owner = {}
        self.block_owner.update(run.blocks)
        for fragment, path in run.first_paths.items():
            owners = (self.block_owner.get(path[:k]) for k in range(len(path) - 1, 0, -1))
            outer = next((owner for owner in owners if owner != fragment), "")
            if fragment and outer:
                self.parent[fragment] = outer

    def _within(self, fragment: str) -> set[str]:
        """``fragment`` and every fragment drawn inside it: what its rerun replaces."""
        inside = {fragment}
        while grown := {f for f, outer in self.parent.items() if outer in inside} - inside:
            inside |= grown
        return inside

    async def _send(self, msg) -> None:
        import websockets

        try:
            await self._ws.send(msg.SerializeToString())
        except websockets.ConnectionClosed as exc:
            raise ConnectionLost(f"connection lost: {exc!r}") from None

    def _lost_or_error(self, message: str, exc: OSError) -> AppError:
        """An HTTP request of this tab failed: part of a lost connection if the
        websocket is gone too, or a proxy says its replica is (502-504), else an error."""
        gone = isinstance(exc, urllib.error.HTTPError) and exc.code in (502, 503, 504)
        return ConnectionLost(message) if self.closed or gone else AppError(message)

    def _fetch(self, url: str) -> None:
        """GET one image the run showed, as the browser would."""
        if url.startswith("data:"):
            return
        full = url if url.startswith(("http://", "https://")) else f"{self.base_url}/{url.lstrip('/')}"
        request = urllib.request.Request(full, headers={"Cookie": self.cookie_header()} if self.cookies else {})
        try:
            with urllib.request.urlopen(request, timeout=RUN_TIMEOUT_S) as response:
                if response.status != 200 or not response.read():
                    raise AppError(f"image {url}: HTTP {response.status} or empty")
        except OSError as exc:
            raise self._lost_or_error(f"image {url} could not be loaded: {exc}", exc) from exc

    async def upload(self, key: str, name: str, data: bytes) -> Run:
        """Choose ``name`` in the file uploader with key ``key``: ask for an upload URL,
        PUT the file there, then rerun with the uploader's new value."""
        from streamlit.proto.Common_pb2 import UploadedFileInfo

        widget_id = self.widget(key)
        msg = self._BackMsg()
        request_id = str(uuid.uuid4())
        msg.file_urls_request.request_id = request_id
        msg.file_urls_request.file_names.append(name)
        msg.file_urls_request.session_id = self.session_id
        future = asyncio.get_running_loop().create_future()
        self._file_urls[request_id] = future
        await self._send(msg)
        response = await asyncio.wait_for(future, RUN_TIMEOUT_S)
        if response.error_msg or not response.file_urls:
            raise AppError(f"no upload URL for {name}: {response.error_msg}")
        urls = response.file_urls[0]
        await asyncio.to_thread(self._put, urls.upload_url, name, data)
        info = UploadedFileInfo(name=name, size=len(data), file_id=urls.file_id)
        info.file_urls.CopyFrom(urls)
        change = self._widget_state(widget_id)
        change.file_uploader_state_value.uploaded_file_info.append(info)
        return await self.rerun(change)

    def _put(self, upload_url: str, name: str, data: bytes) -> None:
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        if self._xsrf:
            headers |= {"X-Xsrftoken": self._xsrf}
        if self.cookies:
            headers |= {"Cookie": self.cookie_header()}
        request = urllib.request.Request(f"{self.base_url}{upload_url}", data=body, headers=headers, method="PUT")
        try:
            with urllib.request.urlopen(request, timeout=RUN_TIMEOUT_S) as response:
                if response.status not in (200, 204):
                    raise AppError(f"upload of {name}: HTTP {response.status}")
        except OSError as exc:
            raise self._lost_or_error(f"upload of {name} failed: {exc}", exc) from exc

    # --- widget values ----------------------------------------------------------------
    def _widget_state(self, widget_id: str):
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        return WidgetState(id=widget_id)

    def widget(self, key_prefix: str) -> str:
        """The id of the only widget on the page now whose key starts with ``key_prefix``."""
        found = [wid for key, wid in self.widgets.items() if key.startswith(key_prefix)]
        if len(found) != 1:
            raise AppError(f"expected one widget with a key starting {key_prefix!r}, found {len(found)}")
        return found[0]

    def click(self, key_prefix: str):
        state = self._widget_state(self.widget(key_prefix))
        state.trigger_value = True
        return state

    def choose(self, key_prefix: str, option: str):
        """A selectbox's new value: the option as the widget shows it."""
        state = self._widget_state(self.widget(key_prefix))
        state.string_value = option
        return state

    def open(self, key_prefix: str):
        """An expander opened (one that reruns when opened, so its content is drawn then)."""
        state = self._widget_state(self.widget(key_prefix))
        state.bool_value = True
        return state

    def number(self, key_prefix: str, value: float):
        state = self._widget_state(self.widget(key_prefix))
        state.double_array_value.data.append(value)
        return state

    def canvas(self, key_prefix: str, data_url: str):
        """The drawing canvas's value after a mouse-up (the app reads only the image)."""
        state = self._widget_state(self.widget(key_prefix))
        state.json_value = json.dumps({"drawing": {"raw": {"version": "7.4.0", "objects": []}, "data": data_url}})
        return state


# --------------------------------------------------------------------------- #
# Simulated users
# --------------------------------------------------------------------------- #
@dataclasses.dataclass
class Tally:
    latencies_ms: dict[str, list[float]] = dataclasses.field(default_factory=dict)  # action -> times
    errors: list[str] = dataclasses.field(default_factory=list)
    drawings: int = 0
    drawings_right: int = 0
    photos: int = 0
    photos_right: int = 0
    answers_sent: int = 0
    answers_confirmed: int = 0
    confirmed_by_profile: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    read_from_examples: int = 0  # pages that said a reading was like the user's own examples
    confirmed_at: list[float] = dataclasses.field(default_factory=list)  # time.monotonic() of each
    # Answers whose outcome the user never learnt (the connection died under it) or that
    # were refused during an outage: each may or may not be stored, per profile.
    unsettled_by_profile: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    reconnects: int = 0  # sessions lost with their replica, the user back through the proxy
    refusals: list[str] = dataclasses.field(default_factory=list)  # "not saved" messages while the database was down
    sessions: int = 0

    @property
    def actions(self) -> int:
        return sum(len(times) for times in self.latencies_ms.values())


class User:
    """One simulated person: sessions of drawings, a photo, answers, until the deadline."""

    def __init__(self, number: int, base_url: str, drawings: list[Drawing], photos: list[Photo],
                 tally: Tally, think_s: float, seed: int, faults: bool = False):
        self.number, self.base_url = number, base_url
        self.faults = faults  # replicas killed and the database restarted on purpose during the run
        self.drawings, self.photos = drawings, photos
        self.tally, self.think_s = tally, think_s
        self.rng = np.random.default_rng(seed)
        self.profile = f"load-user-{number}"
        self.taught: set[str] = set()  # the digits this user's profile may have examples of

    async def _timed(self, action: str, operation):
        started = time.perf_counter()
        result = await operation
        self.tally.latencies_ms.setdefault(action, []).append((time.perf_counter() - started) * 1000)
        return result

    async def _think(self) -> None:
        if self.think_s > 0:  # a person's pause between actions, not a wait on the app
            await asyncio.sleep(float(self.rng.uniform(0.5, 1.5)) * self.think_s)

    async def run(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                async with AppSession(self.base_url, self.profile) as app:
                    self.tally.sessions += 1
                    await self._timed("open the app", app.rerun(page=""))
                    await self.session(app, deadline)
            except ConnectionLost as exc:
                if not self.faults:
                    self.tally.errors.append(f"user {self.number}: {exc}")
                self.tally.reconnects += 1
                await asyncio.sleep(RECONNECT_DELAY_S)  # as Streamlit's page waits before reconnecting
            except AppError as exc:
                self.tally.errors.append(f"user {self.number}: {exc}")
            except (OSError, asyncio.TimeoutError) as exc:
                self.tally.errors.append(f"user {self.number}: connection: {exc!r}")

    async def session(self, app: AppSession, deadline: float) -> None:
        low, high = SESSION_ACTIONS
        count = int(self.rng.integers(low, high + 1))
        # Different drawings: the app rightly asks nothing about a drawing already answered.
        for k, index in enumerate(self.rng.choice(len(self.drawings), count, replace=False)):
            if time.monotonic() > deadline:
                return
            if k > 0:
                await self._timed("clear", app.rerun(app.click("clear_canvas")))
            await self.draw(app, self.drawings[int(index)])
            await self._think()
        if time.monotonic() > deadline:
            return
        await self._timed("open a page", app.rerun(page="photo"))
        await self.upload(app)
        await self._think()
        await self._timed("open a page", app.rerun(page=""))

    async def draw(self, app: AppSession, drawing: Drawing) -> None:
        pen = app.number("stroke_width", 18)
        for stroke_url in drawing.stroke_urls:  # one rerun per mouse-up
            run = await self._timed("draw a stroke", app.rerun(pen, app.canvas("canvas_", stroke_url)))
        found = PREDICTION.search(run.text())
        if found is None:
            raise AppError(f"drew a {drawing.label}, the page shows no prediction")
        self.tally.drawings += 1
        read = found.group(1)
        self._check_examples(run)
        self.tally.drawings_right += read == drawing.label
        if self.rng.random() < 0.5:
            return
        if read == drawing.label:  # "Yes, it is a 3"
            await self._answer(app, drawing.label, app.click("draw_correct_"))
        else:  # pick the right digit, then Save
            await self._timed("choose a label", app.rerun(app.choose("draw_label_", drawing.label)))
            await self._answer(app, drawing.label, app.click("draw_save_"))

    def _check_examples(self, run: Run) -> None:
        """A reading may only come from this user's own examples."""
        like = set(LIKE_YOURS.findall(run.text()))
        self.tally.read_from_examples += bool(like)
        foreign = like - self.taught
        if foreign:
            raise AppError(f"read as like 'your' {sorted(foreign)}s, which profile {self.profile} never taught")

    async def _answer(self, app: AppSession, label: str, click) -> None:
        self.tally.answers_sent += 1
        self.taught.add(label)  # stored, perhaps, from the moment it is sent
        try:
            run = await self._timed("answer", app.rerun(click))
        except ConnectionLost:
            self.tally.unsettled_by_profile[self.profile] += 1
            raise
        refused = [warning for warning in run.warnings if "not saved" in warning]
        if refused and self.faults:
            self.tally.refusals += refused
            self.tally.unsettled_by_profile[self.profile] += 1  # perhaps committed as the connection broke
            return
        if refused:
            raise AppError(f"answer not saved: {run.warnings}")
        if label not in SAVED.findall(run.text()):
            raise AppError(f"answered {label}, the page does not say it was saved")
        self.tally.answers_confirmed += 1
        self.tally.confirmed_at.append(time.monotonic())
        self.tally.confirmed_by_profile[self.profile] += 1

    async def upload(self, app: AppSession) -> None:
        photo = self.photos[int(self.rng.integers(len(self.photos)))]
        run = await self._timed("upload a photo", app.upload("photo_files", photo.name, photo.jpeg))
        found = PHOTO_NUMBER.search(run.text())
        self._check_examples(run)
        self.tally.photos += 1
        self.tally.photos_right += found is not None and found.group(1) == photo.label
        if found is not None and found.group(1)[:1] == photo.label[:1] and self.rng.random() < 0.5:
            # "Yes" under the first digit, in the panel drawn when opened; the run lists widgets
            # in page (reading) order.
            panel = await self._timed("open a panel", app.rerun(app.open("photo_teach_0")))
            first = next(key for key in panel.widget_ids if key.startswith("photo_0_correct_"))
            await self._answer(app, photo.label[0], app.click(first))


# --------------------------------------------------------------------------- #
# The run
# --------------------------------------------------------------------------- #
@dataclasses.dataclass
class LoadReport:
    clients: int
    duration_s: float
    tally: Tally
    memory_mb: list[tuple[float, float, int]]  # (seconds since start, RSS MB, actions done)
    stored_answers: int | None
    stored_by_profile: dict[str, int] = dataclasses.field(default_factory=dict)

    def percentile(self, q: float, action: str | None = None) -> float:
        times = [t for name, ts in self.tally.latencies_ms.items() if action in (None, name) for t in ts]
        return float(np.percentile(times, q)) if times else float("nan")

    def memory_trend(self, from_fraction: float = 0.5, window_s: float = 5.0) -> tuple[float, float, float, int]:
        """The app's memory over the last ``1 - from_fraction`` of the run: (RSS MB at
        its start, at the end, the growth in KB per action, actions in it).

        A leak raises the floor the memory returns to between requests; a photo being
        read lifts it for a moment by tens of MB. So the growth is the least-squares
        slope of each ``window_s`` window's lowest sample, not of every sample: on a
        bounded process it is about zero once caches are full and closed sessions expire."""
        start_s = from_fraction * self.memory_mb[-1][0]
        tail = [sample for sample in self.memory_mb if sample[0] >= start_s]
        windows: dict[int, tuple[float, float, int]] = {}
        for sample in tail:
            window = int((sample[0] - start_s) // window_s)
            if window not in windows or sample[1] < windows[window][1]:
                windows[window] = sample
        floor_actions = np.array([a for _, _, a in windows.values()], float)
        floor_rss = np.array([m for _, m, _ in windows.values()], float)
        slope = (np.polyfit(floor_actions, floor_rss, 1)[0] * 1024
                 if len(windows) > 2 and np.ptp(floor_actions) > 0 else float("nan"))
        return tail[0][1], tail[-1][1], float(slope), int(tail[-1][2] - tail[0][2])

    def table(self) -> str:
        t = self.tally
        rows = [("simulated users at once / sessions opened", f"{self.clients} / {t.sessions}"),
                ("duration", f"{self.duration_s:.0f} s"),
                ("actions (each a rerun the user waits for)", f"{t.actions} ({t.actions / self.duration_s:.1f}/s)"),
                ("errors", str(len(t.errors)))]
        for action, times in sorted(t.latencies_ms.items()):
            rows.append((f"  {action}: n, median, p95, max",
                         f"{len(times)}, {statistics.median(times):.0f} ms, "
                         f"{np.percentile(times, 95):.0f} ms, {max(times):.0f} ms"))
        rows += [("all actions: median / p95", f"{self.percentile(50):.0f} / {self.percentile(95):.0f} ms"),
                 ("drawings read right", f"{t.drawings_right}/{t.drawings}"),
                 ("photos read exactly", f"{t.photos_right}/{t.photos}"),
                 ("answers sent / confirmed / in the store",
                  f"{t.answers_sent} / {t.answers_confirmed} / {self.stored_answers}"),
                 ("profiles with answers (confirmed = stored for each)",
                  f"{len(self.stored_by_profile)} ({t.confirmed_by_profile == self.stored_by_profile})"),
                 ("readings from the user's own examples", str(t.read_from_examples))]
        if self.memory_mb:
            start = self.memory_mb[0][1]
            peak = max(m for _, m, _ in self.memory_mb)
            middle, end, slope, actions = self.memory_trend()
            rows += [("app memory: start, half-way, end, peak",
                      f"{start:.0f}, {middle:.0f}, {end:.0f}, {peak:.0f} MB"),
                     ("app memory trend over the second half",
                      f"{slope:+.1f} KB per action (lowest of each 5 s, least squares, {actions} actions)")]
        width = max(len(name) for name, _ in rows)
        lines = [f"{'load test':<{width}}  value", f"{'-' * width}  {'-' * 30}"]
        lines += [f"{name:<{width}}  {value}" for name, value in rows]
        lines += [f"  ! {error}" for error in t.errors[:20]]
        return "\n".join(lines)


async def run_load(base_url: str, clients: int, duration_s: float, think_s: float, rss_mb=None,
                   seed: int = 0, drawings: int = 60, photos: int = 24, progress_every_s: float = 0,
                   faults: bool = False, watch=None) -> tuple[Tally, list]:
    """``clients`` users at once for ``duration_s`` against ``base_url``. ``rss_mb``: a
    function giving the server's resident memory, sampled while they work;
    ``progress_every_s``: print a line that often (0: never); ``faults``: replicas die
    and the database restarts meanwhile, so lost connections (the user reconnects) and
    "not saved" answers are expected, not errors; ``watch(tally, seconds)`` is called
    every ``MEMORY_SAMPLE_S`` while they work (to cause those faults at the right time)."""
    # Each tab fetches its pictures and uploads on connections of its own, as a browser
    # does (up to 6 at once per host); asyncio's default pool has os.cpu_count() + 4
    # threads, 6 here, shared by every user: 20 users' pictures queued in the client.
    asyncio.get_running_loop().set_default_executor(
        concurrent.futures.ThreadPoolExecutor(max_workers=clients * BROWSER_CONNECTIONS, thread_name_prefix="tab"))
    rng = np.random.default_rng(seed)
    drawing_pool, photo_pool = make_drawings(rng, drawings), make_photos(rng, photos)
    tally, memory = Tally(), []
    started = time.monotonic()
    deadline = started + duration_s

    async def sample_memory() -> None:
        next_report = progress_every_s
        while True:
            if watch is not None:
                watch(tally, time.monotonic() - started)
            if rss_mb is not None:
                memory.append((time.monotonic() - started, rss_mb(), tally.actions))
                if progress_every_s and memory[-1][0] >= next_report:
                    next_report += progress_every_s
                    print(f"{memory[-1][0]:5.0f} s: {tally.actions:,} actions, {len(tally.errors)} errors, "
                          f"app {memory[-1][1]:,.0f} MB", flush=True)
            await asyncio.sleep(MEMORY_SAMPLE_S)

    sampler = asyncio.create_task(sample_memory()) if rss_mb or watch else None
    users = [User(i, base_url, drawing_pool, photo_pool, tally, think_s, seed=seed * 1000 + i, faults=faults)
             for i in range(clients)]
    await asyncio.gather(*(user.run(deadline) for user in users))
    if sampler is not None:
        sampler.cancel()
    if rss_mb is not None:
        memory.append((time.monotonic() - started, rss_mb(), tally.actions))
    return tally, memory


def load_test(clients: int, duration_s: float, think_s: float, seed: int = 0, log_name: str = "load",
              session_ttl_s: int | None = None, progress_every_s: float = 0) -> LoadReport:
    """Start ``streamlit run app.py`` with an empty feedback store, run the users, count
    what reached the store. ``session_ttl_s``: how long the server keeps a closed
    session for its user to come back (Streamlit's default: 120 s); memory reaches its
    steady state only after that."""
    from mnist_app.feedback import FeedbackStore
    from tests.browser_support import streamlit_server

    with tempfile.TemporaryDirectory() as folder:
        store = FeedbackStore(Path(folder) / "feedback.sqlite3")
        options = {} if session_ttl_s is None else {"server.disconnectedSessionTTL": str(int(session_ttl_s))}
        with streamlit_server(env={"MNIST_FEEDBACK_DB": str(store.path)}, log_name=log_name,
                              for_browser=False, options=options) as server:
            started = time.monotonic()
            tally, memory = asyncio.run(run_load(server.url, clients, duration_s, think_s, server.rss_mb, seed,
                                                 progress_every_s=progress_every_s))
            elapsed = time.monotonic() - started
        return LoadReport(clients, elapsed, tally, memory, store.count(), dict(store.profiles()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=10, help="simulated users at once")
    parser.add_argument("--duration", type=float, default=120, help="seconds the users keep working")
    parser.add_argument("--think", type=float, default=0.5, help="mean pause of a user between actions, s")
    parser.add_argument("--session-ttl", type=int, default=None,
                        help="seconds a closed session is kept (server.disconnectedSessionTTL; default: the app's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--url", help="load an app already running there (e.g. make cluster's proxy) instead of "
                                      "starting one")
    parser.add_argument("--db", help="with --url: the feedback store it writes to, to check every answer is there")
    args = parser.parse_args()
    if args.url:
        from mnist_app.feedback import FeedbackStore

        store = FeedbackStore(args.db) if args.db else None
        before = dict(store.profiles()) if store else {}
        print(f"{args.clients} simulated users for {args.duration:.0f} s on {args.url}")
        started = time.monotonic()
        tally, _ = asyncio.run(run_load(args.url, args.clients, args.duration, args.think, seed=args.seed))
        stored = ({name: n - before.get(name, 0) for name, n in store.profiles() if n > before.get(name, 0)}
                  if store else {})
        report = LoadReport(args.clients, time.monotonic() - started, tally, [],
                            sum(stored.values()) if store else None, stored)
    else:
        print(f"{args.clients} simulated users for {args.duration:.0f} s (server log: test-artifacts/load-server.log)")
        report = load_test(args.clients, args.duration, args.think, args.seed, session_ttl_s=args.session_ttl,
                           progress_every_s=30)
    print(report.table())
    lost = report.tally.answers_confirmed - (report.stored_answers or 0)
    misplaced = report.stored_answers is not None and report.tally.confirmed_by_profile != report.stored_by_profile
    raise SystemExit(1 if report.tally.errors or lost or misplaced else 0)


if __name__ == "__main__":
    main()
