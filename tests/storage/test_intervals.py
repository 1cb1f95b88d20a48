"""Bucket widths of the time-bucketed chart reads."""

from __future__ import annotations

import pytest

from storage.intervals import KLINE_INTERVALS, interval_for


@pytest.mark.parametrize(
    ("span_s", "expected"),
    [
        (0, ("1m", 60)),
        (359 * 60, ("1m", 60)),  # six hours of 1m candles: 359 minutes from the first open to the last
        (24 * 3600, ("5m", 300)),  # a day: 288 bars of 5m
        (7 * 86_400, ("30m", 1_800)),
        (30 * 86_400, ("4h", 14_400)),  # 30 days need > 359 bars of 2h
    ],
)
def test_the_shortest_kline_interval_within_the_bar_budget(span_s: float, expected: tuple[str, int]) -> None:
    assert interval_for(span_s, max_buckets=360) == expected


def test_beyond_the_day_interval_whole_days() -> None:
    assert interval_for(400 * 86_400, max_buckets=100) == ("5d", 5 * 86_400)


def test_the_intervals_are_binances_from_1m_to_1d_shortest_first() -> None:
    names = [name for name, _ in KLINE_INTERVALS]
    assert names == ["1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d"]
    assert [s for _, s in KLINE_INTERVALS] == sorted(s for _, s in KLINE_INTERVALS)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="max_buckets must be at least 2"):
        interval_for(60, max_buckets=1)
    with pytest.raises(ValueError, match="span_s must be >= 0"):
        interval_for(-1, max_buckets=10)
