"""Streamlit building blocks for looking into the model: what the loaded model reads in
each measuring set (computed once per model version), the clickable confusion matrix
and paged image galleries. Used by the Model and Your digits pages.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from mnist_app import set_results as set_results_on_disk
from mnist_app.evaluation import SET_TITLES, LabelledPictures, SetResults, evaluate_set, load_set
from mnist_app.feedback import Answer, FeedbackStore
from mnist_app.inference import Recognizer
from mnist_app.insight import confusion_frame, page_bounds, page_count, selected_cell
from mnist_app.ui import widgets
from mnist_app.visual import enlarge, gallery_grid, saliency_on_input

CELL_SELECTION = "cell"
DIAGONAL_COLOUR = "#e6e6e6"


# --- a measuring set through the loaded model ------------------------------------------
@st.cache_resource(show_spinner=False)
def measuring_set(name: str) -> LabelledPictures:
    """The set as it reaches the app (``evaluation.load_set``), loaded once per process."""
    return load_set(name)


@st.cache_resource(show_spinner=False, max_entries=6)
def _results_for(version: str, name: str) -> dict:
    """Per model version and set: a lock and, once computed, what was read."""
    return {"lock": threading.Lock()}


def set_results(recognizer: Recognizer, version: str, name: str) -> SetResults:
    """What the loaded model reads in set ``name`` through the app's own path (the same
    as ``python -m mnist_app evaluate --set NAME``): kept on disk per model version
    (``mnist_app.set_results``), else read once per process, with a progress bar."""
    cached = _results_for(version, name)
    with cached["lock"]:  # a second session waits for the first one's result
        if "results" not in cached:
            cached["results"] = set_results_on_disk.find(version, name)
        if cached["results"] is None:
            with st.spinner(f"Loading {SET_TITLES[name]}..."):
                pictures = measuring_set(name)
            text = f"Reading {SET_TITLES[name]} ({len(pictures.labels):,}) with this model..."
            bar = st.progress(0.0, text=text)
            cached["results"] = evaluate_set(recognizer, pictures, baseline=False,
                                             on_progress=lambda done: bar.progress(done, text=text))["pipeline"]
            bar.empty()
            set_results_on_disk.keep(cached["results"], version, name)
    return cached["results"]


# --- the wild over time ------------------------------------------------------------------
TREND_COLOURS = {"all": "#444444", "draw": "#e4572e", "photo": "#3a7ca5"}
TREND_NAMES = {"all": "both", "draw": "drawn", "photo": "photos"}


def trend_chart(points: list[dict]) -> alt.Chart:
    """Accuracy per period (``wild.trend``'s points), a line per source, the counts and
    shares in each point's tooltip."""
    data = pd.DataFrame(points).assign(source=lambda frame: frame["source"].map(TREND_NAMES))
    return alt.Chart(data, height=240).mark_line(point=True).encode(
        x=alt.X("period:T", title=None, axis=alt.Axis(format="%d %b")),
        y=alt.Y("accuracy:Q", title="Read right", axis=alt.Axis(format="%"), scale=alt.Scale(zero=False)),
        color=alt.Color("source:N", title=None, scale=alt.Scale(domain=list(TREND_NAMES.values()),
                                                                 range=list(TREND_COLOURS.values()))),
        tooltip=[alt.Tooltip("period:T", format="%Y-%m-%d"), alt.Tooltip("source:N"), alt.Tooltip("answers:Q"),
                 alt.Tooltip("accuracy:Q", format=".1%"), alt.Tooltip("unsure:Q", format=".1%"),
                 alt.Tooltip("wrong_but_sure:Q", format=".1%", title="wrong but sure")],
    )


# --- the confusion matrix ---------------------------------------------------------------
def _error_colours(values: np.ndarray, top: float) -> list[str]:
    """Hex colours from light to deep orange-red for values in [0, top] (square-root
    scale, so a single error is already clearly coloured)."""
    light, deep = np.array([254, 224, 196]), np.array([204, 40, 20])
    t = np.sqrt(np.clip(np.asarray(values, np.float64) / top, 0, 1))[:, None]
    rgb = np.round(light + (deep - light) * t).astype(int)
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in rgb]


