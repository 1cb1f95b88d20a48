"""papertrader dashboard entry point: ``streamlit run dashboard/app.py``.

A router only: page config, the navigation, and the engine state in the sidebar. Pages live in
``dashboard/pages/`` and only lay out; the engine Runtime is shared by all sessions
(``dashboard.runtime.get_runtime``).
"""

from __future__ import annotations

import streamlit as st

from dashboard.runtime import get_runtime

st.set_page_config(page_title="papertrader", layout="wide")

runtime = get_runtime()

page = st.navigation([st.Page("pages/overview.py", title="Overview", icon=":material/monitoring:", default=True)])


@st.fragment(run_every=1)
def engine_state() -> None:
    status = runtime.status()
    st.markdown(f"**Engine** `{status.state.value}` · venue `{status.venue}`")
    if status.error:
        st.error(status.error)


with st.sidebar:
    engine_state()

page.run()
