"""One page run at a time, one more while the runs are long; the rest wait their turn, in order.

Streamlit runs every session's script in a thread of its own, and Python runs one
thread at a time. Twenty users drawing at once meant twenty runs taking turns on the
interpreter lock every few milliseconds, and the server's event loop (which receives
every stroke and sends every reply) waiting behind all of them each time it woke.
A run admitted here has the interpreter nearly to itself and finishes sooner; a run
waiting for its turn waits on a semaphore, off the lock. A long run (a phone photo of
12 megapixels, a first visit to a page that reads much) must not hold up every stroke:
once every admitted run has taken over ``LONG_RUN_S``, one more is let in, and the
long run gives back no turn when it ends.

Runs nest (a page run calls its fragments in the same thread): a thread that holds a
turn goes on without taking another. The answer panels take none: storing an answer is
done by its button's callback, before any run code, and the panel then only says so
(queued behind readings, answers were slower: docs/performance.md). A run that waits on
the feedback store keeps its turn meanwhile, which the store's short timeouts bound.
"""

from __future__ import annotations

import functools
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# MNIST_RUNS_AT_ONCE=N: N at a time. Measured with 20 simulated users on 2 cores
# (docs/performance.md, 2026-12-07): one at a time beat two in six alternated pairs for
# a photo's p95 (420-589 ms against 577-763), in four for a stroke's; two had beaten
# three and no limit at all.
RUNS_AT_ONCE = max(1, int(os.environ.get("MNIST_RUNS_AT_ONCE", "1")))
LONG_RUN_S = 0.25  # a run this long lets one more in (a stroke's run takes ~30-60 ms)
_WATCH_EVERY_S = 0.05

_permits = threading.Semaphore(RUNS_AT_ONCE)
_state = threading.Lock()
_started: dict[int, float] = {}  # run (its ticket) -> when it was admitted
_stretched: set[int] = set()  # runs whose length let one more in (at most one at a time)
_tickets = itertools.count(1)
_holder = threading.local()
_watchdog: threading.Thread | None = None


def _watch() -> None:
    """Let one more run in while every admitted run has taken over ``LONG_RUN_S``."""
    while True:
        time.sleep(_WATCH_EVERY_S)
        now = time.monotonic()
        with _state:
            if (not _stretched and len(_started) >= RUNS_AT_ONCE
                    and all(now - t > LONG_RUN_S for t in _started.values())):
                _stretched.add(min(_started, key=_started.get))
                _permits.release()


def _admit() -> int:
    global _watchdog
    _permits.acquire()
    with _state:
        ticket = next(_tickets)
        _started[ticket] = time.monotonic()
        if _watchdog is None:
            _watchdog = threading.Thread(target=_watch, name="admission-watchdog", daemon=True)
            _watchdog.start()
    return ticket


def _leave(ticket: int) -> None:
    with _state:
        del _started[ticket]
        if ticket in _stretched:
            _stretched.discard(ticket)  # the turn it let in stands for its own
            return
    _permits.release()


@contextmanager
def turn() -> Iterator[None]:
    """Hold a turn for the block (re-entrant per thread)."""
    if getattr(_holder, "depth", 0):
        _holder.depth += 1
        try:
            yield
        finally:
            _holder.depth -= 1
        return
    ticket = _admit()
    _holder.depth = 1
    try:
        yield
    finally:
        _holder.depth = 0
        _leave(ticket)


def in_turn(function: Callable) -> Callable:
    """Decorator: ``function`` runs holding a turn (for fragments, which rerun alone)."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with turn():
            return function(*args, **kwargs)
    return wrapper
