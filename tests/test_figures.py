"""The README and the model card carry the model's figures as its report gives them,
and the README stays a page a newcomer reads in minutes, linking the rest."""

import json
import re
import subprocess
import sys

from mnist_app.figures import BEGIN, END, figures_table, stale_documents, with_table
from mnist_app.network import REPORT_PATH
from tests.conftest import ROOT

README = ROOT / "README.md"


def test_the_committed_tables_match_the_report():
    result = subprocess.run([sys.executable, "-m", "mnist_app", "figures", "--check"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_a_table_edited_by_hand_is_caught(tmp_path):
    report = json.loads(REPORT_PATH.read_text())
    table = figures_table(report)
    assert f"**{report['sets']['mnist']['accuracy']:.2%}**" in table
    document = tmp_path / "page.md"
    document.write_text(with_table(f"# A page\n\n{BEGIN}\n{END}\n\nThe rest.\n", table))
    assert stale_documents(report, [document]) == []
    document.write_text(document.read_text().replace(f"{report['sets']['mnist']['accuracy']:.2%}", "99.99%"))
    assert stale_documents(report, [document]) == [document]


def test_the_readme_is_short_and_links_every_docs_page():
    text = README.read_text()
    assert len(text.splitlines()) <= 300
    for page in (ROOT / "docs").glob("*.md"):
        assert f"docs/{page.name}" in text, page.name
    for link in re.findall(r"\]\((docs/[^)#]+)", text):
        assert (ROOT / link).exists(), link
    for heading in ("## The two commands", "## What it does", "## Command line", "## Configuration",
                    "## Running for many users", "## Troubleshooting", "## Layout", "## Credits"):
        assert heading in text
