"""Widgets that show a reading: the probability chart, the prediction's headline and
the notes on digits the model is unsure of, and the saliency legend."""

from __future__ import annotations

import numpy as np

from mnist_app.inference import DigitReading, Reading
from mnist_app.personal import Examples
from mnist_app.visual import enlarge

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


NARROW_SCREEN_PX = 640  # below this Streamlit stacks columns: the phone layout


def narrow_screen_css(canvas_width: int, step_px: int = 40) -> str:
    """CSS for narrow screens: the canvas (in ``st.container(key="draw_canvas")``) zoomed
    to fit its column, and on a phone the reading with its answer buttons
    (``st.container(key="reading_panel")``) pinned to the bottom of the screen, so both
    stay in view while drawing.

    Zoom, not a smaller canvas: the drawing keeps its size in pixels (what the reading
    path sees), and the canvas maps touches through its on-screen size. One step per
    ``step_px`` of the column's width (a container query), each fitting the narrowest
    column of its step."""
    host = ".st-key-draw_canvas [data-testid=stBidiComponentIsolated]"
    rules = [".st-key-draw_canvas { container-type: inline-size; }"]
    for narrowest in range(200, canvas_width, step_px):
        rules.append(f"@container (min-width: {narrowest}px) and (max-width: {narrowest + step_px - 0.02}px) "
                     f"{{ {host} {{ zoom: {narrowest / canvas_width:.3f}; }} }}")
    rules.append(f"""@media (max-width: {NARROW_SCREEN_PX - 1}px) {{
  .st-key-reading_panel {{ position: fixed; left: 0; right: 0; bottom: 0; z-index: 999990;
    padding: 0.5rem 1rem 0.75rem; max-height: 42vh; overflow-y: auto;
    background: var(--st-background-color, #fff); box-shadow: 0 -2px 10px rgba(0, 0, 0, 0.15); }}
  .st-key-reading_panel .prediction {{ font-size: 1.6rem; }}
  [data-testid=stMain] .block-container {{ padding-top: 3rem; padding-bottom: 18rem; }}
  [data-testid=stMain] h1 {{ font-size: 1.75rem; padding-top: 0; }}
}}""")
    return "<style>\n" + "\n".join(rules) + "\n</style>"


def probability_chart(probabilities: np.ndarray, height: int = 220) -> dict:
    """Bar chart of the ten probabilities float32 (10,), the predicted digit highlighted:
    a Vega-Lite spec with its data inline, for ``st.vega_lite_chart(spec=...)``. Built as
    a dict (Altair's schema validation cost more than the reading on every stroke), its
    data inside its one layer: Streamlit turns top-level data into a pandas table and
    Arrow bytes, 6% of a loaded server's interpreter time; ten values ride in the spec."""
    top = int(np.argmax(probabilities))
    values = [{"digit": str(d), "probability": round(float(p), 6), "predicted": "predicted" if d == top else "other"}
              for d, p in enumerate(probabilities)]
    return {"height": height, "layer": [{
        "data": {"values": values},
        "mark": {"type": "bar"},
        "encoding": {
            "x": {"field": "digit", "type": "nominal", "sort": None, "axis": {"labelAngle": 0, "title": None}},
            "y": {"field": "probability", "type": "quantitative", "scale": {"domain": [0, 1]},
                  "axis": {"format": "%", "title": None}},
            "color": {"field": "predicted", "type": "nominal", "legend": None,
                      "scale": {"domain": ["predicted", "other"], "range": ["#e4572e", "#8da9c4"]}},
            "tooltip": [{"field": "digit", "type": "nominal"},
                        {"field": "probability", "type": "quantitative", "format": ".2%"}],
        },
    }]}


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
                             f"Below {d.unsure_below:.0%} confidence the model may be wrong.")
    return notes


def examples_note(digit: DigitReading, where: str = "") -> str | None:
    """Markdown saying that a reading comes from the visitor's own examples ("read as 7:
    like 3 of your 7s") and what the shared model alone read when it differs; None
    when the reading is the shared model's own."""
    like = digit.from_examples
    if not like:
        return None
    mark = digit.digit
    note = f"{where}read as **{mark}**: like {len(like)} of your {mark}s"
    if digit.shared_digit != mark:
        note += f" (the shared model alone reads {digit.shared_digit}, {digit.shared_probabilities.max():.0%})"
    return note + "."


def straightening_note(reading: Reading) -> str | None:
    """Markdown saying that the visitor's digits were read straightened, and how their
    writing was found to lean or turn; None when they were read as drawn."""
    straightened = [d for d in reading.digits if d.straightened]
    if not straightened:
        return None
    how = straightened[0].evidence.straightening.describe()
    return (f"Your examples show writing {how}, so your digits are read straightened "
            f"(the shared model alone reads them as drawn).")


def example_thumbnails(digit: DigitReading, examples: Examples, scale: int = 2, gap: int = 6) -> np.ndarray:
    """The visitor's examples a reading came from, side by side in one picture (one
    image to send, not one per example): uint8 (28 scale, k (28 scale + gap) - gap, 3)."""
    pictures = [enlarge(examples.image(answer_id) / 255, scale=scale) for answer_id in digit.from_examples]
    strip = np.full((28 * scale, len(pictures) * (28 * scale + gap) - gap, 3), 255, np.uint8)
    for k, picture in enumerate(pictures):
        strip[:, k * (28 * scale + gap):k * (28 * scale + gap) + 28 * scale] = picture
    return strip


def shared_text(reading: Reading) -> str:
    """Markdown, one line: what the shared model alone read, for comparing."""
    number = "".join(str(d.shared_digit) for d in reading.digits)
    confidences = ", ".join(f"{d.shared_probabilities.max():.0%}" for d in reading.digits)
    return f"Shared model alone: **{number}** ({confidences})"
