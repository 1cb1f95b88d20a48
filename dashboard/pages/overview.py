"""Overview: headline KPIs, equity and drawdown, open positions, recent trades and the audit log.

Layout only: numbers come from ``storage.queries`` and ``dashboard.kpis``, charts from
``dashboard.figures``. Everything live sits in one fragment that reruns each second, so the rest of
the page (title) does not.
"""

from __future__ import annotations

import streamlit as st

from dashboard import figures
from dashboard.controls import pause_resume_button
from dashboard.kpis import market_time_text, overview_kpis
from dashboard.runtime import get_runtime
from storage import queries

runtime = get_runtime()

st.title("Overview")


@st.fragment(run_every=1)
def live() -> None:
    with runtime.store.cursor() as cur:
        _live(cur)


def _live(cur) -> None:
    status = runtime.status()
    latest = queries.latest_equity(cur)

    for column, kpi in zip(st.columns(6), overview_kpis(latest, status, starting_balance=runtime.settings.trading.starting_balance), strict=True):
        column.metric(kpi.label, kpi.value, kpi.delta, kpi.delta_color, delta_arrow=kpi.delta_arrow, help=kpi.help)

    controls, clock = st.columns([1, 4], vertical_alignment="center")
    with controls:
        pause_resume_button(runtime, status)
    clock.caption(market_time_text(status))

    if latest is None:
        st.info("Waiting for the first candle… the charts appear once the engine has marked the portfolio.", icon=":material/hourglass_top:")
    else:
        curve = queries.equity_curve(cur)
        left, right = st.columns(2)
        left.plotly_chart(figures.equity_figure(curve), key="equity_chart", theme=None)
        right.plotly_chart(figures.drawdown_figure(curve), key="drawdown_chart", theme=None)

    positions, trades = st.columns(2)
    with positions:
        st.subheader("Open positions")
        _table(queries.open_positions(cur), empty="No open positions")
    with trades:
        st.subheader("Recent trades")
        _table(queries.recent_trades(cur, limit=20), empty="No closed trades yet")
    st.subheader("Audit log")
    _table(queries.recent_commands(cur, limit=20), empty="No commands yet")


def _table(frame, *, empty: str) -> None:
    if frame.empty:
        st.caption(empty)
    else:
        st.dataframe(frame, hide_index=True)


live()
