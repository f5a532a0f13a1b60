"""mnist_app: the library behind the handwritten-digit recognizer.

Modules, each with one job:
- ``data``: reads the MNIST IDX files shipped in ``assets/mnist`` and verifies them.
- ``model``: builds the CNN, loads the shipped model, compiled prediction calls.
- ``__main__``: the command line (``python -m mnist_app evaluate|predict|bench``).

Nothing here imports Streamlit or its canvas component, so it is usable from
scripts and tests as plain Python.
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = PROJECT_ROOT / "assets"
