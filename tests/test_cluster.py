"""Two app replicas behind HAProxy on one PostgreSQL (``mnist_app.cluster``, as ``make
cluster`` starts it), under 20 simulated users (``tests/load.py``) through the proxy.
Mid-run one replica is killed (SIGKILL, as a crash) and later PostgreSQL is restarted.

Nothing a user sees may go wrong beyond what those faults must cause: the users of the
killed replica lose their connection and come back through the proxy to the other one
(as the browser reconnects), answers given while the database is down are refused with
a message saying so, and every answer confirmed to a user is in PostgreSQL under their
profile, whichever replica took it. Predictions never stop.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from mnist_app.cluster import Cluster, kill_replica, start, start_database, stop, stop_database
from mnist_app.feedback import FeedbackStore
from tests.browser_support import ARTIFACTS, free_port
from tests.load import run_load

CLIENTS = 20
DURATION_S = 70
KILL_AFTER_ACTIONS = 120
RESTART_DATABASE_AFTER_ACTIONS = 320
MAX_OUTAGE_S = 15  # the database stays down until an answer has been refused, or this long
MAX_REPLICA_MB = 1000  # resident memory of one replica; the surviving one ends serving all 20 users


def free_pair() -> int:
    """A port whose next one is free too (the two replicas' ports)."""
    for _ in range(50):
        port = free_port()
        if port < 65000 and _free(port + 1):
            return port
    raise RuntimeError("no two free ports in a row")


def _free(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="module")
def cluster():
    if not shutil.which("haproxy") and not os.path.exists("/usr/sbin/haproxy"):
        pytest.fail("HAProxy is not installed: apt-get install -y haproxy (.ci/run does)")
    folder = Path(tempfile.mkdtemp(prefix="mnist-cluster-"))
    folder.chmod(0o755)  # PostgreSQL runs as its own user and must reach its data folder
    running = Cluster(folder=folder, proxy_port=free_port(), database_port=free_port(),
                      first_replica_port=free_pair())
    try:
        start(running, replicas=2)
        yield running
    finally:
        stop(running)
        ARTIFACTS.mkdir(exist_ok=True)
        for log in folder.glob("*.log"):
            shutil.copy(log, ARTIFACTS / f"cluster-{log.name}")
        shutil.rmtree(folder, ignore_errors=True)


def test_twenty_users_through_the_proxy_survive_a_dead_replica_and_a_database_restart(cluster):
    faults: dict[str, float] = {}

    refused = threading.Event()

    def restart():
        stop_database(cluster)
        faults["database_down"] = time.monotonic()
        refused.wait(MAX_OUTAGE_S)
        start_database(cluster)
        faults["database_up"] = time.monotonic()

    peak_mb = [0.0, 0.0]

    def watch(tally, seconds):
        for index in (0, 1):
            peak_mb[index] = max(peak_mb[index], cluster.replica_rss_mb(index) or 0.0)
        if tally.refusals:
            refused.set()
        if "replica_killed" not in faults and tally.actions >= KILL_AFTER_ACTIONS:
            kill_replica(cluster, 1)
            faults["replica_killed"] = time.monotonic()
        if "database_down" not in faults and tally.actions >= RESTART_DATABASE_AFTER_ACTIONS:
            threading.Thread(target=restart, daemon=True).start()

    tally, _ = asyncio.run(run_load(cluster.url, CLIENTS, DURATION_S, think_s=0.5, seed=7, faults=True,
                                    watch=watch))
    times = [t for ts in tally.latencies_ms.values() for t in ts]
    summary = (f"{CLIENTS} users, {DURATION_S} s: actions {tally.actions} ({tally.actions / DURATION_S:.1f}/s), "
               f"p50 {np.percentile(times, 50):.0f} ms, p95 {np.percentile(times, 95):.0f} ms, "
               f"peak memory per replica {peak_mb[0]:.0f} / {peak_mb[1]:.0f} MB; drawings {tally.drawings_right}/{tally.drawings}, answers "
               f"{tally.answers_sent} sent / {tally.answers_confirmed} confirmed, {len(tally.refusals)} refused, "
               f"{tally.reconnects} reconnects, faults at {faults}, errors {tally.errors[:5]}")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "cluster-report.txt").write_text(summary + "\n")

    assert {"replica_killed", "database_down", "database_up"} <= set(faults), summary
    assert 0 < max(peak_mb) <= MAX_REPLICA_MB, summary
    assert tally.errors == [], summary  # no traceback, no error message, every run finished
    assert tally.reconnects >= 1, summary  # the killed replica's users came back through the proxy
    assert tally.drawings >= 3 * CLIENTS and tally.drawings_right >= 0.95 * tally.drawings, summary
    # Every answer confirmed to a user is in PostgreSQL, under that user's profile; beyond
    # those, at most the ones whose outcome the user never saw (the replica died under
    # them, or the database went down as it committed).
    stored = dict(FeedbackStore(cluster.database_url()).profiles())
    for profile in set(stored) | set(tally.confirmed_by_profile):
        confirmed, kept = tally.confirmed_by_profile.get(profile, 0), stored.get(profile, 0)
        unsettled = tally.unsettled_by_profile.get(profile, 0)
        assert confirmed <= kept <= confirmed + unsettled, (profile, confirmed, kept, unsettled, summary)
    # While the database was down answers were refused, saying why; after it, saved again.
    assert tally.refusals and all("not saved" in r and "feedback store" in r for r in tally.refusals), summary
    assert any(at > faults["database_up"] for at in tally.confirmed_at), summary
