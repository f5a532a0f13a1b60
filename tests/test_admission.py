"""Page runs take turns: at most ``RUNS_AT_ONCE`` at once, a fragment inside its page's run
takes no second turn (it would wait on its own page forever)."""

import threading

from mnist_app.ui.admission import RUNS_AT_ONCE, in_turn, turn


def test_at_most_runs_at_once_hold_a_turn_and_the_rest_wait_for_one():
    changed = threading.Condition()
    inside = peak = done = 0
    go_on = threading.Event()

    @in_turn
    def fragment() -> None:  # called inside the page's run, in its thread
        nonlocal inside, peak
        with changed:
            inside += 1
            peak = max(peak, inside)
            changed.notify_all()
        go_on.wait(30)
        with changed:
            inside -= 1

    def page_run() -> None:
        nonlocal done
        with turn():
            fragment()
        with changed:
            done += 1
            changed.notify_all()

    runs = [threading.Thread(target=page_run, daemon=True) for _ in range(RUNS_AT_ONCE + 3)]
    for run in runs:
        run.start()
    with changed:
        assert changed.wait_for(lambda: inside == RUNS_AT_ONCE, timeout=30)
        assert not changed.wait_for(lambda: inside > RUNS_AT_ONCE, timeout=0.5)  # the others wait
    go_on.set()
    with changed:
        assert changed.wait_for(lambda: done == len(runs), timeout=30)  # each in turn, none left waiting
    assert peak == RUNS_AT_ONCE


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
