"""Each visitor's handwriting profile, without sign-up: a random name kept in the
session and in the page's address (``?profile=...``), so a reload, a bookmark or the
same address on another device finds the same digits. Every answer is stored under it
and "Your digits" shows only its answers (``FeedbackStore.for_profile``)."""

from __future__ import annotations

import secrets

import streamlit as st

from mnist_app.feedback import FeedbackStore, check_profile

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
