"""Per-call latency of the feedback store's hot calls on both databases: ``revision()``
(before every reading) and ``add()`` (each answer), on an SQLite file in a temporary
folder and on a throwaway local PostgreSQL server (``tests.postgres_support``; commits
wait for the disk, as SQLite's do), or on the database of ``--url``. Each call goes through a new ``FeedbackStore(...).for_profile``,
as a page run makes one.

    python -m tests.store_latency [--answers 1000] [--calls 1000] [--url postgresql://...]
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from pathlib import Path

import numpy as np

from mnist_app.feedback import FeedbackStore


def timed_ms(call, n: int) -> np.ndarray:
    """Milliseconds of each of ``n`` calls of ``call(i)``."""
    times = np.empty(n)
    for i in range(n):
        started = time.perf_counter()
        call(i)
        times[i] = time.perf_counter() - started
    return times * 1000


def measure(location: Path | str, answers: int, calls: int) -> dict[str, np.ndarray]:
    """Latencies (ms) on the store at ``location``, holding ``answers`` answers of the profile measured."""
    image = np.random.default_rng(0).random((28, 28), dtype=np.float32)
    probabilities = np.full(10, 0.1)

    def add(i: int) -> None:
        FeedbackStore(location).for_profile("measured").add(image, i % 10, i % 10, probabilities, "v", "draw")

    first = timed_ms(lambda _: FeedbackStore(location).for_profile("measured").revision(), 1)
    timed_ms(add, answers)
    return {
        "first call (connects)": first,
        "revision()": timed_ms(lambda _: FeedbackStore(location).for_profile("measured").revision(), calls),
        "add()": timed_ms(add, calls),
    }


def report(name: str, results: dict[str, np.ndarray]) -> None:
    for call, ms in results.items():
        print(f"{name:<11}{call:<23}median {np.median(ms):7.3f} ms   p95 {np.percentile(ms, 95):7.3f} ms"
              f"   ({len(ms)} calls)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=1000, help="answers stored before measuring")
    parser.add_argument("--calls", type=int, default=1000, help="calls of each kind measured")
    parser.add_argument("--url", help="an empty PostgreSQL database to measure instead of a throwaway server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        report("SQLite", measure(Path(folder) / "feedback.sqlite3", args.answers, args.calls))
    with contextlib.ExitStack() as stack:
        if args.url:
            url = args.url
        else:
            from tests.postgres_support import throwaway_postgres

            url = stack.enter_context(throwaway_postgres(durable=True)).create_database()
        report("PostgreSQL", measure(url, args.answers, args.calls))
        FeedbackStore(url).close()


if __name__ == "__main__":
    main()
