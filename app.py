"""Streamlit entry point: ``streamlit run app.py``. Pages live in ``mnist_app/ui/pages``.

The Draw page (the default) is ``mnist_app/ui/pages/draw.py``: the st_canvas drawing and
the st.container(key="prediction") that shows what was read.
"""

from pathlib import Path

import streamlit as st

from mnist_app.ui.admission import turn
from mnist_app.ui.operator import operator_secret
from mnist_app.ui.profile import current_profile

PAGES = Path(__file__).parent / "mnist_app" / "ui" / "pages"

st.set_page_config(page_title="Digit recognizer", page_icon="✍️", layout="wide")
st.markdown(
    """<style>
    .st-key-prediction .prediction { font-size: 2.4rem; font-weight: 700; line-height: 1.2; }
    .st-key-prediction .prediction-detail { display: block; font-size: 1rem; font-weight: 400;
                                            color: #6b6b6b; margin-top: 0.3rem; }
    </style>""",
    unsafe_allow_html=True,
)
pages = [
    st.Page(PAGES / "draw.py", title="Draw", icon=":material/draw:", default=True),
    st.Page(PAGES / "photo.py", title="Photo", icon=":material/photo_camera:"),
    st.Page(PAGES / "your_digits.py", title="Your digits", icon=":material/collections_bookmark:"),
    st.Page(PAGES / "model.py", title="Model", icon=":material/insights:"),
]
if operator_secret():  # offered only where an operator secret is set
    pages.append(st.Page(PAGES / "operator.py", title="Operator", icon=":material/admin_panel_settings:"))
navigation = st.navigation(pages)
with turn():
    current_profile()  # every page keeps the visitor's profile in the address
    navigation.run()
