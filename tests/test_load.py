"""The app under load and with a failing feedback store, against a real ``streamlit
run app.py``: simulated users speak Streamlit's websocket protocol as browsers do
(``tests/load.py``; ``make load`` runs the longer version and prints the table)."""

import asyncio
import os
import shutil
import sqlite3
import subprocess

import numpy as np
import pytest

from tests.browser_support import ARTIFACTS, streamlit_server
from tests.load import PREDICTION, SAVED, AppSession, LoadReport, Tally, load_test, make_drawings

CLIENTS = 10
DURATION_S = 120  # memory levels off after ~60-90 s (photo cache full, closed sessions expiring)
SESSION_TTL_S = 10  # closed sessions expire within the run, so memory can level off
# A leak of 75 KB a request is 0.75 GB per 10,000 requests. Measured: +5.6 KB with the
# machine to itself, +36 to +53 KB while other work shares the 2 cores (fewer actions in
# the same time, caches still filling): 50 failed a landing on that noise.
MAX_GROWTH_KB_PER_ACTION = 75


def test_ten_users_at_once_are_all_served_and_nothing_is_lost():
    report = load_test(CLIENTS, DURATION_S, think_s=0.5, session_ttl_s=SESSION_TTL_S, log_name="test_load")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "load-report.txt").write_text(report.table() + "\n")
    print(report.table())
    tally = report.tally

    assert not tally.errors, report.table()
    assert tally.sessions > CLIENTS, "users should have left and come back as new sessions"
    assert tally.drawings >= 3 * CLIENTS and tally.photos >= CLIENTS, report.table()
    assert tally.drawings_right >= 0.97 * tally.drawings, report.table()
    assert tally.photos_right >= 0.7 * tally.photos, report.table()  # random MNIST digits, some unclear
    assert tally.answers_sent > CLIENTS
    assert tally.answers_sent == tally.answers_confirmed == report.stored_answers, report.table()
    # Each answer under the profile of the user who gave it (each user keeps one, across sessions).
    assert tally.confirmed_by_profile == report.stored_by_profile, report.table()
    assert len(report.stored_by_profile) == CLIENTS
    _, _, growth_kb_per_action, actions = report.memory_trend()
    assert actions > 200, report.table()
    assert growth_kb_per_action < MAX_GROWTH_KB_PER_ACTION, report.table()


@pytest.mark.parametrize("leak_kb_per_action", [0, 100])
def test_the_memory_trend_sees_a_leak_through_the_spikes_of_reading_photos(leak_kb_per_action):
    rng = np.random.default_rng(0)
    seconds = np.arange(0, 90, 0.5)
    actions = (seconds * 15).astype(int)
    floor_mb = 900 + leak_kb_per_action * actions / 1024
    spikes_mb = np.where(rng.random(len(seconds)) < 0.3, rng.uniform(10, 60, len(seconds)), 0)
    samples = list(zip(seconds, floor_mb + spikes_mb + rng.normal(0, 1, len(seconds)), actions))
    _, _, slope, _ = LoadReport(1, 90, Tally(), samples, 0).memory_trend()
    assert slope == pytest.approx(leak_kb_per_action, abs=10)


# --- a feedback store that cannot be written ---------------------------------------------
@pytest.fixture(scope="module")
def store_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("store")


@pytest.fixture(scope="module")
def app_url(store_folder):
    env = {"MNIST_FEEDBACK_DB": str(store_folder / "feedback.sqlite3")}
    with streamlit_server(env=env, log_name="test_load_store", for_browser=False) as server:
        yield server.url


class OneUser:
    """Draws distinct digits and answers "Yes", on one session."""

    def __init__(self, app: AppSession):
        self.app = app
        self.drawings = iter(make_drawings(np.random.default_rng(7), 20))
        self.drawn = False

    async def draw_and_confirm(self) -> tuple[str, str, list[str]]:
        """(what it drew, what the page read, the page's warnings after "Yes")."""
        app, drawing = self.app, next(self.drawings)
        if self.drawn:
            await app.rerun(app.click("clear_canvas"))
        self.drawn = True
        for stroke_url in drawing.stroke_urls:
            run = await app.rerun(app.number("stroke_width", 18), app.canvas("canvas_", stroke_url))
        read = PREDICTION.search(run.text()).group(1)
        run = await app.rerun(app.click("draw_correct_"))
        # The answer reruns its own panel alone: the prediction above it stays as it was.
        assert run.status == "FINISHED_FRAGMENT_RUN_SUCCESSFULLY" and not PREDICTION.search(run.text()), run.text()
        return drawing.label, read, [*run.warnings, *SAVED.findall(run.text())]


def test_answers_fail_with_a_message_and_predictions_go_on_when_the_store_fails(app_url, store_folder):
    db = store_folder / "feedback.sqlite3"

    async def scenario():
        async with AppSession(app_url) as app:
            await app.rerun(page="")
            user = OneUser(app)
            outcomes = {}

            label, read, said = await user.draw_and_confirm()
            assert said == [read], said  # saved
            outcomes["working"] = said

            holder = sqlite3.connect(db, isolation_level=None)  # another writer holds the lock
            holder.execute("BEGIN IMMEDIATE")
            try:
                outcomes["locked"] = (await user.draw_and_confirm())[2]
            finally:
                holder.execute("ROLLBACK")
                holder.close()

            if os.geteuid() == 0:
                made_read_only = subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode == 0
            else:
                db.chmod(0o444)
                made_read_only = True
            if made_read_only:
                try:
                    outcomes["read-only"] = (await user.draw_and_confirm())[2]
                finally:
                    if os.geteuid() == 0:
                        subprocess.run(["chattr", "-i", str(db)], check=True)
                    else:
                        db.chmod(0o644)

            moved = store_folder.with_name(store_folder.name + "-away")
            shutil.move(store_folder, moved)  # the folder is gone (an unmounted volume, say)
            try:
                outcomes["missing"] = (await user.draw_and_confirm())[2]
            finally:
                shutil.move(moved, store_folder)

            label, read, said = await user.draw_and_confirm()
            outcomes["working again"] = said
            return outcomes

    outcomes = asyncio.run(scenario())
    reasons = {"locked": "busy", "read-only": "read-only", "missing": "does not exist"}
    for case, reason in reasons.items():
        if case not in outcomes:
            continue  # read-only needs chattr as root
        warnings = outcomes[case]
        assert any("not saved" in w and reason in w for w in warnings), (case, warnings)
    assert len(outcomes["working again"]) == 1 and outcomes["working again"][0].isdigit(), outcomes
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 2
