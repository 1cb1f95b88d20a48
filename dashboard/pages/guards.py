"""Guards: the portfolio breaker, the REST rate limiter, retries and the API breaker, the market stream's
connection and the gap ledger, and pre-trade risk denials (``../shared/SPEC.md`` §3 and §5).

Layout only: the tiles' numbers come from ``storage.guard_queries`` and the engine status, charts and tables from
``dashboard.guard_views`` (each built once per refresh tick for every session), limits from the Runtime's settings.
Everything live sits in one fragment that reruns each second. Everything is placed on market time: the wall-time rows
(rate-limit samples, REST attempts, stream events) through the engine's clock map (``dashboard.clock``), their wall
time in the hovers and tables beside it. The breaker's gauges show the breaker's
own figures, which a reset re-bases, and say what they count from.
"""

from __future__ import annotations

import streamlit as st

from dashboard import guard_views, tables
from dashboard.kpis import DeltaColor, breaker_alert, breaker_baselines
from dashboard.live_chart import live_chart
from dashboard.reads import Read, shared, shared_reads, tick_now
from dashboard.runtime import get_runtime
from dashboard.show_table import show_table
from engine.sinks.status import EngineStatus
from storage import account_queries, guard_queries

runtime = get_runtime()

st.title("Guards")

_BREAKER_COLOUR: dict[str, DeltaColor] = {"ACTIVE": "green", "WARNING": "orange", "TRIPPED": "red", "DISABLED": "gray"}
_API_BREAKER_COLOUR = {"CLOSED": "green", "HALF_OPEN": "orange", "OPEN": "red"}


@st.fragment(run_every=1)
def live() -> None:
    read = shared_reads(runtime).read
    status = runtime.status()
    views, charts = shared(runtime, guard_views.tables, runtime), shared(runtime, guard_views.charts, runtime)
    _breaker(read, status, charts, views)
    _rest(read, charts, views)
    _stream(read, status, charts, views)
    _gaps(status, views)
    _denials(status, charts, views)


def _breaker(read: Read, status: EngineStatus, charts: guard_views.Charts, views: guard_views.Tables) -> None:
    limits = runtime.settings.breaker
    st.subheader("Portfolio breaker")
    state = status.breaker_state
    gauges = read(guard_queries.breaker_gauges)
    daily_since, drawdown_since = breaker_baselines(read(account_queries.account_figures))
    tiles = st.columns(4)
    tiles[0].metric(
        "Breaker", state, "latched" if state == "TRIPPED" else "armed", _BREAKER_COLOUR.get(state, "gray"), delta_arrow="off",
        help="ACTIVE → WARNING → TRIPPED (latched until reset)",
    )
    if gauges.empty:
        tiles[1].metric("Breaker's daily loss", "—")
        tiles[2].metric("Breaker's drawdown", "—")
    else:
        tiles[1].metric(
            "Breaker's daily loss", f"{gauges['daily_loss_pct'].iloc[0]:.2f} %", daily_since, "off", delta_arrow="off",
            help="The loss the breaker judges: from its day-start baseline (equity at 00:00 UTC, market time, "
            "or at its last reset that day)",
        )
        tiles[2].metric(
            "Breaker's drawdown", f"{gauges['drawdown_pct'].iloc[0]:.2f} %", drawdown_since, "off", delta_arrow="off",
            help="The drawdown the breaker judges: below its peak (the all-time peak, or the equity at its last reset)",
        )
    tiles[3].metric(
        "Limits",
        f"{limits.daily_loss_pct:g} % / {limits.drawdown_pct:g} %",
        help=f"Warning at {limits.warning_pct:g} % daily loss; trips at {limits.daily_loss_pct:g} % daily loss "
        f"or {limits.drawdown_pct:g} % drawdown; flatten on trip: {'on' if limits.flatten_on_trip else 'off'}",
    )
    alert = breaker_alert(state, read(guard_queries.breaker_history, limit=50))
    if alert is not None:
        (st.error if state == "TRIPPED" else st.warning)(alert, icon=":material/block:")
    left, right = st.columns(2)
    with left:
        live_chart(charts.breaker_gauges, key="breaker_gauges_chart")
    with right:
        live_chart(charts.drawdown, key="guards_drawdown_chart")
    st.markdown("**Trip / reset history**")
    show_table(views.breaker_history, key="breaker_history_table", empty="No breaker events yet")


def _rest(read: Read, charts: guard_views.Charts, views: guard_views.Tables) -> None:
    st.subheader("REST rate limit and retries")
    live_chart(charts.rate_limit, key="rate_limit_chart")
    st.markdown("**API breaker per host**")
    hosts = read(guard_queries.api_breaker_states, now=tick_now())
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
    live_chart(charts.retries, key="retry_chart")
    with st.expander("REST attempts by endpoint, outcome and reason"):
        show_table(views.api_totals, key="api_totals_table", empty="No REST calls yet")


def _stream(read: Read, status: EngineStatus, charts: guard_views.Charts, views: guard_views.Tables) -> None:
    st.subheader("Market stream")
    counts = read(guard_queries.ws_event_counts)
    tiles = st.columns(4)
    tiles[0].metric("Stream", "connected" if status.market_connected else "disconnected")
    tiles[1].metric("Reconnects", f"{counts['reconnects']:,}", help=f"{counts['disconnects']:,} disconnects recorded in all")
    tiles[2].metric("Backfilled candles", f"{status.backfilled_candles:,}", help=f"since start; {counts['backfilled_candles']:,} in all")
    tiles[3].metric("Bad messages", f"{status.bad_messages:,}", help=f"since start; {counts['bad_messages']:,} in all")
    live_chart(charts.ws_timeline, key="ws_timeline_chart")
    with st.expander("Connection events"):
        show_table(views.ws_events, key="ws_events_table", empty="No connection events yet")


def _gaps(status: EngineStatus, views: guard_views.Tables) -> None:
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
        st.dataframe(tables.open_gaps_table(status.gaps, now_s=tick_now().timestamp()), hide_index=True, key="open_gaps_table")
    with st.expander("Gap ledger (latest 50)"):
        show_table(views.gap_ledger, key="gap_ledger_table", empty="No gap recorded yet")


def _denials(status: EngineStatus, charts: guard_views.Charts, views: guard_views.Tables) -> None:
    st.subheader("Risk denials")
    st.caption(f"{status.risk_denials:,} since the engine started")
    chart, totals = st.columns([3, 2])  # the totals table whole: reason, count and the latest time
    with chart:
        live_chart(charts.denials, key="denials_chart")
    with totals:
        show_table(views.denial_totals, key="denial_totals_table", empty="No denials yet")


live()
