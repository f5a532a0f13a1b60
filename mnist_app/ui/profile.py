"""Each visitor's handwriting profile, without sign-up: a random name kept in the
session and in the page's address (``?profile=...``), so a reload, a bookmark or the
same address on another device finds the same digits. Every answer is stored under it
and "Your digits" shows only its answers (``FeedbackStore.for_profile``)."""

from __future__ import annotations

import secrets

import streamlit as st

from mnist_app.feedback import FeedbackStore, FeedbackStoreError, check_profile
from mnist_app.inference import Reading
from mnist_app.personal import Examples
from mnist_app.ui import resources, widgets

PARAMETER = "profile"
_STATE_KEY = "profile"


def _valid(name: str | None) -> str | None:
    try:
        return check_profile(name) if name else None
    except ValueError:
        return None


def current_profile() -> str:
    """This visitor's profile name; made up on the first visit, kept in the address.

    The session's name wins over the address (Streamlit drops query parameters when the
    page changes), the address over a new one (a reload, a bookmark)."""
    name = st.session_state.get(_STATE_KEY) or _valid(st.query_params.get(PARAMETER)) or new_profile_name()
    st.session_state[_STATE_KEY] = name
    if st.query_params.get(PARAMETER) != name:
        st.query_params[PARAMETER] = name
    return name


def new_profile_name() -> str:
    """16 random URL-safe characters: unguessable, so a profile is as private as its address."""
    return secrets.token_urlsafe(12)


def start_afresh() -> None:
    """Button callback: a new, empty profile for this visitor (the old one stays in the
    store, reachable from its address)."""
    st.session_state[_STATE_KEY] = st.query_params[PARAMETER] = new_profile_name()


def profile_store() -> FeedbackStore:
    """The feedback store as this visitor's profile sees it."""
    return FeedbackStore().for_profile(current_profile())


def your_examples() -> Examples | None:
    """This visitor's examples (their answers so far), read with their next digit; None,
    with a note on the page, when the store cannot be read (the shared model reads)."""
    try:
        return resources.example_cache().examples(profile_store(), fit_in_background=True)
    except (FeedbackStoreError, OSError) as exc:
        st.caption(f"Reading with the shared model only: your examples could not be read ({exc}).")
        return None


def show_examples_used(reading: Reading, examples: Examples, key: str) -> None:
    """Under a reading: for each digit read from the visitor's examples, which ones
    ("read as 7: like 3 of your 7s") and their pictures."""
    with st.container(key=key):
        for position, digit in enumerate(reading.digits):
            note = widgets.examples_note(digit, f"Digit #{position + 1} " if len(reading.digits) > 1 else "")
            if note:
                st.markdown(note[0].upper() + note[1:])
                st.image(widgets.example_thumbnails(digit, examples), caption=f"your {digit.digit}s")
