"""Operator: how the model reads every visitor's digits ("in the wild"), live, beside the
measuring sets; and every answer, to accept for training or reject. Only with the
operator's secret (``mnist_app.ui.operator``); ``train_model.py --include-feedback``
takes accepted answers alone."""

import streamlit as st

from mnist_app import wild
from mnist_app.feedback import IDX_IMAGES_NAME, IDX_LABELS_NAME, PENDING, FeedbackStore, FeedbackStoreError
from mnist_app.insight import ReportError, read_report
from mnist_app.network import REPORT_PATH
from mnist_app.ui import galleries, operator, resources
from mnist_app.ui.admission import in_turn

SHOWN = {PENDING: "Not reviewed", "accepted": "Accepted", "rejected": "Rejected", None: "All"}
VIEWS = {"wild": "In the wild", "review": "Review answers"}
LIVE_EVERY_S = 10  # the live view reads the store again this often
SOURCES_SHOWN = {None: "Both", "draw": "Drawn", "photo": "Photos"}


def try_secret() -> None:
    """Form callback: open the view if the secret is right, before the page is laid out."""
    st.session_state["operator_refused"] = not operator.unlock(st.session_state.get("operator_secret_input", ""))


st.title("Operator")
if not operator.is_unlocked():
    with st.form("operator_login"):
        st.text_input("Operator secret", type="password", key="operator_secret_input")
        st.form_submit_button("Open", on_click=try_secret)
    if st.session_state.pop("operator_refused", False):
        st.error("That is not the operator secret.")
    st.stop()

recognizer = resources.model_or_stop()
store = FeedbackStore()
try:
    lab_report = read_report(REPORT_PATH)
except ReportError:
    lab_report = None


def share(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}%}"


def source_figures(rows: list, source: str) -> None:
    """One kind of input: the wild's figures, and the measuring sets of that kind beside them."""
    figures = wild.total(rows, source)
    st.markdown(f"**{wild.SOURCE_TITLES[source]}**")
    top, bottom = st.columns(2), st.columns(2)
    top[0].metric("Answers", f"{figures.answers:,}")
    top[1].metric("Read right", share(figures.accuracy, 2))
    bottom[0].metric("Shown unsure", share(figures.unsure_share))
    bottom[1].metric("Wrong but shown as sure", share(figures.wrong_but_sure_share))
    lab = wild.lab_figures(lab_report, source)
    if lab:
        st.dataframe([{"In the lab": row["title"], "digits": f"{row['n']:,}", "right": share(row["accuracy"], 2),
                       "unsure": share(row["unsure"]), "wrong, sure": share(row["wrong_but_sure"])}
                      for row in lab], hide_index=True, width="stretch")


@st.fragment(run_every=LIVE_EVERY_S)
@in_turn
def live_view() -> None:
    """What visitors confirmed or corrected, read again every ``LIVE_EVERY_S`` seconds
    (a store that cannot be read says so, and the next refresh tries again)."""
    try:
        wild_figures()
    except FeedbackStoreError as exc:
        st.warning(f"The answers cannot be read: {exc}")


def wild_figures() -> None:
    rows = store.daily_figures(recognizer.unsure_below)
    if not rows:
        st.info("No answers yet: visitors' confirmed and corrected readings will show here as they come.")
        return
    overall = wild.total(rows)
    st.caption(f"{overall.answers:,} answers from visitors, every profile, updated every {LIVE_EVERY_S} s. "
               f"A visitor's answer is the truth: read right {share(overall.accuracy, 2)}, shown unsure "
               f"{share(overall.unsure_share)}, wrong while shown as sure {share(overall.wrong_but_sure_share)}. "
               "Beside each kind of input, the measuring sets of the same kind from the training report.")
    draw_column, photo_column = st.columns(2, gap="large")
    with draw_column:
        source_figures(rows, "draw")
    with photo_column:
        source_figures(rows, "photo")

    st.subheader("Over time")
    period = st.segmented_control("Per", ["day", "week"], default="day", key="wild_period") or "day"
    st.altair_chart(galleries.trend_chart(wild.trend(rows, period)), width="stretch")

    st.subheader("Confusion in the wild")
    source = st.segmented_control("Input", list(SOURCES_SHOWN), default=None, format_func=SOURCES_SHOWN.get,
                                  key="wild_source")
    st.caption("Rows: the digit the visitor meant; columns: what the model read. Click a cell to see those digits.")
    matrix_column, gallery_column = st.columns([4, 6], gap="medium")
    with matrix_column:
        cell = galleries.confusion_matrix_widget(store.confusion_counts(source=source), key="wild_confusion")
    with gallery_column:
        if cell is None:
            st.markdown("#### The most confident mistakes")
            filters = {"source": source, "misread": True}
        else:
            st.markdown(f"#### Meant {cell[0]}, read {cell[1]}")
            filters = {"source": source, "label": cell[0], "predicted": cell[1]}
        where = "mistakes" if cell is None else f"{cell[0]}{cell[1]}"
        answers_gallery(f"wild_gallery_{source or 'all'}_{where}", filters)


