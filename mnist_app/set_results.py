"""What a model read in each measuring set, kept on disk per model version, so the Model
page shows a set at once instead of reading its thousands of digits first.

Two places, looked in in this order:

- beside the model (``assets/set_results/<set>.npz``): written with the model by
  ``train_model.py`` and by ``python -m mnist_app evaluate --save-results``, shipped with
  it for the sets of the Model page (``evaluation.SETS``; never the CVL forms);
- the cache folder (``$MNIST_CACHE_DIR``, else ``~/.cache/mnist-digits``): what the app
  read itself for a model that came without them.

A file names the model version it was read by; one of another version is ignored.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from mnist_app.evaluation import SetResults
from mnist_app.network import MODEL_PATH

CACHE_ENV = "MNIST_CACHE_DIR"
SHIPPED_DIR_NAME = "set_results"


def shipped_dir(model_path: Path = MODEL_PATH) -> Path:
    """The folder of set results beside a model file."""
    return model_path.parent / SHIPPED_DIR_NAME


def cache_dir() -> Path:
    """Where the app keeps set results it read itself."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "mnist-digits")


def save(results: SetResults, path: Path, version: str) -> None:
    """Write ``results`` as read by model ``version`` to ``path`` (.npz), whole or not at all.
    The images are kept as uint8: what the galleries show, within 1/510 of the input."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as temporary:
        np.savez_compressed(temporary, version=np.str_(version), labels=results.labels, predicted=results.predicted,
                            confidence=results.confidence, sure=results.sure,
                            images=np.round(np.clip(results.images, 0, 1) * 255).astype(np.uint8),
                            probabilities=results.probabilities)
    os.chmod(temporary.name, 0o644)  # readable like any file written in place
    os.replace(temporary.name, path)


def load(path: Path, version: str) -> SetResults | None:
    """The results in ``path`` if they were read by model ``version``; None when the file
    is missing, of another version or unreadable."""
    try:
        with np.load(path) as stored:
            if str(stored["version"]) != version:
                return None
            return SetResults(stored["labels"], stored["predicted"], stored["confidence"], stored["sure"],
                              stored["images"].astype(np.float32) / 255, stored["probabilities"])
    except (OSError, KeyError, ValueError):
        return None


def find(version: str, name: str, model_path: Path = MODEL_PATH) -> SetResults | None:
    """Set ``name`` as read by model ``version``: shipped beside the model, or cached."""
    for folder in (shipped_dir(model_path), cache_dir() / version):
        results = load(folder / f"{name}.npz", version)
        if results is not None:
            return results
    return None


def keep(results: SetResults, version: str, name: str) -> None:
    """Cache set ``name`` as read by model ``version`` (a cache that cannot be written is skipped)."""
    try:
        save(results, cache_dir() / version / f"{name}.npz", version)
    except OSError:
        pass
