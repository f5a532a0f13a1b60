"""How the model reads the digits visitors bring ("the wild"), beside how it reads the
measuring sets ("the lab"): the figures behind the Operator page's live view.

The counts come from the feedback store, aggregated in the database
(``FeedbackStore.daily_figures``: per UTC day and source, answers, read right, shown as
unsure, wrong while shown as sure); everything here is arithmetic on those rows, so a
store of 100,000 answers costs one indexed query, never its images.

A visitor's answer is the truth here: "Yes" confirms the reading, "No, it is a ..."
corrects it. Sources: "draw" (strokes on the canvas) and "photo" (ink on paper:
photos, scans, uploads); the lab's sets of the same kind (``evaluation.SET_SOURCES``:
"canvas" and "paper") stand beside each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from mnist_app.evaluation import SET_SOURCES, SET_TITLES

SOURCE_TITLES = {"draw": "Drawn on the canvas", "photo": "Photos and scans"}
LAB_SOURCE = {"draw": "canvas", "photo": "paper"}  # the measuring sets of the same kind of input
Row = tuple[str, str, int, int, int, int]  # (day, source, answers, right, unsure, wrong but sure)


@dataclass(frozen=True)
class Figures:
    """Counts of answers and the shares that matter: accuracy (read right), unsure (shown
    with a warning) and wrong but sure (wrong while shown without one)."""

    answers: int
    right: int
    unsure: int
    wrong_but_sure: int

    @property
    def accuracy(self) -> float | None:
        return self.right / self.answers if self.answers else None

    @property
    def unsure_share(self) -> float | None:
        return self.unsure / self.answers if self.answers else None

    @property
    def wrong_but_sure_share(self) -> float | None:
        return self.wrong_but_sure / self.answers if self.answers else None


def total(rows: list[Row], source: str | None = None) -> Figures:
    """The figures over ``rows`` (all sources, or one)."""
    chosen = [r for r in rows if source is None or r[1] == source]
    return Figures(*(sum(r[k] for r in chosen) for k in range(2, 6)))


def period_start(day: str, period: str) -> str:
    """The first day ("YYYY-MM-DD") of the day's period: "day" itself, or its ISO "week" (Monday)."""
    if period == "day":
        return day
    if period == "week":
        first = date.fromisoformat(day)
        return (first - timedelta(days=first.weekday())).isoformat()
    raise ValueError(f"period must be 'day' or 'week', not {period!r}")


def trend(rows: list[Row], period: str = "day") -> list[dict]:
    """Per period (oldest first) and source, with "all" for both: {"period", "source",
    "answers", "accuracy", "unsure", "wrong_but_sure"}; JSON-ready, for a chart."""
    folded: dict[tuple[str, str], list[int]] = {}
    for day, source, *counts in rows:
        for key in ((period_start(day, period), source), (period_start(day, period), "all")):
            sums = folded.setdefault(key, [0, 0, 0, 0])
            for k, value in enumerate(counts):
                sums[k] += value
    points = []
    for (start, source), (answers, right, unsure, wrong_sure) in sorted(folded.items()):
        figures = Figures(answers, right, unsure, wrong_sure)
        points.append({"period": start, "source": source, "answers": answers, "accuracy": figures.accuracy,
                       "unsure": figures.unsure_share, "wrong_but_sure": figures.wrong_but_sure_share})
    return points


def lab_figures(report: dict | None, source: str) -> list[dict]:
    """The measuring sets of the training report that are the same kind of input as the
    wild ``source`` ("draw": canvas sets; "photo": paper sets): per set {"set", "title",
    "n", "accuracy", "unsure", "wrong_but_sure"}; none without a report."""
    if not report:
        return []
    sets = report.get("sets", {})
    return [{"set": name, "title": SET_TITLES.get(name, name), "n": figures["n"], "accuracy": figures["accuracy"],
             "unsure": figures.get("unsure"), "wrong_but_sure": figures.get("wrong_but_sure")}
            for name, figures in sets.items() if SET_SOURCES.get(name) == LAB_SOURCE[source]]
