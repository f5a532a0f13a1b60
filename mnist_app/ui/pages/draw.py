"""Draw page: draw digits, see what the model read, what it saw, and why."""

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from mnist_app.images import ImageError, decode_canvas_png
from mnist_app.inference import Reading
from mnist_app.preprocess import INK_THRESHOLD, ink_from_picture
from mnist_app.segmentation import segment_digits
from mnist_app.ui import profile, resources, widgets
from mnist_app.ui.admission import in_turn
from mnist_app.ui.feedback_controls import feedback_controls, original_crops
from mnist_app.visual import enlarge, saliency_on_drawing, saliency_on_input

CANVAS_WIDTH, CANVAS_HEIGHT = 560, 320

recognizer = resources.model_or_stop()
st.session_state.setdefault("canvas_version", 0)

st.title("Draw a digit")
st.caption("Draw one digit, or several side by side (like 2026). The model reads after every stroke.")
st.container(height=16, border=False)  # room for the canvas's floating toolbar

st.html(widgets.narrow_screen_css(CANVAS_WIDTH))  # on a phone: canvas fits, reading stays in view


def clear_canvas() -> None:
    """Button callback: a new, empty canvas (a canvas under a new key)."""
    st.session_state.canvas_version += 1


@st.fragment
def answer_panel(reading: Reading, originals: list[np.ndarray], chosen: int) -> None:
    """"Yes" or the right digit under the reading: an answer reruns this panel alone, a
    correction the drawing's reading too (read again with it)."""
    feedback_controls(reading, key_prefix="draw", source="draw", originals=originals, digits=[chosen],
                      rerun_on_correction="drawing")


@st.fragment(key="drawing")
@in_turn
def drawing() -> None:
    """The canvas and everything read from it: a stroke reruns this alone, not the page."""
    left, right = st.columns([11, 9], gap="large")
    with left:
        with st.container(key="draw_canvas"):
            canvas = st_canvas(
                stroke_width=st.session_state.get("stroke_width", 18),
                stroke_color="#FFFFFF",
                background_color="#000000",
                width=CANVAS_WIDTH,
                height=CANVAS_HEIGHT,
                drawing_mode="freedraw",
                return_image_data=True,
                key=f"canvas_{st.session_state.canvas_version}",
            )
        controls = st.columns([3, 1], vertical_alignment="bottom")
        controls[0].slider("Stroke width", 4, 40, 18, key="stroke_width",
                           help="Thin or fat: strokes are normalised to MNIST's width before reading.")
        controls[1].button("Clear", key="clear_canvas", width="stretch", on_click=clear_canvas)

    drawn = canvas.image_bytes if canvas is not None else None
    try:
        image = decode_canvas_png(drawn) if drawn else None
    except ImageError as exc:  # only a broken or forged canvas message
        st.warning(f"The drawing could not be read ({exc}); draw again or press Clear.")
        image = None
    ink = ink_from_picture(image) if image is not None else None
    crops = segment_digits(ink, recognizer.judge) if ink is not None else []
    examples = profile.your_examples() if crops else None
    reading, gradients = recognizer.read_and_explain(crops, examples)

    with right:
        with st.container(key="reading_panel"):
            with st.container(key="prediction"):
                st.markdown(widgets.prediction_text(reading), unsafe_allow_html=True)
                for note in widgets.unsure_notes(reading):
                    st.warning(note)
            if any(d.from_examples for d in reading.digits):
                profile.show_examples_used(reading, examples, key="your_examples")
            if note := widgets.straightening_note(reading):
                st.caption(note)
            if not reading.empty:
                chosen = 0
                if len(reading.digits) > 1:
                    chosen = st.radio("Inspect digit", range(len(reading.digits)), horizontal=True,
                                      format_func=lambda i: f"#{i + 1}: {reading.digits[i].digit}")
                digit = reading.digits[chosen]
                answer_panel(reading, original_crops(image, reading), chosen)
            elif image is not None and (ink > INK_THRESHOLD).any():
                st.info("Nothing to read yet: that looks like a dot or a speck, not a digit.")
        if not reading.empty:
            st.vega_lite_chart(spec=widgets.probability_chart(digit.probabilities), width="stretch")
            if examples is not None and len(examples):
                if st.toggle("Compare with the shared model", key="draw_compare_shared",
                             help="What the model reads without your examples"):
                    with st.container(key="shared_reading"):
                        st.markdown(widgets.shared_text(reading))
                        st.vega_lite_chart(spec=widgets.probability_chart(digit.shared_probabilities, height=140),
                                           width="stretch")

    if not reading.empty:
        st.subheader("What the model saw, and why")
        method = st.segmented_control("Saliency method", list(widgets.SALIENCY_LABELS), default="gradient",
                                      format_func=widgets.SALIENCY_LABELS.get, key="saliency_method") or "gradient"
        if method == "gradient":
            maps = list(gradients)
        else:
            maps = [recognizer.saliency(d.crop.image, d.digit, method) for d in reading.digits]
        cols = st.columns([1, 1, 2])
        cols[0].image(enlarge(digit.crop.image), width=224,
                      caption="The 28x28 input: cropped, scaled to 20 px, centred by mass")
        if digit.straightened:
            cols[0].image(enlarge(digit.model_input), width=224,
                          caption="Straightened for your writing: what the model read with your examples")
        cols[1].image(saliency_on_input(digit.crop.image, maps[chosen]), width=224,
                      caption=f"Saliency for '{digit.digit}' on the input")
        cols[2].image(saliency_on_drawing(ink, crops, maps, width=448), width=448,
                      caption="Saliency mapped back onto your drawing")
        st.markdown(widgets.SALIENCY_LEGEND)


drawing()
