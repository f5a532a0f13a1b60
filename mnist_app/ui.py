"""Streamlit building blocks shared by the pages: the cached model and the charts.

Imports Streamlit (not the canvas component); page scripts in ``mnist_app/pages``
lay out widgets and call these.
"""

from __future__ import annotations

import functools
import gc

import altair as alt
import keras
import numpy as np
import pandas as pd
import streamlit as st

from mnist_app.inference import UNSURE_BELOW, Reading, Recognizer
from mnist_app.model import MODEL_PATH, model_version, prefer_latency


def _keep_keras_state_between_runs() -> None:
    """Stop Streamlit from calling ``keras.backend.clear_session()`` after every script run.

    Streamlit does that whenever Keras is imported, for apps that build a model per
    run. This app builds none (the model is loaded once, see ``get_recognizer``), and
    the call costs every rerun a full ``gc.collect()`` plus TensorFlow's kernel cache,
    which the next prediction then rebuilds: measured ~320 ms + ~170 ms of a ~860 ms
    rerun. It would also reset Keras's global state under another session's running
    prediction. Only the app process imports this module.
    """
    keras.backend.clear_session = _no_session_reset


def _no_session_reset(free_memory: bool = True) -> None:
    """Stands in for ``keras.backend.clear_session`` in the app (see above)."""


prefer_latency()  # before any TensorFlow op runs in the app process
_keep_keras_state_between_runs()

SALIENCY_LABELS = {
    "gradient": "Gradient (fastest)",
    "smoothgrad": "SmoothGrad (less noisy)",
    "integrated": "Integrated Gradients (complete)",
}
SALIENCY_LEGEND = (
    "**Red**: ink here pushed the model *towards* the digit it read. "
    "**Blue**: ink here (or ink missing here) pushed *against* it. "
    "Stronger colour, stronger influence; grey: no influence."
)


@functools.lru_cache(maxsize=8)
def _file_version(path: str, mtime_ns: int, size: int) -> str:
    return model_version(path)


def current_model_version() -> str:
    """``model.model_version`` of the model file, hashed again only when the file changes."""
    try:
        stat = MODEL_PATH.stat()
    except FileNotFoundError:
        return model_version(MODEL_PATH)  # raises the error that says how to get a model
    return _file_version(str(MODEL_PATH), stat.st_mtime_ns, stat.st_size)


@st.cache_resource(show_spinner="Loading the model...", max_entries=1)
def _load_recognizer(version: str) -> Recognizer:
    recognizer = Recognizer.from_file(MODEL_PATH)
    recognizer.warm_up()
    # A full garbage collection (Python's own, or Streamlit's after every script run
    # unless runner.postScriptGC is off, as in .streamlit/config.toml) walks every
    # object: with TensorFlow, Keras and the model loaded, ~400,000 of them, ~240 ms
    # holding the GIL while every session waits. What is alive now lives as long as
    # the process; out of the collector's sight, such a collection takes ~0 ms.
    gc.freeze()
    return recognizer


def get_recognizer() -> Recognizer:
    """The model, loaded and compiled once per model version: a retrained model file
    is picked up on the next rerun; ``current_model_version()`` names the one returned."""
    return _load_recognizer(current_model_version())


def model_or_stop() -> Recognizer:
    """The recognizer, or a clear message and a stopped page if there is no model."""
    try:
        return get_recognizer()
    except FileNotFoundError as exc:
        st.error(f"{exc}")
        st.stop()


def probability_chart(probabilities: np.ndarray, height: int = 220) -> alt.Chart:
    """Bar chart of the ten probabilities, the predicted digit highlighted."""
    top = int(np.argmax(probabilities))
    data = pd.DataFrame({
        "digit": [str(d) for d in range(10)],
        "probability": probabilities.astype(float),
        "predicted": ["predicted" if d == top else "other" for d in range(10)],
    })
    return (
        alt.Chart(data, height=height)
        .mark_bar()
        .encode(
            x=alt.X("digit:N", sort=None, axis=alt.Axis(labelAngle=0, title=None)),
            y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%", title=None)),
            color=alt.Color("predicted:N", scale=alt.Scale(domain=["predicted", "other"],
                                                            range=["#e4572e", "#8da9c4"]), legend=None),
            tooltip=[alt.Tooltip("digit:N"), alt.Tooltip("probability:Q", format=".2%")],
        )
    )


def prediction_text(reading: Reading) -> str:
    """The prediction as HTML: the digits first and large, the confidence after them,
    details smaller; only a hint (and no digits) when nothing was read."""
    if reading.empty:
        return ("<div class='prediction'><span class='prediction-detail'>"
                "Draw a digit on the canvas: the prediction appears here.</span></div>")
    if len(reading.digits) == 1:
        d = reading.digits[0]
        if not d.looks_like_digit:  # a confidence that means little: say so in the headline
            return (f"<div class='prediction'>Prediction: {d.digit}? <span class='prediction-detail'>"
                    f"The model says {d.confidence:.0%}, but this is unlike the digits it learned from."
                    f"</span></div>")
        return f"<div class='prediction'>Prediction: {d.digit} ({d.confidence:.0%})</div>"
    lowest = min(d.confidence for d in reading.digits)
    return (f"<div class='prediction'>Prediction: {reading.number} <span class='prediction-detail'>"
            f"{len(reading.digits)} digits, read left to right; lowest confidence {lowest:.0%}</span></div>")


def unsure_notes(reading: Reading) -> list[str]:
    """A sentence for every digit the model is not sure of, naming its top two."""
    notes = []
    for i, d in enumerate(reading.digits):
        if d.unsure:
            (a, pa), (b, pb) = d.top_two
            where = f"Digit {i + 1}: " if len(reading.digits) > 1 else ""
            if d.crop.doubt:
                notes.append(f"{where}flagged - {d.crop.doubt}, so it may not be a digit; "
                             f"read as {a} ({pa:.0%}).")
            elif not d.looks_like_digit:
                notes.append(f"{where}this does not look like a digit the model knows; "
                             f"its best guesses are {a} ({pa:.0%}) and {b} ({pb:.0%}).")
            else:
                notes.append(f"{where}not sure - it looks like a {a} ({pa:.0%}) or a {b} ({pb:.0%}). "
                             f"Below {UNSURE_BELOW:.0%} confidence the model may be wrong.")
    return notes
