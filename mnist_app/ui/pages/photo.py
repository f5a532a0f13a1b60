"""Photo page: read the digits in phone photos of paper (or try a sample photo)."""

import logging
from dataclasses import replace

import numpy as np
import streamlit as st

from mnist_app import ASSETS_DIR
from mnist_app.images import ImageError, decode_image, encode_jpeg
from mnist_app.inference import Reading
from mnist_app.photo import analyse_picture, annotated
from mnist_app.ui import profile, resources, widgets
from mnist_app.ui.admission import in_turn
from mnist_app.ui.feedback_controls import feedback_controls, original_crops
from mnist_app.visual import enlarge, saliency_on_drawing, saliency_on_input

SAMPLES_DIR = ASSETS_DIR / "samples"
SAMPLES = {
    "2026.jpg": "A phone photo of 2026",
    "shaded-ruled.jpg": "In a shadow, on ruled paper",
    "blue-ink.jpg": "Blue ink on a tilted sheet",
    "two-rows.jpg": "Two rows of digits",
}
log = logging.getLogger(__name__)

recognizer = resources.model_or_stop()

st.markdown(
    """<style>
    .photo-number { font-size: 2.4rem; font-weight: 700; line-height: 1.2; }
    .photo-empty { font-size: 1.3rem; font-weight: 600; }
    </style>""",
    unsafe_allow_html=True,
)
st.title("Read a photo")
st.caption("Photograph digits written on paper with your phone: uneven light, a shadow, coloured ink, "
           "ruled paper and a tilted sheet are all fine. Several photos at once are fine too.")


@st.cache_data(max_entries=16, show_spinner=False)
def _analyse(data: bytes):
    """Decode and analyse one file (cached by content); raises ImageError."""
    return analyse_picture(decode_image(data), read=recognizer.judge)


sources: list[tuple[str, bytes]] = []
left, right = st.columns(2, gap="large")
with left:
    uploads = st.file_uploader("Photos of digits on paper", accept_multiple_files=True, key="photo_files",
                               help="JPEG, PNG, WebP, ... up to 50 megapixels each.")
    sources += [(f.name, f.getvalue()) for f in uploads or []]
    if st.toggle("Take a photo with the camera", key="photo_use_camera"):
        shot = st.camera_input("Photo of your digits", key="photo_camera")
        if shot is not None:
            sources.append(("Camera photo", shot.getvalue()))
with right:
    available = [name for name in SAMPLES if (SAMPLES_DIR / name).exists()]
    sample = st.selectbox("...or try a sample photo", [None, *available], key="photo_sample",
                          format_func=lambda name: "None" if name is None else SAMPLES[name])
    if sample is not None:
        sources.append((f"Sample: {SAMPLES[sample]}", (SAMPLES_DIR / sample).read_bytes()))

if not sources:
    st.info("Upload a photo, take one with the camera, or pick a sample photo to see the digits read.")


@st.fragment
@in_turn
def explanation(i: int, reading: Reading, data: bytes, crops: list) -> None:
    """Saliency of one digit on demand: its controls rerun this alone, not the reading, and
    only then is it computed. data: the picture's file (its analysis comes from the cache)."""
    if not st.toggle("Why? Show what the model looked at", key=f"photo_explain_{i}"):
        return
    ink = _analyse(data).ink
    controls = st.columns(2)
    chosen = controls[0].selectbox("Digit", range(len(reading.digits)), key=f"photo_digit_{i}",
                                   format_func=lambda k: f"#{k + 1}: {reading.digits[k].digit}")
    method = controls[1].segmented_control(
        "Saliency method", list(widgets.SALIENCY_LABELS), default="gradient",
        format_func=widgets.SALIENCY_LABELS.get, key=f"photo_method_{i}") or "gradient"
    digit = reading.digits[chosen]
    saliency = recognizer.saliency(digit.crop.image, digit.digit, method)
    pictures = st.columns([1, 2])
    pictures[0].image(saliency_on_input(digit.crop.image, saliency), width="stretch",
                      caption=f"Saliency for '{digit.digit}' on the 28x28 input")
    pictures[1].image(saliency_on_drawing(ink, [crops[chosen]], [saliency]), width="stretch",
                      caption="Mapped back onto the photo's ink")
    st.markdown(widgets.SALIENCY_LEGEND)


@st.fragment
def answer_panel(i: int, reading: Reading, originals: list[np.ndarray]) -> None:
    """"Yes" or the right digit under each digit read, drawn only when opened (opening reruns
    this alone; a photo of 4 digits has 20 controls): an answer reruns this panel alone, a
    correction the whole page (the photo read again with it)."""
    teaching = st.expander("Teach the model: were these digits read right?", key=f"photo_teach_{i}",
                           on_change="rerun")
    if not teaching.open:
        return
    with teaching:
        feedback_controls(reading, key_prefix=f"photo_{i}", source="photo", originals=originals,
                          rerun_on_correction="app")


