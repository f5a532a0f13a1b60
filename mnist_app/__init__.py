"""mnist_app: the library behind the handwritten-digit recognizer.

Modules, each with one job (the README's "Layout" lists them all), for example:
- ``data``: reads the MNIST IDX files shipped in ``assets/mnist`` and verifies them.
- ``model``: builds and loads the CNN in Keras (training); ``litert``: exports it to LiteRT;
  ``network``: runs the export, as the app does (no TensorFlow); ``inference``: readings and saliency.
- ``preprocess`` and ``photo``: any picture -> MNIST-style 28x28 digits.
- ``__main__``: the command line (``python -m mnist_app evaluate|predict|bench``).
- ``ui``: the Streamlit pages and widgets, the only part that imports Streamlit.

Outside ``ui`` nothing imports Streamlit or its canvas component, so the library is
usable from scripts, training and tests as plain Python.
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = PROJECT_ROOT / "assets"
