"""Overview: headline KPIs (with the breaker state and, when it tripped, why), the controls, equity, drawdown and daily
P&L, the price chart of a symbol, open positions, recent trades and the audit log — all on market time.

Layout only: numbers come from the ``storage`` query modules and ``dashboard.kpis``, charts and tables from
``dashboard.overview_views`` (each built once per refresh tick for every session), buttons from
``dashboard.controls``. The live parts sit in two fragments that rerun each second (the headline, and the charts and
tables); the controls sit outside them, so an open confirmation dialog is not closed by the refresh. When the engine
or breaker state the controls were drawn for changes (e.g. the breaker trips), the headline reruns the whole page
once, so the buttons follow within a refresh.
"""

from __future__ import annotations

import streamlit as st

from dashboard import overview_views
from dashboard.auth import current_gate
from dashboard.controls import control_buttons
from dashboard.kpis import breaker_alert, market_time_text, overview_kpis, reset_note
from dashboard.live_chart import live_chart
from dashboard.reads import shared, shared_reads
from dashboard.runtime import get_runtime
from dashboard.show_table import show_table
from engine.sinks.status import EngineStatus
from storage import account_queries, guard_queries

_DRAWN_FOR_KEY = "overview_controls_drawn_for"
# price-chart spans: market time before the newest candle, by label (a comment: a bare string would be drawn)
WINDOWS = {"2 h": 2 * 3600, "6 h": 6 * 3600, "1 day": 86_400, "7 days": 7 * 86_400, "All": None}

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
    read = shared_reads(runtime).read
    account = read(account_queries.account_figures)
    last = read(guard_queries.breaker_history, limit=1)
    tiles = overview_kpis(account, status, starting_balance=float(runtime.settings.trading.starting_balance))
    money, states = tiles[:4], tiles[4:]  # two rows, so no value is cut off on a laptop screen
    for row in (money, states):
        for column, kpi in zip(st.columns(4), row, strict=False):
            column.metric(kpi.label, kpi.value, kpi.delta, kpi.delta_color, delta_arrow=kpi.delta_arrow, help=kpi.help)
    alert = breaker_alert(status.breaker_state, last)
    if alert is not None:
        (st.error if status.breaker_state == "TRIPPED" else st.warning)(alert, icon=":material/block:")
    note = reset_note(account)
    if note is not None:
        st.info(note, icon=":material/restart_alt:")
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
    """Charts and tables, each built once per tick for every session (``dashboard.overview_views``)."""
    _curves()
    _price_chart()
    _tables()


def _curves() -> None:
    charts = shared(runtime, overview_views.curves, runtime)
    if charts is None:
        waiting = "Waiting for the first candle… the charts appear once the engine has marked the portfolio."
        st.info(waiting, icon=":material/hourglass_top:")
        return
    equity, drawdown, days = st.columns([5, 5, 3])
    with equity:
        live_chart(charts.equity, key="equity_chart")
    with drawdown:
        live_chart(charts.drawdown, key="drawdown_chart")
    with days:
        live_chart(charts.daily_pnl, key="daily_pnl_chart")


def _price_chart() -> None:
    st.subheader("Price")
    symbols = list(runtime.settings.trading.symbols)
    pick, span = st.columns([3, 2])
    symbol = pick.segmented_control("Symbol", symbols, default=symbols[0], key="price_symbol") or symbols[0]
    window = WINDOWS[span.segmented_control("Span (market time)", list(WINDOWS), default="6 h", key="price_window") or "6 h"]
    live_chart(shared(runtime, overview_views.price_chart, runtime, symbol, window), key="price_chart")


def _tables() -> None:
    views = shared(runtime, overview_views.tables, runtime)
    st.subheader("Open positions")
    show_table(views.positions, key="positions_table", empty="No open positions")
    st.subheader("Recent trades")
    show_table(views.trades, key="recent_trades_table", empty="No closed trades yet")
    st.subheader("Audit log")
    show_table(views.commands, key="overview_audit_table", empty="No commands yet")


headline()
controls()
live()
