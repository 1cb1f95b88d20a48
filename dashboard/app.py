"""papertrader dashboard entry point: ``streamlit run dashboard/app.py``.

A router only: page config, the navigation, and in the sidebar the engine (with its uptime, and the strategy with
the parameters it runs with), breaker and market state plus the admin token field (:mod:`dashboard.auth`). Pages
live in ``dashboard/pages/`` and only lay out; the engine Runtime is shared by all sessions
(``dashboard.runtime.get_runtime``; ``make run`` starts it with the server, :mod:`dashboard.serve`). The Simulator
page exists only with venue ``sim``.

The browser's tab icon is an emoji, drawn by the browser itself: a Material icon there would be fetched from an
external font host (only the icons inside the page come with Streamlit's own font).
"""

from __future__ import annotations

import streamlit as st

from dashboard.auth import current_gate, token_input
from dashboard.runtime import get_engine, uptime_text

st.set_page_config(page_title="papertrader", page_icon="📈", layout="wide")

engine = get_engine()
runtime = engine.runtime

pages = [
    st.Page("pages/overview.py", title="Overview", icon=":material/monitoring:", default=True),
    st.Page("pages/guards.py", title="Guards", icon=":material/shield:"),
    st.Page("pages/trades.py", title="Trades", icon=":material/receipt_long:"),
    st.Page("pages/audit.py", title="Audit log", icon=":material/history:"),
]
if runtime.settings.venue.name == "sim":
    pages.append(st.Page("pages/simulator.py", title="Simulator", icon=":material/science:"))
page = st.navigation(pages)


@st.fragment(run_every=1)
def engine_state() -> None:
    status = runtime.status()
    st.markdown(
        f"**Engine** `{status.state.value}` · venue `{status.venue}`  \n"
        f"**Up** {uptime_text(engine.uptime_s())}  \n"
        f"**Strategy** `{runtime.settings.strategy.describe()}` on `{runtime.settings.trading.interval}` candles  \n"
        f"**Breaker** `{status.breaker_state}`  \n"
        f"**Market** `{'connected' if status.market_connected else 'disconnected'}`"
    )
    if status.gaps:
        symbols = ", ".join(sorted({g.symbol for g in status.gaps}))
        st.warning(f"{len(status.gaps)} open data gap(s): {symbols}. No entries there until filled.", icon=":material/timelapse:")
    if status.error:
        st.error(status.error)


with st.sidebar:
    engine_state()
    token_input(current_gate())

page.run()
