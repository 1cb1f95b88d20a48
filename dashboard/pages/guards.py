"""Guards: the portfolio breaker, the REST rate limiter, retries and the API breaker, the market stream's
connection and the gap ledger, and pre-trade risk denials (``../shared/SPEC.md`` §3 and §5).

Layout only: numbers come from ``storage.guard_queries`` (the equity curve from ``storage.queries``) and the engine
status, charts from ``dashboard.guard_figures`` (the drawdown from ``dashboard.figures``), limits from the Runtime's
settings. Everything live sits in one fragment that reruns each second.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from dashboard import figures, guard_figures, tables
from dashboard.kpis import DeltaColor
from dashboard.reads import CHART_POINTS, Bound, Read, derived, shared_reads, tick_now
from dashboard.runtime import get_runtime
from engine.sinks.status import EngineStatus
from storage import guard_queries, queries

runtime = get_runtime()

st.title("Guards")

_BREAKER_COLOUR: dict[str, DeltaColor] = {"ACTIVE": "green", "WARNING": "orange", "TRIPPED": "red", "DISABLED": "gray"}
_API_BREAKER_COLOUR = {"CLOSED": "green", "HALF_OPEN": "orange", "OPEN": "red"}


@st.fragment(run_every=1)
def live() -> None:
    _live(shared_reads(runtime).read)


def _live(read: Read) -> None:
    status = runtime.status()
    now = tick_now()
    _breaker(read, status)
    _rest(read, now)
    _stream(read, status, now)
    _gaps(read, status, now)
    _denials(read, status)


def _breaker(read: Read, status: EngineStatus) -> None:
    limits = runtime.settings.breaker
    st.subheader("Portfolio breaker")
    state = status.breaker_state
    gauges = read(guard_queries.breaker_gauges)
    tiles = st.columns(4)
    tiles[0].metric(
        "Breaker", state, "latched" if state == "TRIPPED" else "armed", _BREAKER_COLOUR.get(state, "gray"), delta_arrow="off",
        help="ACTIVE → WARNING → TRIPPED (latched until reset)",
    )
    if gauges.empty:
        tiles[1].metric("Daily loss", "—")
        tiles[2].metric("Drawdown", "—")
    else:
        tiles[1].metric("Daily loss", f"{gauges['daily_loss_pct'].iloc[0]:.2f} %", help="vs equity at 00:00 UTC (market time)")
        tiles[2].metric("Drawdown", f"{gauges['drawdown_pct'].iloc[0]:.2f} %", help="below peak equity")
    tiles[3].metric(
        "Limits",
        f"{limits.daily_loss_pct:g} % / {limits.drawdown_pct:g} %",
        help=f"Warning at {limits.warning_pct:g} % daily loss; trips at {limits.daily_loss_pct:g} % daily loss "
        f"or {limits.drawdown_pct:g} % drawdown; flatten on trip: {'on' if limits.flatten_on_trip else 'off'}",
    )
    if state == "TRIPPED":
        st.error("The breaker is tripped: no new entries until a person resets it.", icon=":material/block:")
    left, right = st.columns(2)
    left.plotly_chart(
        derived(
            runtime,
            Bound(
                guard_figures.breaker_gauges_figure,
                warning_pct=float(limits.warning_pct),
                daily_loss_pct=float(limits.daily_loss_pct),
                drawdown_pct=float(limits.drawdown_pct),
            ),
            guard_queries.breaker_gauges,
        ),
        key="breaker_gauges_chart",
        theme=None,
    )
    right.plotly_chart(
        derived(
            runtime, Bound(figures.drawdown_figure, limit_pct=float(limits.drawdown_pct)), queries.equity_curve, max_points=CHART_POINTS
        ),
        key="guards_drawdown_chart",
        theme=None,
    )
    st.markdown("**Trip / reset history**")
    _table(read(guard_queries.breaker_history, limit=50), empty="No breaker events yet")


def _rest(read: Read, now: datetime) -> None:
    rest = runtime.settings.rest
    st.subheader("REST rate limit and retries")
    st.plotly_chart(
        derived(
            runtime,
            Bound(guard_figures.rate_limit_figure, warn_pct=rest.warn_pct, weight_limit=rest.weight_limit_per_minute),
            guard_queries.rate_limit_series,
            max_points=CHART_POINTS,
        ),
        key="rate_limit_chart",
        theme=None,
    )
    st.markdown("**API breaker per host**")
    hosts = read(guard_queries.api_breaker_states, now=now)
    if hosts.empty:
        st.caption("No REST telemetry yet")
    else:
        for row in hosts.to_dict("records"):
            state = row["api_breaker"]
            colour = _API_BREAKER_COLOUR.get(state, "gray")
            weight = f"weight {row['used_weight']:,}/{row['weight_limit']:,} ({row['utilisation_pct']:.0f} %)"
            text = f"`{row['host']}` :{colour}[**{state}**] · {weight}"
            if row["ban_left_s"] > 0:
                st.error(f"{text} · banned (HTTP 418) for another {row['ban_left_s']:.0f} s", icon=":material/gpp_bad:")
            else:
                st.markdown(text)
    st.plotly_chart(derived(runtime, guard_figures.retry_counts_figure, guard_queries.retry_counts), key="retry_chart", theme=None)
    with st.expander("REST attempts by endpoint, outcome and reason"):
        _table(read(guard_queries.api_call_totals), empty="No REST calls yet")


def _stream(read: Read, status: EngineStatus, now: datetime) -> None:
    st.subheader("Market stream")
    counts = read(guard_queries.ws_event_counts)
    tiles = st.columns(4)
    tiles[0].metric("Stream", "connected" if status.market_connected else "disconnected")
    tiles[1].metric("Reconnects", f"{counts['reconnects']:,}", help=f"{counts['disconnects']:,} disconnects recorded in all")
    tiles[2].metric("Backfilled candles", f"{status.backfilled_candles:,}", help=f"since start; {counts['backfilled_candles']:,} in all")
    tiles[3].metric("Bad messages", f"{status.bad_messages:,}", help=f"since start; {counts['bad_messages']:,} in all")
    st.plotly_chart(
        derived(runtime, guard_figures.ws_timeline_figure, guard_queries.ws_spans, now=now), key="ws_timeline_chart", theme=None
    )
    with st.expander("Connection events"):
        _table(read(guard_queries.ws_timeline, limit=500), empty="No connection events yet")


def _gaps(read: Read, status: EngineStatus, now: datetime) -> None:
    st.subheader("Data gaps")
    tiles = st.columns(4)
    tiles[0].metric("Open gaps", f"{len(status.gaps):,}", help="Holes in a symbol's closed-candle series, until backfilled")
    symbols = sorted({g.symbol for g in status.gaps})
    tiles[1].metric(
        "Symbols with a gap", f"{len(symbols)}",
        help="Entries on these are denied (DATA_GAP); their stops, targets and the breaker keep running",
    )
    tiles[2].metric(
        "Held candles", f"{status.held_candles:,}", help="Closed candles waiting behind a gap, processed in order once it fills"
    )
    tiles[3].metric("Dropped candles", f"{status.dropped_candles:,}", help="Duplicate or out-of-order candles, since start")
    if status.gaps:
        st.warning(
            f"{len(status.gaps)} open gap(s) in {', '.join(symbols)}: no entries there until filled. The backfill is "
            "retried after each Retry-After, ban or backoff until it fills; stops, targets and the breaker keep running.",
            icon=":material/timelapse:",
        )
        _table(tables.open_gaps_table(status.gaps, now_s=now.timestamp()), empty="")
    with st.expander("Gap ledger (latest 50)"):
        _table(read(guard_queries.gap_history, limit=50), empty="No gap recorded yet")


def _denials(read: Read, status: EngineStatus) -> None:
    st.subheader("Risk denials")
    st.caption(f"{status.risk_denials:,} since the engine started")
    st.plotly_chart(derived(runtime, guard_figures.denials_figure, guard_queries.denials_by_reason), key="denials_chart", theme=None)


def _table(frame: pd.DataFrame, *, empty: str) -> None:
    if frame.empty:
        st.caption(empty)
    else:
        st.dataframe(frame, hide_index=True)


live()