def confusion_chart(matrix: np.ndarray, normalised: bool = False, size: int = 360) -> alt.LayerChart:
    """Heatmap of an int (10, 10) confusion matrix (rows true, columns predicted).

    Errors are coloured by count (or by share of the true digit's row when
    ``normalised``); the diagonal, the digits read right, is grey and empty cells
    white, so errors stand out. Clicking a cell selects ``{"true": t, "predicted": p}``
    in the selection named ``CELL_SELECTION``.
    """
    data = confusion_frame(matrix)
    value = data["share"] if normalised else data["count"]
    errors = value[~data["diagonal"]]
    top = float(errors.max()) if errors.max() > 0 else 1.0
    data["fill"] = np.where(data["diagonal"], DIAGONAL_COLOUR,
                            np.where(data["count"] == 0, "#ffffff", _error_colours(value, top)))
    data["ink"] = np.where(~data["diagonal"] & (value > top / 2), "#ffffff", "#333333")
    if normalised:
        data["label"] = [("" if count == 0 else "<1%" if share < 0.01 else f"{share:.0%}")
                         for count, share in zip(data["count"], data["share"])]
    else:
        data["label"] = [str(count) if count else "" for count in data["count"]]
    cell = alt.selection_point(name=CELL_SELECTION, fields=["true", "predicted"], on="click",
                               clear="dblclick", toggle=False)
    base = alt.Chart(data, width=size, height=size).encode(
        x=alt.X("predicted:O", title="Predicted digit", axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("true:O", title="True digit"),
        tooltip=[alt.Tooltip("true:O", title="True"), alt.Tooltip("predicted:O", title="Predicted"),
                 alt.Tooltip("count:Q", title="Images", format=","),
                 alt.Tooltip("share:Q", title="Share of the true digit", format=".2%")],
    )
    cells = base.mark_rect().encode(
        color=alt.Color("fill:N", scale=None),
        stroke=alt.when(cell, empty=False).then(alt.value("#111111")).otherwise(alt.value("#c8c8c8")),
        strokeWidth=alt.when(cell, empty=False).then(alt.value(3)).otherwise(alt.value(0.5)),
    ).add_params(cell)
    text = base.mark_text(fontSize=12).encode(text="label:N", color=alt.Color("ink:N", scale=None))
    return alt.layer(cells, text)


def confusion_matrix_widget(matrix: np.ndarray, key: str) -> tuple[int, int] | None:
    """The clickable heatmap with its row-normalised toggle and the numbers as a table;
    returns the (true, predicted) cell clicked, or None."""
    normalised = st.toggle("Row-normalised (share of each true digit)", key=f"{key}_normalised")
    state = st.altair_chart(confusion_chart(matrix, normalised), on_select="rerun",
                            selection_mode=CELL_SELECTION, key=key, width="content")
    with st.expander("The matrix as a table"):
        table = pd.DataFrame(np.asarray(matrix, np.int64),
                             index=pd.Index(range(10), name="true \\ predicted"), columns=range(10))
        st.table(table)
    return selected_cell(state, CELL_SELECTION)


# --- the reliability diagram --------------------------------------------------------------
def reliability_chart(points: list[dict], height: int = 300) -> alt.LayerChart:
    """The reliability diagram of ``evaluation.reliability`` points: per confidence bin,
    how often the readings shown with that confidence were right (bars spanning the
    bin, labelled with how many readings each holds), against the diagonal where the
    confidence shown is exactly how often such readings are right. Bars below it are
    over-confident."""
    data = pd.DataFrame(points, columns=["low", "high", "confidence", "accuracy", "count"])
    scale = alt.Scale(domain=[0, 1])
    bars = alt.Chart(data, height=height).mark_rect(color="#4c78a8", opacity=0.85).encode(
        x=alt.X("low:Q", scale=scale, title="Confidence shown", axis=alt.Axis(format="%")),
        x2="high:Q", y=alt.Y("accuracy:Q", scale=scale, title="Read right", axis=alt.Axis(format="%")),
        y2=alt.datum(0),
        tooltip=[alt.Tooltip("low:Q", title="From", format=".0%"), alt.Tooltip("high:Q", title="To", format=".0%"),
                 alt.Tooltip("confidence:Q", title="Mean confidence", format=".1%"),
                 alt.Tooltip("accuracy:Q", title="Read right", format=".1%"),
                 alt.Tooltip("count:Q", title="Readings", format=",")],
    )
    # A bin of 3 readings says little: each bar is labelled with how many it holds.
    counts = alt.Chart(data).mark_text(dy=-6, fontSize=11, color="#333333").encode(
        x=alt.X("centre:Q", scale=scale), y=alt.Y("accuracy:Q", scale=scale), text=alt.Text("count:Q", format=","),
    ).transform_calculate(centre="(datum.low + datum.high) / 2")
    diagonal = alt.Chart(pd.DataFrame({"x": [0.0, 1.0]})).mark_line(color="#d62728", strokeDash=[5, 4]).encode(
        x=alt.X("x:Q", scale=scale), y=alt.Y("x:Q", scale=scale))
    return alt.layer(bars, counts, diagonal)


# --- galleries ----------------------------------------------------------------------------
@dataclass
class GalleryItems:
    """One page of a gallery. images: float32 (k, 28, 28) in [0, 1]; probabilities:
    float32 (k, 10); true_labels: int (k,), -1 if unknown; ids: the items' ids (test-set
    indices or answer ids); titles: one short line each."""

    images: np.ndarray
    probabilities: np.ndarray
    true_labels: np.ndarray
    ids: list[int]
    titles: list[str]


GALLERY_LEGEND = ("Each tile: true digit -> digit read, with the model's confidence; under it "
                  "the ten probabilities (0 to 9): red = read, green = true digit.")


def paged_gallery(key: str, total: int, fetch: Callable[[int, int], GalleryItems],
                  order: str = "most confident first", columns: int = 6) -> tuple[GalleryItems, int | None]:
    """A gallery of ``total`` items shown a page at a time as one picture ``columns``
    tiles wide, stretched to the container's width.

    fetch(start, stop) returns the items of one page. Returns that page and the
    position in it of the item chosen for inspection (None if none).
    """
    pages = page_count(total)
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    page = right.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1,
                              key=f"{key}_page") if pages > 1 else 1
    start, stop = page_bounds(total, page)
    left.caption(f"{total:,} image{'s' if total != 1 else ''}, {order}; showing {start + 1}-{stop}.")
    items = fetch(start, stop)
    st.image(gallery_grid(items.images, items.probabilities, items.true_labels, items.titles, columns),
             caption=GALLERY_LEGEND, width="stretch")
    chosen = st.selectbox("Inspect an image of this page", range(len(items.ids)), index=None,
                          format_func=lambda i: items.titles[i], key=f"{key}_inspect_{page}",
                          placeholder="Choose one to see its probabilities and saliency")
    return items, chosen