def answers_gallery(key: str, filters: dict) -> None:
    """The answers matching ``filters``, most confident first, each inspectable."""
    total = store.count(**filters)
    if total == 0:
        st.info("No answers here.")
        return
    items, chosen = galleries.paged_gallery(
        key, total, lambda start, stop: galleries.answers_page(store, start, stop, order="most confident", **filters))
    if chosen is not None:
        answer_summary(items.ids[chosen])


def answer_summary(answer_id: int):
    """One answer up close (its saliency on demand); the Answer, or None if it is gone."""
    answer = store.get(answer_id)
    if answer is None:
        st.info("This answer was just deleted by its visitor.")
        return None
    st.markdown(f"**Answer #{answer.id}**: label {answer.label}, read {answer.predicted} "
                f"({answer.confidence:.0%}) by model {answer.model_version}; {answer.source}, profile "
                f"`{answer.profile or '-'}`, review: {answer.review or 'none yet'}")
    galleries.answer_details(recognizer, answer, "What the visitor gave", key=f"operator_answer_{answer.id}")
    return answer


def export_accepted() -> None:
    st.subheader("Export the accepted answers")
    accepted = store.count(review="accepted")
    st.caption(f"{accepted:,} answers accepted for training, oldest first, as an MNIST-style dataset: the IDX "
               "files open with `mnist_app.data.load_idx` or any MNIST reader; the zip holds a PNG per digit, "
               "its original crop and `labels.csv`.")
    exports = st.columns(4)
    # on_click="ignore": a rerun on click could drop the file before the browser fetches it.
    exports[0].download_button("Labels (CSV)", lambda: store.export_csv(review="accepted"),
                               file_name="accepted.csv", mime="text/csv", key="accepted_csv", width="stretch",
                               on_click="ignore", disabled=accepted == 0)
    exports[1].download_button("Images (zip of PNGs)", lambda: store.export_png_zip(review="accepted"),
                               file_name="accepted.zip", mime="application/zip", key="accepted_zip",
                               width="stretch", on_click="ignore", disabled=accepted == 0)
    exports[2].download_button("IDX images", lambda: store.export_idx(review="accepted")[IDX_IMAGES_NAME],
                               file_name=IDX_IMAGES_NAME, mime="application/gzip", key="accepted_idx_images",
                               width="stretch", on_click="ignore", disabled=accepted == 0)
    exports[3].download_button("IDX labels", lambda: store.export_idx(review="accepted")[IDX_LABELS_NAME],
                               file_name=IDX_LABELS_NAME, mime="application/gzip", key="accepted_idx_labels",
                               width="stretch", on_click="ignore", disabled=accepted == 0)


def review(answer_ids: list[int], decision: str | None) -> None:
    """Button callback: one decision for these answers, reported on the next run."""
    try:
        done = sum(store.set_review(i, decision) for i in answer_ids)
        st.session_state["operator_done"] = f"{done} answer{'s' if done != 1 else ''} {decision or 'reset'}."
    except FeedbackStoreError as exc:
        st.session_state["operator_done"] = f"Not saved: {exc}"


def show_review() -> None:
    done = st.session_state.pop("operator_done", None)
    if done:
        st.toast(done)
    counts = {name: store.count(review=name) for name in (PENDING, "accepted", "rejected")}
    profiles = store.profiles()
    overview = st.columns(4)
    overview[0].metric("Answers", f"{sum(counts.values()):,}")
    overview[1].metric("Profiles", f"{sum(1 for name, _ in profiles if name):,}")
    overview[2].metric("Not reviewed", f"{counts[PENDING]:,}")
    overview[3].metric("Accepted for training", f"{counts['accepted']:,}")
    st.caption("Accepted answers join the training data of the next shared model "
               "(`train_model.py --include-feedback`); no visitor's answers do until you accept them.")
    shown = st.segmented_control("Show", list(SHOWN), default=PENDING, format_func=SHOWN.get,
                                 key="operator_filter")
    total = store.count(review=shown)
    if total == 0:
        st.info("No answers here.")
        return
    items, chosen = galleries.paged_gallery(
        "operator_gallery", total, lambda start, stop: galleries.answers_page(store, start, stop, review=shown),
        order="newest first")
    accept, reject = st.columns(2)
    accept.button(f"Accept the {len(items.ids)} on this page", key="operator_accept_page", icon=":material/check:",
                  on_click=review, args=(list(items.ids), "accepted"), width="stretch")
    reject.button(f"Reject the {len(items.ids)} on this page", key="operator_reject_page", icon=":material/block:",
                  on_click=review, args=(list(items.ids), "rejected"), width="stretch")
    if chosen is not None:
        answer = answer_summary(items.ids[chosen])
        if answer is None:
            return
        one_accept, one_reject = st.columns(2)
        one_accept.button("Accept", key=f"operator_accept_{answer.id}", on_click=review,
                          args=([answer.id], "accepted"), width="stretch")
        one_reject.button("Reject", key=f"operator_reject_{answer.id}", on_click=review,
                          args=([answer.id], "rejected"), width="stretch")


view = st.segmented_control("View", list(VIEWS), default="wild", format_func=VIEWS.get, key="operator_view")
try:
    if (view or "wild") == "wild":
        live_view()
        export_accepted()
    else:
        show_review()
except FeedbackStoreError as exc:
    st.warning(f"The answers cannot be read: {exc}")
