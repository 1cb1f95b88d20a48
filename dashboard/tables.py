"""Pure builders of the dashboard's tables from engine status values (no Streamlit, no database)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pandas as pd

from engine.sinks.status import GapStatus

OPEN_GAP_COLUMNS = ("Symbol", "Missing from", "Missing to", "Candles", "Kind", "Open for", "Attempts", "Last error", "Fetched")


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def open_gaps_table(gaps: Sequence[GapStatus], *, now_s: float) -> pd.DataFrame:
    """The open gaps as a display table, oldest first: the missing span in market time (UTC, to the minute), how long
    each has been open (wall clock, ``now_s`` in Unix seconds), failed backfill attempts and the last error;
    ``Fetched`` says the candles are in and wait behind an earlier gap."""
    rows = [
        (
            g.symbol,
            _utc(g.first_ms),
            _utc(g.last_ms),
            g.candles,
            g.kind,
            f"{max(0.0, now_s - g.opened_at_s):.0f} s",
            g.attempts,
            g.last_error,
            "yes" if g.fetched else "no",
        )
        for g in sorted(gaps, key=lambda g: (g.opened_at_s, g.symbol))
    ]
    return pd.DataFrame(rows, columns=list(OPEN_GAP_COLUMNS))