def gallery_title(true_label: int, probabilities: np.ndarray, prefix: str = "") -> str:
    """``"#12: 7->2 98%"``: true digit -> digit read, and the confidence."""
    read = int(np.argmax(probabilities))
    truth = "?" if true_label < 0 else str(true_label)
    return f"{prefix}{truth}->{read} {float(probabilities[read]):.0%}"


def answer_details(recognizer: Recognizer, answer: Answer, crop_caption: str, key: str) -> None:
    """One stored answer up close: the crop it was given on, then ``image_details``."""
    if answer.crop_png:
        st.image(answer.crop_png, caption=crop_caption, width=160)
    image_details(recognizer, answer.image.astype(np.float32) / 255, answer.probabilities, key=key)


def image_details(recognizer: Recognizer, image: np.ndarray, probabilities: np.ndarray,
                  key: str) -> None:
    """One image up close: its probabilities, the input enlarged and, on demand, the
    saliency of the digit the current model reads. image: float32 (28, 28) in [0, 1]."""
    method = st.segmented_control("Show saliency", list(widgets.SALIENCY_LABELS), default=None,
                                  format_func=widgets.SALIENCY_LABELS.get, key=f"{key}_saliency")
    chart, picture, saliency = st.columns([3, 2, 2])
    chart.vega_lite_chart(spec=widgets.probability_chart(probabilities, height=180), width="stretch")
    picture.image(enlarge(image), caption="The 28x28 input", width="stretch")
    if method:
        digit = int(np.argmax(recognizer.predict(image[None])[0]))
        saliency.image(saliency_on_input(image, recognizer.saliency(image, digit, method)),
                       caption=f"Saliency for '{digit}'", width="stretch")
        st.markdown(widgets.SALIENCY_LEGEND)


def set_gallery(recognizer: Recognizer, name: str, results: SetResults, indices: np.ndarray, key: str,
                columns: int = 6) -> None:
    """A paged gallery of the model's inputs for the items at int ``indices`` of set
    ``name``, each inspectable."""

    def fetch(start: int, stop: int) -> GalleryItems:
        chosen = indices[start:stop]
        return GalleryItems(
            images=results.images[chosen],
            probabilities=results.probabilities[chosen],
            true_labels=results.labels[chosen].astype(np.int64),
            ids=[int(i) for i in chosen],
            titles=[gallery_title(int(results.labels[i]), results.probabilities[i], f"#{i} ")
                    for i in chosen],
        )

    items, chosen = paged_gallery(key, len(indices), fetch, columns=columns)
    if chosen is not None:
        i = items.ids[chosen]
        if results.predicted[i] >= 0:
            read = str(int(results.predicted[i]))
        else:
            read = "more than one digit" if results.probabilities[i].any() else "nothing"
        st.markdown(f"**{'Test image' if name == 'mnist' else 'Item'} #{i}**: true {items.true_labels[chosen]}, "
                    f"read {read}")
        image_details(recognizer, items.images[chosen], items.probabilities[chosen], key=f"{key}_details")


def answers_page(store: FeedbackStore, start: int, stop: int, **filters) -> GalleryItems:
    """Stored answers [start, stop) matching ``filters``, newest first, as a gallery page."""
    answers = store.list_answers(limit=stop - start, offset=start, **filters)
    return GalleryItems(
        images=np.stack([a.image for a in answers]).astype(np.float32) / 255 if answers
        else np.zeros((0, 28, 28), np.float32),
        probabilities=np.stack([a.probabilities for a in answers]) if answers else np.zeros((0, 10), np.float32),
        true_labels=np.asarray([a.label for a in answers], np.int64),
        ids=[a.id for a in answers],
        titles=[gallery_title(a.label, a.probabilities, f"#{a.id} ") for a in answers],
    )
