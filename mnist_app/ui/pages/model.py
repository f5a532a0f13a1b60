"""Model page: how well the loaded model reads the MNIST test set, where it goes wrong,
and what the training report says about it."""

import numpy as np
import pandas as pd
import streamlit as st

from mnist_app.insight import ReportError, cell_indices, confident_mistakes, model_card, read_report, report_matches
from mnist_app.metrics import classification_report
from mnist_app.model import REPORT_PATH
from mnist_app.ui import galleries, resources

recognizer = resources.model_or_stop()
version = resources.current_model_version()

st.title("Model")
results = galleries.mnist_test_results(recognizer, version)
report = classification_report(results.y_true, results.y_pred)

overview = st.columns(4)
overview[0].metric("Accuracy on the MNIST test set", f"{report['accuracy']:.2%}")
overview[1].metric(f"Errors (of {report['n']:,})", f"{report['errors']:,}")
overview[2].metric("Parameters", f"{recognizer.model.count_params():,}")
overview[3].metric("Model version", version, help="First 12 hex digits of the SHA-256 of the model file")

card_column, classes_column = st.columns([1, 1], gap="large")
with card_column:
    st.subheader("Model card")
    try:
        training_report = read_report(REPORT_PATH)
    except ReportError as exc:
        training_report = None
        st.warning(f"{exc}")
    if training_report is None:
        st.info(f"No training report at {REPORT_PATH.name}: `python train_model.py` writes one "
                "next to the model.")
    else:
        if not report_matches(training_report, np.asarray(report["confusion"])):
            st.warning("This report describes another model than the one loaded "
                       "(its test results differ from those measured here).")
        st.markdown("\n".join(f"- **{field}**: {value}" for field, value in model_card(training_report)))
with classes_column:
    st.subheader("Per digit")
    per_class = pd.DataFrame(report["per_class"]).set_index("digit")
    st.dataframe(per_class.style.format({"precision": "{:.2%}", "recall": "{:.2%}", "f1": "{:.2%}",
                                         "support": "{:,}"}),
                 column_config={"f1": "F1"}, width="stretch")

st.subheader("Confusion matrix")
st.caption("Rows: the true digit; columns: what the model read. The grey diagonal is read right; "
           "coloured cells are mistakes. Click a cell to see its images (double-click to clear).")
matrix_column, gallery_column = st.columns([4, 6], gap="medium")
with matrix_column:
    cell = galleries.confusion_matrix_widget(np.asarray(report["confusion"]), key="mnist_confusion")
with gallery_column:
    if cell is None:
        st.info("Click a cell of the matrix to see its images here.")
    else:
        true_digit, predicted_digit = cell
        st.markdown(f"#### True {true_digit} -> read {predicted_digit}")
        indices = cell_indices(results.y_true, results.y_pred, results.confidence, true_digit, predicted_digit)
        if len(indices):
            galleries.test_set_gallery(recognizer, results, indices, key=f"cell_{true_digit}_{predicted_digit}")
        else:
            st.info("No test image is in this cell.")

st.subheader("The most confident mistakes")
mistakes = confident_mistakes(results.y_true, results.y_pred, results.confidence)
if len(mistakes):
    galleries.test_set_gallery(recognizer, results, mistakes, key="mistakes", columns=8)
else:
    st.success("The model reads every test image right.")
