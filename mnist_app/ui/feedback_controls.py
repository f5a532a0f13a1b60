"""Streamlit controls that let users tell the model whether it read a digit right.

``feedback_controls`` goes under a prediction (Draw and Photo pages); answers go into
``feedback.FeedbackStore`` (``$MNIST_FEEDBACK_DB``), under the visitor's profile. A store that cannot be written
shows a warning and the page goes on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import streamlit as st

from mnist_app.feedback import FeedbackStoreError, png_bytes
from mnist_app.inference import DigitReading, Reading
from mnist_app.ui import profile, resources

CROP_MARGIN = 8


def original_crop(picture: np.ndarray, box: tuple[int, int, int, int], margin: int = CROP_MARGIN) -> np.ndarray:
    """The part of uint8 ``picture`` (H, W[, C]) inside ``box`` (x, y, w, h) plus a margin (a copy)."""
    x, y, w, h = box
    height, width = picture.shape[:2]
    return picture[max(0, y - margin):min(height, y + h + margin),
                   max(0, x - margin):min(width, x + w + margin)].copy()


def original_crops(picture: np.ndarray, reading: Reading) -> list[np.ndarray]:
    """Each digit's ``original_crop`` of the uint8 drawing or photo it was read from: what
    an answer stores with it, kept instead of the whole picture until the visitor answers."""
    return [original_crop(picture, digit.crop.box) for digit in reading.digits]


def _fingerprint(digit: DigitReading) -> str:
    """Identifies one drawn digit across reruns, so its controls reset for a new drawing."""
    return hashlib.sha1(np.ascontiguousarray(digit.crop.image).tobytes()).hexdigest()[:12]


def _save(state_key: str, digit: DigitReading, label: int | str, source: str, original: np.ndarray | None,
          rerun_on_correction: str | None) -> None:
    """Button callback: store one answer and remember the outcome for the next run.
    label: the digit, or the key of the widget holding it (read now, not when drawn)."""
    if isinstance(label, str):
        label = st.session_state[label]
    if label is None:
        st.session_state[state_key] = {"error": "choose the right digit first, then Save."}
        return
    store = profile.profile_store()
    try:
        answer_id = store.add(
            digit.crop.image, label=label, predicted=digit.digit, probabilities=digit.probabilities,
            model_version=resources.current_model_version(), source=source,
            crop_png=None if original is None else png_bytes(original),
            shown_sure=not digit.unsure)
    except (FeedbackStoreError, OSError) as exc:
        st.session_state[state_key] = {"error": str(exc)}
        return
    resources.example_cache().refresh_soon(store)  # ready before the visitor's next digit
    st.session_state[state_key] = {"id": answer_id, "label": label}
    verdict = "confirmed" if label == digit.digit else f"corrected to {label}"
    st.toast(f"Thank you: {digit.digit} {verdict}. Your next readings use it.", icon="✅")
    if label != digit.digit and rerun_on_correction is not None:
        st.rerun(rerun_on_correction)  # read again at once: the correction changes the reading


def feedback_controls(reading: Reading, key_prefix: str, source: str, originals: list[np.ndarray] | None = None,
                      digits: Iterable[int] | None = None, rerun_on_correction: str | None = None) -> None:
    """Under a prediction: per digit, a "Yes" button, or the right digit (0-9,
    chosen by the user) and "Save"; each answer is stored once.

    originals: per digit, the uint8 crop of the drawing or photo it was read from
    (``original_crops``), stored with its answer; digits: which of ``reading.digits`` to ask
    about (all by default); source: "draw" or "photo"; rerun_on_correction: what
    reruns when an answer corrects the reading, to show it read again with the answer
    (a fragment's key, or "app"; None: only the fragment these controls are in).
    """
    positions = range(len(reading.digits)) if digits is None else digits
    for position in positions:
        digit = reading.digits[position]
        original = None if originals is None else originals[position]
        fingerprint = _fingerprint(digit)
        state_key = f"{key_prefix}_answer_{fingerprint}"
        where = f"Digit #{position + 1}: " if len(reading.digits) > 1 else ""
        with st.container(key=f"{key_prefix}_feedback_{position}"):
            outcome = st.session_state.get(state_key)
            if outcome and "id" in outcome:
                st.caption(f"{where}saved as **{outcome['label']}**, thank you.")
                continue
            if outcome and "error" in outcome:
                st.warning(f"Your answer was not saved: {outcome['error']}")
            st.markdown(f"{where}Did the model read it right?")
            correct, choose, save = st.columns([4, 3, 2], vertical_alignment="bottom")
            correct.button(f"✓ Yes, it is a {digit.digit}", key=f"{key_prefix}_correct_{fingerprint}",
                           on_click=_save, args=(state_key, digit, digit.digit, source, original, None),
                           width="stretch")
            label_key = f"{key_prefix}_label_{fingerprint}"
            choose.selectbox("No, it is a", range(10), index=None, placeholder="choose...", key=label_key)
            save.button("Save", key=f"{key_prefix}_save_{fingerprint}",
                        on_click=_save, args=(state_key, digit, label_key, source, original, rerun_on_correction),
                        type="primary", width="stretch")
