"""The shipped network as the app runs it: LiteRT, without TensorFlow in the process.

``assets/model.keras`` is the trained Keras ensemble (what ``train_model.py`` trains
and the model's identity); ``assets/network.tflite`` is the same network exported by
``mnist_app.litert`` (BatchNorm folded into the convolutions, the input gradient
written out with builtin ops), which is what reads digits. Importing TensorFlow
alone holds ~600 MB of a server's memory; the LiteRT interpreter with this network
~40 MB, with the same logits (to ~1e-5) and input gradients (to ~1e-6).

The network file has three signatures, each over a batch float32 (n, 28, 28) in [0, 1]:
- ``read``: logits float32 (n, 10) (the members' average) and features float32 (n, 128 * members)
  (every member's last hidden layer);
- ``explain``: the same, and the gradient float32 (n, 28, 28) of each image's top logit;
- ``gradient``: the gradient of ``sum(logits * weights)`` for weights float32 (n, 10).
"""

from __future__ import annotations

import hashlib
import json
import queue
from pathlib import Path

import numpy as np

from mnist_app import ASSETS_DIR

MODEL_PATH = ASSETS_DIR / "model.keras"
REPORT_PATH = ASSETS_DIR / "report.json"
NETWORK_NAME = "network.tflite"
NUM_CLASSES = 10
BATCH = 256  # images per interpreter call: another session's drawing waits at most one batch
SIGNATURES = ("read", "explain", "gradient")


def network_path(model_path: Path | str = MODEL_PATH) -> Path:
    """Where the exported network of ``model_path`` lives: beside it."""
    return Path(model_path).with_name(NETWORK_NAME)


class Network:
    """LiteRT interpreters over an exported network, safe to share between threads:
    each call takes an idle interpreter of the pool (waiting for one when all are busy),
    and a batch is cut into calls of ``BATCH`` images.

    threads: each interpreter's threads per call; 1 for serving (a drawing's ops are too
    small to split). interpreters: how many calls can run at once; a server gives one
    per core, so two sessions' drawings are read side by side (each holds ~40 MB).
    """

    def __init__(self, flatbuffer: bytes, threads: int = 1, interpreters: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        self._flatbuffer = bytes(flatbuffer)
        self._threads = threads
        self.interpreters = max(1, int(interpreters))
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(self.interpreters):
            interpreter = Interpreter(model_content=self._flatbuffer, num_threads=threads)
            self._idle.put((interpreter, {name: interpreter.get_signature_runner(name) for name in SIGNATURES}))
        self.feature_width = int(self._run("read", images=np.zeros((1, 28, 28), np.float32))["features"].shape[1])

    def another(self, interpreters: int = 1) -> "Network":
        """The same network in interpreters of its own: for work that must neither wait
        for this one's calls nor hold them up (a profile's fit in the background)."""
        return Network(self._flatbuffer, self._threads, interpreters)

    def warm_up(self) -> None:
        """Run every signature once in every interpreter (the first call of each is slow)."""
        pool = [self._idle.get() for _ in range(self.interpreters)]
        try:
            for _, runners in pool:
                runners["read"](images=np.zeros((1, 28, 28), np.float32))
                runners["explain"](images=np.zeros((1, 28, 28), np.float32))
                runners["gradient"](images=np.zeros((1, 28, 28), np.float32), weights=np.eye(1, 10, dtype=np.float32))
        finally:
            for entry in pool:
                self._idle.put(entry)

    @classmethod
    def from_file(cls, model_path: Path | str = MODEL_PATH, threads: int = 1, interpreters: int = 1) -> "Network":
        """The network exported from ``model_path``, refused with a message saying what
        to run when it is missing or was exported from another model file."""
        model_path = Path(model_path)
        require_model_file(model_path)
        path = network_path(model_path)
        if not path.exists():
            raise FileNotFoundError(f"No exported network at {path} for {model_path}. Export it with "
                                    f"`python train_model.py --calibrate-only --out {model_path.parent}`.")
        exported = _report(model_path).get("network")
        exported_from = exported.get("exported_from") if isinstance(exported, dict) else None
        if exported_from is not None and exported_from != model_version(model_path):
            raise FileNotFoundError(f"{path} was exported from another model than {model_path} (model version "
                                    f"{exported_from}, not {model_version(model_path)}). Export it again with "
                                    f"`python train_model.py --calibrate-only --out {model_path.parent}`.")
        return cls(path.read_bytes(), threads, interpreters)

    def _run(self, signature: str, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        inputs = {k: np.ascontiguousarray(v, np.float32) for k, v in inputs.items()}
        interpreter = self._idle.get()
        try:
            return {k: np.array(v) for k, v in interpreter[1][signature](**inputs).items()}
        finally:
            self._idle.put(interpreter)

    def _batched(self, signature: str, outputs: tuple[str, ...], **inputs: np.ndarray) -> tuple[np.ndarray, ...]:
        n = len(next(iter(inputs.values())))
        if n == 0:
            widths = {"logits": (NUM_CLASSES,), "features": (self.feature_width,), "gradient": (28, 28)}
            return tuple(np.zeros((0, *widths[k]), np.float32) for k in outputs)
        parts = [self._run(signature, **{k: v[i : i + BATCH] for k, v in inputs.items()}) for i in range(0, n, BATCH)]
        return tuple(np.concatenate([part[k] for part in parts]) for k in outputs)

    def read(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """float32 (n, 28, 28) -> logits float32 (n, 10), features float32 (n, d)."""
        return self._batched("read", ("logits", "features"), images=images)

    def explain(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """float32 (n, 28, 28) -> logits (n, 10), features (n, d) and the gradient
        float32 (n, 28, 28) of each image's top logit, in one pass."""
        return self._batched("explain", ("logits", "features", "gradient"), images=images)

    def gradient(self, images: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """float32 (n, 28, 28) and weights float32 (n, 10) -> float32 (n, 28, 28), the
        gradient of each image's ``logits @ weights`` (a one-hot row: that digit's logit)."""
        return self._batched("gradient", ("gradient",), images=images, weights=weights)[0]


def require_model_file(path: Path | str) -> None:
    """A clear error when the model file is missing."""
    if not Path(path).exists():
        raise FileNotFoundError(
            f"No trained model at {path}. Train one with `python train_model.py` "
            "(or restore assets/model.keras from git)."
        )


def model_version(path: Path | str = MODEL_PATH) -> str:
    """The model's identity: the first 12 hex digits of the SHA-256 of its file.

    Caches of results computed with a model, and the answers users give about its
    predictions, are labelled with it.
    """
    require_model_file(path)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def _report(model_path: Path | str) -> dict:
    try:
        report = json.loads(Path(model_path).with_name("report.json").read_text())
        return report if isinstance(report, dict) else {}
    except (OSError, ValueError):
        return {}


def load_calibration(model_path: Path | str = MODEL_PATH) -> dict[str, float]:
    """The numeric calibration values from the report.json beside the model file
    ("min_top_logit", "temperature", "unsure_below", where present), {} when the
    report or its calibration is missing or unreadable."""
    calibration = _report(model_path).get("calibration")
    if not isinstance(calibration, dict):
        return {}
    return {k: float(calibration[k]) for k in ("min_top_logit", "temperature", "unsure_below")
            if isinstance(calibration.get(k), (int, float))}
