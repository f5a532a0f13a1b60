"""The house rules of the code: Streamlit only in app.py and mnist_app/ui/, and no module
reaching into another's private names."""

import ast
import subprocess
import sys

from tests.conftest import ROOT

LIBRARY = ROOT / "mnist_app"
UI = LIBRARY / "ui"


def python_files():
    skip = {".venv", "scratch", "test-artifacts"}
    return [p for p in ROOT.rglob("*.py") if not skip & set(p.relative_to(ROOT).parts)]


def imported_modules(path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_app_and_ui_import_streamlit():
    offenders = []
    for path in LIBRARY.rglob("*.py"):
        if UI in path.parents:
            continue
        if any(name == "streamlit" or name.startswith(("streamlit.", "streamlit_")) for name in imported_modules(path)):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_the_library_runs_without_streamlit():
    """Every module outside mnist_app/ui imports in a fresh process without pulling in Streamlit."""
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in LIBRARY.rglob("*.py") if UI not in p.parents and p.name != "__main__.py"
    )
    assert "mnist_app.photo.pipeline" in modules and "mnist_app.feedback" in modules
    code = ("import importlib, sys\n"
            f"for name in {modules!r}: importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('streamlit', 'streamlit_drawable_canvas')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_no_module_uses_another_modules_private_names():
    offenders = []
    for path in python_files():
        tree = ast.parse(path.read_text(), str(path))
        project_modules = set()  # local names bound to modules of this project
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("mnist_app", "tests"):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        offenders.append(f"{path.relative_to(ROOT)}: from {node.module} import {alias.name}")
                    project_modules.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                project_modules.update((a.asname or a.name).split(".")[0] for a in node.names
                                       if a.name.split(".")[0] in ("mnist_app", "tests"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and isinstance(node.value, ast.Name) and node.value.id in project_modules):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert offenders == []
