"""Totals and downloads of the Trades page: DataFrames in, plain values or bytes out (no Streamlit here).

Money is in the quote asset (USDT); percentages are in percent.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


@dataclass(frozen=True, slots=True)
class FillTotals:
    """``count`` fills, of which ``buys`` and ``sells``; ``volume`` = sum of quote quantity; ``fees`` = taker fees."""

    count: int
    buys: int
    sells: int
    volume: float
    fees: float


@dataclass(frozen=True, slots=True)
class TradeTotals:
    """``count`` closed trades, ``wins`` with pnl > 0, ``win_rate_pct`` (None without trades), ``pnl`` net of fees,
    ``fees`` (entry + exit)."""

    count: int
    wins: int
    win_rate_pct: float | None
    pnl: float
    fees: float


def fill_totals(fills: pd.DataFrame) -> FillTotals:
    """Totals of a frame shaped like :func:`storage.trade_queries.fills`."""
    side = fills["side"]
    return FillTotals(
        count=len(fills),
        buys=int((side == "BUY").sum()),
        sells=int((side == "SELL").sum()),
        volume=float(fills["quote_qty"].sum()),
        fees=float(fills["fee"].sum()),
    )


def trade_totals(trades: pd.DataFrame) -> TradeTotals:
    """Totals of a frame shaped like :func:`storage.trade_queries.closed_trades`."""
    count = len(trades)
    wins = int((trades["pnl"] > 0).sum())
    return TradeTotals(
        count=count,
        wins=wins,
        win_rate_pct=wins / count * 100 if count else None,
        pnl=float(trades["pnl"].sum()),
        fees=float(trades["fees"].sum()),
    )


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV with a header row and no index; timestamps in ISO 8601 with their UTC offset."""
    return frame.to_csv(index=False).encode()


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as one Parquet file (pyarrow, zstd), column types kept (timestamps stay UTC-aware)."""
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink, compression="zstd")
    return sink.getvalue()
