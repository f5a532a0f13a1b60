"""Everything that imports Streamlit: the pages (``pages/``) and the widgets they share.

- ``resources``: the model, loaded once per model version (``st.cache_resource``);
- ``widgets``: the probability chart, the prediction's headline, unsure notes;
- ``galleries``: the test-set results, the clickable confusion matrix, image galleries;
- ``feedback_controls``: "did the model read this right?" under a prediction;
- ``profile``: each visitor's handwriting profile (kept in the page's address).

The rest of ``mnist_app`` never imports Streamlit.
"""
