"""Model page: how well the loaded model reads MNIST and real handwriting from outside
it, how honest its confidence is, where it goes wrong, and what the training report
says about it."""

import numpy as np
import pandas as pd
import streamlit as st

from mnist_app.evaluation import SET_TITLES, SETS, reliability
from mnist_app.insight import (ReportError, cell_indices, confident_mistakes, model_card, read_report,
                               report_matches, set_figures)
from mnist_app.network import REPORT_PATH
from mnist_app.ui import galleries, resources

recognizer = resources.model_or_stop()
version = resources.current_model_version()

st.title("Model")
try:
    training_report = read_report(REPORT_PATH)
    report_problem = None
except ReportError as exc:
    training_report, report_problem = None, exc

st.caption("Accuracy on each measuring set, from the training report. Paper: the 10,000 MNIST test digits; "
           "digits scanned from US mail and paper forms from many countries (kensanata16), the fifth of each "
           "kept out of training. Canvas: pen digits by writers outside MNIST, drawn as on the canvas (a fifth "
           "kept out of training); strokes with real pen lifts by 5 writers (never trained on). Each is read the "
           "way such digits reach the app.")
# Short enough for five columns; the full title is in each one's help.
SHORT_TITLES = {"mnist": "MNIST test", "pen": "Pen, held out", "skahl": "Pen lifts (skahl)",
                "scans": "USPS, held out", "kensanata": "Paper forms, held out"}
overview = st.columns(len(SETS))
for column, (name, figures) in zip(overview, set_figures(training_report).items()):
    if figures is None:
        column.metric(SHORT_TITLES.get(name, name), "not measured",
                      help=f"{SET_TITLES[name]}: the training report has no figures for this set.")
        continue
    details = f"{SET_TITLES[name]}: {figures['n']:,} digits" + (
        f"; wrong while shown as sure: {figures['wrong_but_sure']:.1%}" if "wrong_but_sure" in figures else "")
    column.metric(SHORT_TITLES.get(name, name), f"{figures['accuracy']:.2%}", help=details)

name = st.segmented_control("Measured on", SETS, default="mnist", format_func=SET_TITLES.get,
                            key="measuring_set") or "mnist"
results = galleries.set_results(recognizer, version, name)
summary = results.summary()

live = st.columns(5)
live[0].metric("Accuracy", f"{summary['accuracy']:.2%}")
live[1].metric(f"Errors (of {summary['n']:,})", f"{summary['errors']:,}")
live[2].metric("Flagged unsure", f"{summary['unsure']:.1%}",
               help="Readings the app shows with a warning: the model is not sure, or the input is unlike "
                    "the digits it learned from.")
live[3].metric("Wrong but shown as sure", f"{summary['wrong_but_sure']:.1%}",
               help="Readings that were wrong although the app showed them without a warning.")
live[4].metric("Calibration error", f"{summary['calibration_error']:.3f}",
               help="Expected calibration error: how far the confidence shown is from how often such "
                    "readings are right, averaged over the readings (0 is perfectly honest).")

st.subheader("How sure, how right")
diagram_column, meaning_column = st.columns([3, 2], gap="large")
with diagram_column:
    st.altair_chart(galleries.reliability_chart(reliability(results.confidence, results.correct)),
                    width="stretch")
with meaning_column:
    st.markdown(f"**Unsure** means the app shows a reading with a warning and its two best guesses, because "
                f"the model gives it less than {recognizer.unsure_below:.0%} probability or the input does not "
                "look like the digits it learned from.")
    st.caption("Each bar: the readings of this set shown with that confidence (their number above it), and "
               "how often they were right. On the dashed diagonal the confidence shown is exactly how often such readings are "
               "right; bars below it are over-confident. The confidence is calibrated on held-out real "
               "digits, never on these.")

card_column, classes_column = st.columns([1, 1], gap="large")
with card_column:
    st.subheader("Model card")
    st.metric("Model version", version, help="First 12 hex digits of the SHA-256 of the model file")
    if report_problem is not None:
        st.warning(f"{report_problem}")
    elif training_report is None:
        st.info(f"No training report at {REPORT_PATH.name}: `python train_model.py` writes one "
                "next to the model.")
    else:
        if name == "mnist" and not report_matches(training_report, np.asarray(summary["confusion"])):
            st.warning("This report describes another model than the one loaded "
                       "(its test results differ from those measured here).")
        st.markdown("\n".join(f"- **{field}**: {value}" for field, value in model_card(training_report)))
with classes_column:
    st.subheader("Per digit")
    per_class = pd.DataFrame(summary["per_class"]).set_index("digit")
    st.dataframe(per_class.style.format({"precision": "{:.2%}", "recall": "{:.2%}", "f1": "{:.2%}",
                                         "support": "{:,}"}),
                 column_config={"f1": "F1"}, width="stretch")

st.subheader("Confusion matrix")
st.caption("Rows: the true digit; columns: what the model read. The grey diagonal is read right; "
           "coloured cells are mistakes. Click a cell to see its images (double-click to clear).")
if sum(summary["not_one_digit"]):
    st.caption(f"Not in the matrix: {sum(summary['not_one_digit']):,} pictures read as no digit or as "
               "several digits (all counted as errors).")
matrix_column, gallery_column = st.columns([4, 6], gap="medium")
with matrix_column:
    cell = galleries.confusion_matrix_widget(np.asarray(summary["confusion"]), key=f"{name}_confusion")
with gallery_column:
    if cell is None:
        st.info("Click a cell of the matrix to see its images here.")
    else:
        true_digit, predicted_digit = cell
        st.markdown(f"#### True {true_digit} -> read {predicted_digit}")
        indices = cell_indices(results.labels, results.predicted, results.confidence, true_digit, predicted_digit)
        if len(indices):
            galleries.set_gallery(recognizer, name, results, indices, key=f"{name}_cell_{true_digit}_{predicted_digit}")
        else:
            st.info("No image is in this cell.")

st.subheader("The most confident mistakes")
mistakes = confident_mistakes(results.labels, results.predicted, results.confidence)
if len(mistakes):
    galleries.set_gallery(recognizer, name, results, mistakes, key=f"{name}_mistakes", columns=8)
else:
    st.success("The model reads every image of this set right.")
