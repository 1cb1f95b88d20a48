"""Trades: closed trades and fills with filters (symbol, side, time range), totals, and CSV / Parquet downloads.

Live: the totals and tables sit in a fragment that re-reads them each second, so a trade closed while the page is
open shows up without navigating away; the filters sit outside it (changing one reruns the page). Time ranges are in
market time, counted back from the newest fill (the simulator replays past days). The downloads hold the rows as
shown when clicked (the query's columns, exact names), generated only then. A table shows the newest
:data:`SHOWN_ROWS` rows, so a refresh stays light; totals and downloads cover every row matching the filters.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard.exports import csv_bytes, fill_totals, parquet_bytes, trade_totals
from dashboard.reads import shared_reads
from dashboard.runtime import get_runtime
from dashboard.show_table import show_table
from dashboard.tables import fills_table, trades_table
from storage import trade_queries

RANGES = {"All": None, "Last hour": timedelta(hours=1), "Last 24 hours": timedelta(days=1), "Last 7 days": timedelta(days=7)}
SIDES = {"Both": None, "Buy": "BUY", "Sell": "SELL"}
SHOWN_ROWS = 1_000

runtime = get_runtime()

st.title("Trades")

symbol_filter, side_filter, range_filter = st.columns(3)
symbols = symbol_filter.multiselect(
    "Symbol", runtime.settings.trading.symbols, key="trades_symbols", placeholder="All symbols"
)
side = SIDES[side_filter.segmented_control("Side (fills)", list(SIDES), default="Both", key="trades_side") or "Both"]
span = RANGES[range_filter.selectbox("Time range (market time)", list(RANGES), key="trades_range")]


def _downloads(frame: pd.DataFrame, *, name: str) -> None:
    csv, parquet, _ = st.columns([1, 1, 4])
    csv.download_button(
        "CSV", lambda: csv_bytes(frame), file_name=f"{name}.csv", mime="text/csv", key=f"{name}_csv",
        icon=":material/download:", on_click="ignore",
    )
    parquet.download_button(
        "Parquet", lambda: parquet_bytes(frame), file_name=f"{name}.parquet", mime="application/vnd.apache.parquet",
        key=f"{name}_parquet", icon=":material/download:", on_click="ignore",
    )


@st.fragment(run_every=1)
def live() -> None:
    read = shared_reads(runtime).read
    newest = read(trade_queries.newest_fill_time)
    since = None if span is None or newest is None else newest - span
    fills = read(trade_queries.fills, symbols=symbols, side=side, since=since)
    trades = read(trade_queries.closed_trades, symbols=symbols, since=since)

    st.subheader("Closed trades")
    totals = trade_totals(trades)
    count, win_rate, pnl, fees = st.columns(4)
    count.metric("Trades", f"{totals.count:,}", help=f"{totals.wins} won (P&L > 0)")
    win_rate.metric("Win rate", "—" if totals.win_rate_pct is None else f"{totals.win_rate_pct:.1f} %")
    pnl.metric("Net P&L (USDT)", f"{totals.pnl:+,.2f}", help="Net of fees")
    fees.metric("Fees (USDT)", f"{totals.fees:,.2f}", help="Entry + exit taker fees")
    show_table(trades_table(trades.head(SHOWN_ROWS)), key="trades_table", empty="No closed trades match the filters")
    if not trades.empty:
        _downloads(trades, name="trades")

    st.subheader("Fills")
    ftotals = fill_totals(fills)
    count, sides, volume, fees = st.columns(4)
    count.metric("Fills", f"{ftotals.count:,}")
    sides.metric("Buys / sells", f"{ftotals.buys:,} / {ftotals.sells:,}")
    volume.metric("Volume (USDT)", f"{ftotals.volume:,.2f}", help="Sum of price × quantity")
    fees.metric("Fees (USDT)", f"{ftotals.fees:,.2f}")
    show_table(fills_table(fills.head(SHOWN_ROWS)), key="fills_table", empty="No fills match the filters")
    if not fills.empty:
        _downloads(fills, name="fills")
    if max(len(fills), len(trades)) > SHOWN_ROWS:
        st.caption(f"The tables show the newest {SHOWN_ROWS:,} rows; the totals and downloads cover "
                   f"{min(max(len(fills), len(trades)), trade_queries.MAX_ROWS):,}.")
    if max(len(fills), len(trades)) >= trade_queries.MAX_ROWS:
        st.caption(f"Totals and downloads stop at the newest {trade_queries.MAX_ROWS:,} rows; narrow the filters to see older ones.")


live()