@st.fragment
@in_turn
def how_it_was_read(i: int, data: bytes) -> None:
    """The steps of reading the photo (``data``, its file, analysed once in the cache),
    drawn only when opened (opening reruns this alone)."""
    steps_shown = st.expander("How the photo was read", key=f"photo_steps_{i}", on_change="rerun")
    if not steps_shown.open:
        return
    analysis = _analyse(data)
    with steps_shown:
        if analysis.is_photo:
            polarity = "light ink on a dark background" if analysis.light_on_dark else "dark ink on light paper"
            st.markdown(
                f"Read as a **photo** of {polarity}, pen strokes about {analysis.stroke_px:.0f} px wide. "
                "The light is flattened by dividing by the paper's estimated brightness (shadows vanish), "
                "ink is thresholded locally, ruled lines and specks are removed, and each digit is cut out, "
                "scaled and centred like an MNIST digit.")
            steps = st.columns(3)
            steps[0].image(analysis.flattened, width="stretch", caption="1. Light flattened")
            steps[1].image(analysis.binary, width="stretch", caption="2. Ink (thresholded, cleaned)")
            steps[2].image(analysis.regions, width="stretch",
                           caption="3. Regions: green read, orange flagged, grey dropped")
            if analysis.dropped:
                reasons = sorted({why for _, why in analysis.dropped})
                st.caption(f"Left out: {len(analysis.dropped)} region(s) ({', '.join(reasons)}).")
        else:
            st.markdown("This looks like a clean drawing (a flat background), so it was read like the Draw "
                        "page's canvas.")
            steps = st.columns(2)
            steps[0].image(analysis.binary, width="stretch", caption="Ink")
            steps[1].image(analysis.regions, width="stretch", caption="Regions")


def show_result(i: int, name: str, data: bytes) -> None:
    """One picture: the photo with its boxes, the number, the 28x28 crops, saliency on
    demand, and how the photo was read. Every problem is a message, never a traceback."""
    st.subheader(name)
    try:
        analysis = _analyse(data)
    except ImageError as exc:
        st.error(f"Could not read **{name}**: {exc}.")
        return
    examples = profile.your_examples() if analysis.crops else None
    reading = recognizer.read_many([analysis.crops], examples)[0]
    crops = analysis.working_crops()
    picture = annotated(analysis.rgb, [c.box for c in crops], [str(d.digit) for d in reading.digits],
                        [d.unsure for d in reading.digits])

    photo_col, result_col = st.columns([3, 2], gap="large")
    photo_col.image(encode_jpeg(picture), width="stretch",
                    caption="Green: read. Orange with a '?': flagged, the model is unsure or it may not be a digit.")
    with result_col:
        with st.container(key=f"photo_result_{i}"):
            if reading.empty:
                st.markdown("<div class='photo-empty'>No digits found in this photo.</div>", unsafe_allow_html=True)
            else:
                st.markdown(f"<div class='photo-number'>{reading.number}</div>", unsafe_allow_html=True)
                lowest = min(d.confidence for d in reading.digits)
                st.caption(f"{len(reading.digits)} digit{'s' if len(reading.digits) > 1 else ''}, "
                           f"lowest confidence {lowest:.0%}")
        for note in widgets.unsure_notes(reading):
            st.warning(note)
        if any(d.from_examples for d in reading.digits):
            profile.show_examples_used(reading, examples, key=f"photo_your_examples_{i}")
        if note := widgets.straightening_note(reading):
            st.caption(note)
        if examples is not None and len(examples) and not reading.empty:
            if st.toggle("Compare with the shared model", key=f"photo_compare_shared_{i}",
                         help="What the model reads without your examples"):
                st.markdown(widgets.shared_text(reading))
        if reading.empty:
            st.caption("Tips: fill the frame with the digits, avoid glare, write with a dark pen. "
                       "'How the photo was read' below shows where it went wrong.")

    if not reading.empty:
        columns = st.columns(8)
        for k, d in enumerate(reading.digits):
            flag = " ?" if d.unsure else ""
            columns[k % len(columns)].image(enlarge(d.crop.image, scale=4), width="stretch",
                                            caption=f"#{k + 1}: {d.digit}{flag} ({d.confidence:.0%})")
        explanation(i, reading, data, crops)
        # Same readings, boxes on the working copy, whose pixels are stored with each answer.
        on_working_copy = Reading([replace(d, crop=c) for d, c in zip(reading.digits, crops)])
        answer_panel(i, on_working_copy, original_crops(analysis.rgb, on_working_copy))

    how_it_was_read(i, data)

for i, (name, data) in enumerate(sources):
    with st.container(border=True):
        try:
            show_result(i, name, data)
        except Exception:  # one bad file must never spoil the others, nor show a traceback
            log.exception("reading %s failed", name)
            st.error(f"Something went wrong while reading **{name}**. Please try another photo.")
