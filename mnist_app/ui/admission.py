"""At most a few page runs at once: the rest wait their turn, in order.

Streamlit runs every session's script in a thread of its own, and Python runs one
thread at a time. Twenty users drawing at once meant twenty runs taking turns on the
interpreter lock every few milliseconds, and the server's event loop (which receives
every stroke and sends every reply) waiting behind all of them each time it woke.
A run admitted here has the interpreter nearly to itself and finishes sooner; a run
waiting for its turn waits on a semaphore, off the lock.

Runs nest (a page run calls its fragments in the same thread): a thread that holds a
turn goes on without taking another. The answer panels take none: storing an answer is
done by its button's callback, before any run code, and the panel then only says so
(queued behind readings, answers were slower: docs/performance.md). A run that waits on
the feedback store keeps its turn meanwhile, which the store's short timeouts bound.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# Measured with 20 simulated users on 2 cores (docs/performance.md, 2026-12-07): 2 beat
# 1 (runs waited while one read a photo), 3 and no limit at all.
RUNS_AT_ONCE = max(1, int(os.environ.get("MNIST_RUNS_AT_ONCE", "2")))

_turns = threading.BoundedSemaphore(RUNS_AT_ONCE)
_holder = threading.local()


@contextmanager
def turn() -> Iterator[None]:
    """Hold one of the ``RUNS_AT_ONCE`` turns for the block (re-entrant per thread)."""
    if getattr(_holder, "depth", 0):
        _holder.depth += 1
        try:
            yield
        finally:
            _holder.depth -= 1
        return
    _turns.acquire()
    _holder.depth = 1
    try:
        yield
    finally:
        _holder.depth = 0
        _turns.release()


def in_turn(function: Callable) -> Callable:
    """Decorator: ``function`` runs holding a turn (for fragments, which rerun alone)."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with turn():
            return function(*args, **kwargs)
    return wrapper
