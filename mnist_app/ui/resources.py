"""What the app process keeps loaded for every page: the model, once per model version.

Imports Streamlit (not the canvas component); page scripts in ``mnist_app/ui/pages``
lay out widgets and call these.
"""

from __future__ import annotations

import functools
import gc
import os
import threading

import streamlit as st

from mnist_app.inference import Recognizer
from mnist_app.network import MODEL_PATH, model_version
from mnist_app.personal import ExampleCache


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


# One interpreter per core: two sessions' drawings are read side by side, not in turn.
SERVING_INTERPRETERS = os.cpu_count() or 1
_preloaded: dict[str, Recognizer] = {}  # by model version, loaded before the first visitor came
_preload_lock = threading.Lock()


def _warm_recognizer() -> Recognizer:
    recognizer = Recognizer.from_file(MODEL_PATH, interpreters=SERVING_INTERPRETERS)
    recognizer.warm_up()
    return recognizer


def preload() -> None:
    """Load the model now, ahead of the first visitor (``mnist_app.ui.serve`` does, once
    the server listens); the first page run then takes it instead of loading it."""
    version = current_model_version()
    with _preload_lock:
        if version not in _preloaded:
            _preloaded[version] = _warm_recognizer()


@st.cache_resource(show_spinner="Loading the model...", max_entries=1)
def _load_recognizer(version: str) -> Recognizer:
    with _preload_lock:  # a preload under way is waited for, not repeated
        recognizer = _preloaded.pop(version, None)
    if recognizer is None:
        recognizer = _warm_recognizer()
    # A full garbage collection (Python's own, or Streamlit's after every script run
    # unless runner.postScriptGC is off, as in .streamlit/config.toml) walks every
    # object, holding the GIL while every session waits (~240 ms when the app still
    # imported TensorFlow). What is alive now lives as long as the process; out of the
    # collector's sight, a collection does not walk it.
    gc.freeze()
    return recognizer


def get_recognizer() -> Recognizer:
    """The model, loaded and compiled once per model version: a retrained model file
    is picked up on the next rerun; ``current_model_version()`` names the one returned."""
    return _load_recognizer(current_model_version())


@st.cache_resource(show_spinner=False, max_entries=1)
def _example_cache(version: str) -> ExampleCache:
    recognizer = _load_recognizer(version)
    return ExampleCache(recognizer, fit_reader=recognizer.with_own_network())


def example_cache() -> ExampleCache:
    """Every profile's examples, as vectors of the current model, for every session of
    this process (an answer's vector is computed once, when it is first needed)."""
    return _example_cache(current_model_version())


def model_or_stop() -> Recognizer:
    """The recognizer, or a clear message and a stopped page if there is no model."""
    try:
        return get_recognizer()
    except FileNotFoundError as exc:
        st.error(f"{exc}")
        st.stop()
