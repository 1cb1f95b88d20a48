"""Risk denials over market time by reason and symbol."""

from __future__ import annotations

import pandas as pd
import pytest

from storage.denial_queries import DENIAL_COLUMNS, NO_SYMBOL, denials_over_time


def _denial(rows, minute: float, code: str, symbol: str | None = "BTCUSDT") -> dict:
    return {"ts": rows.at(minute), "symbol": symbol, "reason_code": code, "detail": ""}


def test_counts_per_bucket_reason_and_symbol(cur, write, rows) -> None:
    """Over two hours in at most 25 buckets: 5m buckets; minute 0 and 3 share one, minute 119 is another."""
    write(
        "risk_denials",
        _denial(rows, 0, "DATA_GAP"), _denial(rows, 3, "DATA_GAP"), _denial(rows, 3, "DATA_GAP", "ETHUSDT"),
        _denial(rows, 119, "MAX_POSITIONS"), _denial(rows, 119, "INVALID_PRICE", None),
    )

    frame = denials_over_time(cur, max_buckets=25)

    assert list(frame.columns) == list(DENIAL_COLUMNS)
    assert frame[["reason_code", "symbol", "denials"]].values.tolist() == [
        ["DATA_GAP", "BTCUSDT", 2], ["DATA_GAP", "ETHUSDT", 1],
        ["INVALID_PRICE", NO_SYMBOL, 1], ["MAX_POSITIONS", "BTCUSDT", 1],
    ]
    assert set(frame["width_s"]) == {300.0}
    assert frame["ts"].iloc[0] == pd.Timestamp(rows.at(0))


def test_the_charts_span_widens_the_buckets(cur, write, rows) -> None:
    """One denial in a day-long chart: a 30m bucket (a day in at most 60), not a 1m sliver."""
    write("risk_denials", _denial(rows, 0, "DATA_GAP"))
    frame = denials_over_time(cur, chart_span_s=86_400)
    assert frame["width_s"].tolist() == [1_800.0]


def test_no_denials_is_an_empty_frame_with_its_columns(cur) -> None:
    frame = denials_over_time(cur)
    assert frame.empty and list(frame.columns) == list(DENIAL_COLUMNS)


def test_fewer_than_two_buckets_are_refused(cur) -> None:
    with pytest.raises(ValueError, match="max_buckets must be at least 2"):
        denials_over_time(cur, max_buckets=1)
