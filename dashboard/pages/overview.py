"""Overview: headline KPIs (with the breaker state), the controls, equity and drawdown, open positions, recent trades
and the audit log.

Layout only: numbers come from ``storage.queries`` and ``dashboard.kpis``, charts from ``dashboard.figures``,
buttons from ``dashboard.controls``. The live parts sit in fragments that rerun each second; the controls sit
outside them, so an open confirmation dialog is not closed by the refresh. When the engine or breaker state the
controls were drawn for changes (e.g. the breaker trips), the live fragment reruns the whole page once, so the
buttons follow within a refresh.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import figures
from dashboard.auth import current_gate
from dashboard.controls import control_buttons
from dashboard.kpis import market_time_text, overview_kpis
from dashboard.reads import CHART_POINTS, derived, read
from dashboard.runtime import get_runtime
from engine.sinks.status import EngineStatus
from storage import queries

_DRAWN_FOR_KEY = "overview_controls_drawn_for"

runtime = get_runtime()


def _control_state(status: EngineStatus) -> tuple[str, str]:
    """What the controls depend on: engine state and breaker state."""
    return status.state.value, status.breaker_state


st.title("Overview")
st.session_state[_DRAWN_FOR_KEY] = _control_state(runtime.status())


@st.fragment(run_every=1)
def headline() -> None:
    status = runtime.status()
    if st.session_state.get(_DRAWN_FOR_KEY) != _control_state(status):
        st.rerun(scope="app")
    latest = read(runtime, queries.latest_equity)
    tiles = overview_kpis(latest, status, starting_balance=float(runtime.settings.trading.starting_balance))
    money, states = tiles[:4], tiles[4:]  # two rows, so no value is cut off on a laptop screen
    for row in (money, states):
        for column, kpi in zip(st.columns(4), row, strict=False):
            column.metric(kpi.label, kpi.value, kpi.delta, kpi.delta_color, delta_arrow=kpi.delta_arrow, help=kpi.help)
    st.caption(market_time_text(status))


@st.fragment
def controls() -> None:
    status = runtime.status()
    st.session_state[_DRAWN_FOR_KEY] = _control_state(status)
    left, _ = st.columns([3, 2])
    with left:
        control_buttons(runtime, status, current_gate())


@st.fragment(run_every=1)
def live() -> None:
    if read(runtime, queries.latest_equity) is None:
        waiting = "Waiting for the first candle… the charts appear once the engine has marked the portfolio."
        st.info(waiting, icon=":material/hourglass_top:")
    else:
        left, right = st.columns(2)
        equity = derived(runtime, figures.equity_figure, queries.equity_curve, max_points=CHART_POINTS)
        drawdown = derived(runtime, figures.drawdown_figure, queries.equity_curve, max_points=CHART_POINTS)
        left.plotly_chart(equity, key="equity_chart", theme=None)
        right.plotly_chart(drawdown, key="drawdown_chart", theme=None)

    positions, trades = st.columns(2)
    with positions:
        st.subheader("Open positions")
        _table(read(runtime, queries.open_positions), empty="No open positions")
    with trades:
        st.subheader("Recent trades")
        _table(read(runtime, queries.recent_trades, limit=20), empty="No closed trades yet")
    st.subheader("Audit log")
    _table(read(runtime, queries.recent_commands, limit=20), empty="No commands yet")


def _table(frame: pd.DataFrame, *, empty: str) -> None:
    if frame.empty:
        st.caption(empty)
    else:
        st.dataframe(frame, hide_index=True)


headline()
controls()
live()
