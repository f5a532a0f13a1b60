"""The model's figures per measuring set, as markdown, from its training report.

The README and docs/model.md carry this table between the markers below, written by
``python -m mnist_app figures`` from ``assets/report.json``; ``--check`` says whether the
committed tables still match the report (a test runs it), so they never go stale by hand.
"""

from __future__ import annotations

from pathlib import Path

from mnist_app import PROJECT_ROOT
from mnist_app.evaluation import SET_SOURCES, SET_TITLES

BEGIN = "<!-- figures: written by `python -m mnist_app figures` from assets/report.json; do not edit -->"
END = "<!-- /figures -->"
DOCUMENTS = (PROJECT_ROOT / "README.md", PROJECT_ROOT / "docs" / "model.md")


def figures_table(report: dict) -> str:
    """Markdown: one row per measuring set of ``report`` (a training report, as
    ``train_model.py`` writes it): accuracy beside the plain baseline's, how often the
    app is unsure or wrong while shown as sure, and its calibration error."""
    calibration = report.get("calibration", {})
    architecture = report.get("architecture", {})
    lines = [
        f"Model of {report.get('trained_at', '?')[:10]}: {architecture.get('members', '?')} CNNs, "
        f"{architecture.get('parameters', 0):,} parameters; confidence temperature "
        f"{calibration.get('temperature', 1.0):.2f}, unsure below {calibration.get('unsure_below', 0):.0%}.",
        "",
        "| set | source | digits | the app | plain baseline | unsure | wrong but sure | calibration error |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, figures in report.get("sets", {}).items():
        baseline = figures.get("baseline", {})
        lines.append(
            f"| {SET_TITLES.get(name, name)} | {SET_SOURCES.get(name, '?')} | {figures['n']:,} | "
            f"**{figures['accuracy']:.2%}** | {baseline.get('accuracy', float('nan')):.2%} | "
            f"{figures['unsure']:.2%} | {figures['wrong_but_sure']:.2%} | {figures['calibration_error']:.4f} |")
    return "\n".join(lines)


def with_table(document: str, table: str) -> str:
    """``document`` with the text between its markers replaced by ``table``; unchanged
    when it has no markers."""
    if BEGIN not in document or END not in document:
        return document
    head, rest = document.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table}\n{END}{tail}"


def stale_documents(report: dict, documents=DOCUMENTS) -> list[Path]:
    """The documents whose table differs from the one ``report`` gives."""
    table = figures_table(report)
    return [path for path in documents if Path(path).read_text() != with_table(Path(path).read_text(), table)]


def write_tables(report: dict, documents=DOCUMENTS) -> list[Path]:
    """Write the table into every document that carries the markers; the ones changed."""
    changed = stale_documents(report, documents)
    table = figures_table(report)
    for path in changed:
        path.write_text(with_table(path.read_text(), table))
    return changed
