"""Trades: fills and closed trades with filters (symbol, side, time range), totals, and CSV / Parquet downloads.

Time ranges are in market time, counted back from the newest fill (the simulator replays past days).
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard.exports import csv_bytes, fill_totals, parquet_bytes, trade_totals
from dashboard.reads import read
from dashboard.runtime import get_runtime
from storage import trade_queries

RANGES = {"All": None, "Last hour": timedelta(hours=1), "Last 24 hours": timedelta(days=1), "Last 7 days": timedelta(days=7)}
SIDES = {"Both": None, "Buy": "BUY", "Sell": "SELL"}

runtime = get_runtime()

st.title("Trades")

symbol_filter, side_filter, range_filter = st.columns(3)
symbols = symbol_filter.multiselect(
    "Symbol", runtime.settings.trading.symbols, key="trades_symbols", placeholder="All symbols"
)
side = SIDES[side_filter.segmented_control("Side (fills)", list(SIDES), default="Both", key="trades_side") or "Both"]
span = RANGES[range_filter.selectbox("Time range (market time)", list(RANGES), key="trades_range")]

newest = read(runtime, trade_queries.newest_fill_time)
since = None if span is None or newest is None else newest - span
fills = read(runtime, trade_queries.fills, symbols=symbols, side=side, since=since)
trades = read(runtime, trade_queries.closed_trades, symbols=symbols, since=since)


def _downloads(frame: pd.DataFrame, *, name: str) -> None:
    csv, parquet, _ = st.columns([1, 1, 4])
    csv.download_button(
        "CSV", csv_bytes(frame), file_name=f"{name}.csv", mime="text/csv", key=f"{name}_csv", icon=":material/download:"
    )
    parquet.download_button(
        "Parquet", parquet_bytes(frame), file_name=f"{name}.parquet", mime="application/vnd.apache.parquet",
        key=f"{name}_parquet", icon=":material/download:",
    )


st.subheader("Closed trades")
totals = trade_totals(trades)
count, win_rate, pnl, fees = st.columns(4)
count.metric("Trades", f"{totals.count:,}", help=f"{totals.wins} won (P&L > 0)")
win_rate.metric("Win rate", "—" if totals.win_rate_pct is None else f"{totals.win_rate_pct:.1f} %")
pnl.metric("Net P&L (USDT)", f"{totals.pnl:+,.2f}", help="Net of fees")
fees.metric("Fees (USDT)", f"{totals.fees:,.2f}", help="Entry + exit taker fees")
if trades.empty:
    st.caption("No closed trades match the filters")
else:
    st.dataframe(trades, hide_index=True, key="trades_table")
    _downloads(trades, name="trades")

st.subheader("Fills")
ftotals = fill_totals(fills)
count, sides, volume, fees = st.columns(4)
count.metric("Fills", f"{ftotals.count:,}")
sides.metric("Buys / sells", f"{ftotals.buys:,} / {ftotals.sells:,}")
volume.metric("Volume (USDT)", f"{ftotals.volume:,.2f}", help="Sum of price × quantity")
fees.metric("Fees (USDT)", f"{ftotals.fees:,.2f}")
if fills.empty:
    st.caption("No fills match the filters")
else:
    st.dataframe(fills, hide_index=True, key="fills_table")
    _downloads(fills, name="fills")
if max(len(fills), len(trades)) >= trade_queries.MAX_ROWS:
    st.caption(f"Showing the newest {trade_queries.MAX_ROWS:,} rows; narrow the filters to see older ones.")
