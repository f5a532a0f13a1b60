"""Operator: every visitor's answers, to accept for training or reject. Only with the
operator's secret (``mnist_app.ui.operator``); ``train_model.py --include-feedback``
takes accepted answers alone."""

import streamlit as st

from mnist_app.feedback import PENDING, FeedbackStore, FeedbackStoreError
from mnist_app.ui import galleries, operator, resources

SHOWN = {PENDING: "Not reviewed", "accepted": "Accepted", "rejected": "Rejected", None: "All"}



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


def review(answer_ids: list[int], decision: str | None) -> None:
    """Button callback: one decision for these answers, reported on the next run."""
    try:
        done = sum(store.set_review(i, decision) for i in answer_ids)
        st.session_state["operator_done"] = f"{done} answer{'s' if done != 1 else ''} {decision or 'reset'}."
    except FeedbackStoreError as exc:
        st.session_state["operator_done"] = f"Not saved: {exc}"


def show() -> None:
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
        answer = store.get(items.ids[chosen])
        if answer is None:
            st.info("This answer was just deleted by its visitor.")
            return
        st.markdown(f"**Answer #{answer.id}**: label {answer.label}, read {answer.predicted} "
                    f"({answer.confidence:.0%}) by model {answer.model_version}; {answer.source}, profile "
                    f"`{answer.profile or '-'}`, review: {answer.review or 'none yet'}")
        galleries.answer_details(recognizer, answer, "What the visitor gave", key=f"operator_answer_{answer.id}")
        one_accept, one_reject = st.columns(2)
        one_accept.button("Accept", key=f"operator_accept_{answer.id}", on_click=review,
                          args=([answer.id], "accepted"), width="stretch")
        one_reject.button("Reject", key=f"operator_reject_{answer.id}", on_click=review,
                          args=([answer.id], "rejected"), width="stretch")


try:
    show()
except FeedbackStoreError as exc:
    st.warning(f"The answers cannot be read: {exc}")
