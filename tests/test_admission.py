"""Page runs take turns: at most ``RUNS_AT_ONCE`` at once while runs are short, one more
while every admitted run is long, never more; a fragment inside its page's run takes no
second turn (it would wait on its own page forever)."""

import threading
import time

from mnist_app.ui.admission import LONG_RUN_S, RUNS_AT_ONCE, in_turn, turn


class Counter:
    """How many runs are inside their turn now, and the most at once."""

    def __init__(self):
        self.changed = threading.Condition()
        self.inside = self.peak = self.done = 0

    def enter(self) -> None:
        with self.changed:
            self.inside += 1
            self.peak = max(self.peak, self.inside)
            self.changed.notify_all()

    def leave(self) -> None:
        with self.changed:
            self.inside -= 1
            self.done += 1
            self.changed.notify_all()

    def wait_for(self, predicate, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(predicate, timeout=timeout)


def short_runs(count: int, seconds: float = 0.01) -> Counter:
    """``count`` page runs at once, each a fragment busy ``seconds`` inside its page's turn."""
    counter = Counter()

    @in_turn
    def fragment() -> None:  # called inside the page's run, in its thread
        counter.enter()
        time.sleep(seconds)
        counter.leave()

    def page_run() -> None:
        with turn():
            fragment()

    runs = [threading.Thread(target=page_run, daemon=True) for _ in range(count)]
    for run in runs:
        run.start()
    assert counter.wait_for(lambda: counter.done == count, timeout=30)  # each in turn, none left waiting
    return counter


def test_short_runs_take_turns_at_most_runs_at_once():
    assert short_runs(RUNS_AT_ONCE + 5).peak == RUNS_AT_ONCE


def test_long_runs_let_one_more_in_and_no_more_and_the_turns_come_back():
    counter, go_on = Counter(), threading.Event()

    def long_run() -> None:
        with turn():
            counter.enter()
            go_on.wait(30)
            counter.leave()

    runs = [threading.Thread(target=long_run, daemon=True) for _ in range(RUNS_AT_ONCE + 3)]
    started = time.monotonic()
    for run in runs:
        run.start()
    assert counter.wait_for(lambda: counter.inside == RUNS_AT_ONCE + 1, timeout=10)
    assert time.monotonic() - started > LONG_RUN_S  # not before the first ones were long
    assert not counter.wait_for(lambda: counter.inside > RUNS_AT_ONCE + 1, timeout=3 * LONG_RUN_S)
    go_on.set()
    assert counter.wait_for(lambda: counter.done == len(runs), timeout=30)
    assert short_runs(RUNS_AT_ONCE + 5).peak == RUNS_AT_ONCE  # no turn left over, none lost


def test_a_turn_is_given_back_when_the_run_stops_with_an_exception():
    class Rerun(Exception):  # what st.rerun raises through the page
        pass

    for _ in range(RUNS_AT_ONCE + 1):
        try:
            with turn():
                raise Rerun
        except Rerun:
            pass
    finished = threading.Event()

    def next_run() -> None:
        with turn():
            finished.set()

    threading.Thread(target=next_run, daemon=True).start()
    assert finished.wait(10)  # in a thread of its own: the turns given back are free to anyone
    assert short_runs(RUNS_AT_ONCE + 2).peak == RUNS_AT_ONCE
