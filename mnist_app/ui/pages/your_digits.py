"""Your digits: the answers this visitor gave about the model's readings (their profile's
alone), read live from the feedback store on every run, with exports, deletion of single
answers or all of them, and a fresh profile."""

import numpy as np
import streamlit as st

from mnist_app.feedback import IDX_IMAGES_NAME, IDX_LABELS_NAME, FeedbackStoreError
from mnist_app.metrics import confusion_matrix
from mnist_app.ui import galleries, profile, resources

EVERY_MODEL = "every model"

recognizer = resources.model_or_stop()
version = resources.current_model_version()
store = profile.profile_store()

st.title("Your digits")
st.caption("Every digit you confirmed or corrected on the Draw and Photo pages: yours alone, kept under "
           "the profile in this page's address (bookmark it to find them again, on any device). "
           "Digits an operator accepts help train the next shared model.")


def answer_details(answer_id: int) -> None:
    answer = store.get(answer_id)
    if answer is None:
        st.info("This answer was just deleted.")
        return
    st.markdown(f"**Answer #{answer.id}**: you said {answer.label}, model {answer.model_version} "
                f"read {answer.predicted} ({answer.confidence:.0%}); {answer.source}, "
                f"{answer.created_at[:19].replace('T', ' ')} UTC")
    galleries.answer_details(recognizer, answer, "What you drew", key=f"answer_{answer.id}")
    if st.button("Delete this answer", key=f"delete_{answer.id}", icon=":material/delete:"):
        store.delete(answer.id)
        st.toast(f"Answer #{answer.id} deleted.")
        st.rerun()


def show_answers() -> None:
    versions = store.model_versions()
    if not versions:
        st.info("No answers yet: draw a digit on the Draw page and tell the model whether it read it right.")
        return
    shown = st.selectbox(
        "Answers about", [EVERY_MODEL, *versions], key="feedback_model_version",
        format_func=lambda v: v if v == EVERY_MODEL else f"model {v}" + (" (loaded now)" if v == version else ""))
    chosen_version = None if shown == EVERY_MODEL else shown
    labels, predicted = store.labels_and_predictions(model_version=chosen_version)

    overview = st.columns(3)
    overview[0].metric("Answers", f"{len(labels):,}")
    overview[1].metric("Read right", f"{np.mean(labels == predicted):.0%}" if len(labels) else "-")
    overview[2].metric("Corrected by you", f"{int(np.sum(labels != predicted)):,}")
    examples = profile.your_examples()
    if examples is not None and not examples.straightening.as_drawn:
        st.caption(f"Your writing, as your digits show it: {examples.straightening.describe()}. "
                   "Your digits are read straightened, and compared with your examples straightened too.")

    st.caption("Rows: the digit you meant; columns: what the model read. Click a cell to see those digits.")
    matrix_column, gallery_column = st.columns([4, 6], gap="medium")
    with matrix_column:
        cell = galleries.confusion_matrix_widget(confusion_matrix(labels, predicted), key="feedback_confusion")
    with gallery_column:
        if cell is None:
            st.markdown("#### All your digits")
            filters = {"model_version": chosen_version}
        else:
            st.markdown(f"#### You meant {cell[0]}, the model read {cell[1]}")
            filters = {"model_version": chosen_version, "label": cell[0], "predicted": cell[1]}
        total = store.count(**filters)
        if total == 0:
            st.info("None of your digits is in this cell.")
        else:
            key = "feedback_gallery" if cell is None else f"feedback_gallery_{cell[0]}_{cell[1]}"
            items, chosen = galleries.paged_gallery(
                key, total, lambda start, stop: galleries.answers_page(store, start, stop, **filters),
                order="newest first")
            if chosen is not None:
                answer_details(items.ids[chosen])

    st.subheader("Export")
    st.caption("All your answers, oldest first. The IDX files have MNIST's format: "
               "`mnist_app.data.load_idx` (or any MNIST reader) opens them.")
    exports = st.columns(4)
    # on_click="ignore": a rerun on click could drop the file before the browser fetches it.
    exports[0].download_button("Labels (CSV)", store.export_csv, file_name="your-digits.csv",
                               mime="text/csv", key="export_csv", width="stretch",
                               on_click="ignore")
    exports[1].download_button("Images (zip of PNGs)", store.export_png_zip, file_name="your-digits.zip",
                               mime="application/zip", key="export_zip", width="stretch",
                               on_click="ignore")
    exports[2].download_button("IDX images", lambda: store.export_idx()[IDX_IMAGES_NAME],
                               file_name=IDX_IMAGES_NAME, mime="application/gzip", key="export_idx_images",
                               width="stretch", on_click="ignore")
    exports[3].download_button("IDX labels", lambda: store.export_idx()[IDX_LABELS_NAME],
                               file_name=IDX_LABELS_NAME, mime="application/gzip", key="export_idx_labels",
                               width="stretch", on_click="ignore")


def forget_everything() -> None:
    """Button callback: delete every answer of this profile, and say so on the next run."""
    try:
        st.session_state["profile_deleted"] = store.delete_all()
    except FeedbackStoreError as exc:
        st.session_state["profile_deleted"] = f"not deleted: {exc}"


def profile_controls() -> None:
    st.subheader("Your profile")
    deleted = st.session_state.pop("profile_deleted", None)
    if isinstance(deleted, int):
        st.success(f"Deleted all {deleted:,} of your digits.")
    elif deleted:
        st.warning(f"Your digits were {deleted}")
    st.caption(f"Profile `{store.profile}`. Start afresh for a new, empty profile (these digits stay "
               "with the old address), or delete them for good.")
    fresh, forget = st.columns(2)
    fresh.button("Start afresh", key="profile_new", icon=":material/restart_alt:", on_click=profile.start_afresh,
                 width="stretch")
    forget.button("Delete all your digits", key="profile_delete_all", icon=":material/delete:",
                  on_click=forget_everything, width="stretch")


try:
    show_answers()
    profile_controls()
except FeedbackStoreError as exc:
    st.warning(f"Your answers cannot be read: {exc}")
