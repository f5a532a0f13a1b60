"""The operator's key: the secret that opens the Operator page, from the environment
(``MNIST_OPERATOR_SECRET``) or ``.streamlit/secrets.toml`` (``operator_secret = "..."``).
Without one the page is not offered at all."""

from __future__ import annotations

import hmac
import os

import streamlit as st

SECRET_ENV = "MNIST_OPERATOR_SECRET"
SECRET_NAME = "operator_secret"
_UNLOCKED_KEY = "operator_unlocked"


def operator_secret() -> str | None:
    """The configured secret, or None when there is none (an empty one counts as none)."""
    secret = os.environ.get(SECRET_ENV)
    if not secret:
        try:
            secret = st.secrets.get(SECRET_NAME)
        except Exception:  # noqa: BLE001 - no secrets file, or one that does not parse: no secret
            secret = None
    return str(secret) if secret else None


def unlock(attempt: str) -> bool:
    """Open the operator view for this session if ``attempt`` is the secret."""
    secret = operator_secret()
    ok = secret is not None and hmac.compare_digest(attempt.encode(), secret.encode())
    st.session_state[_UNLOCKED_KEY] = ok
    return ok


def is_unlocked() -> bool:
    return bool(st.session_state.get(_UNLOCKED_KEY)) and operator_secret() is not None
