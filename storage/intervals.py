"""Bucket widths for time-bucketed chart reads: the Binance kline intervals, then whole days.

A chart of a long span is aggregated in SQL into buckets of the smallest standard interval that keeps it within a
number of buckets, so its payload stays bounded (``../shared/SPEC.md`` §5). The intervals are Binance's (Binance spot
REST docs, "Kline/Candlestick data": 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d), so a price chart's bars are candles a
trader knows; beyond a day, whole days. Buckets are aligned to the Unix epoch, as Binance aligns its klines (UTC).
"""

from __future__ import annotations

KLINE_INTERVALS: tuple[tuple[str, int], ...] = (
    ("1m", 60),
    ("3m", 180),
    ("5m", 300),
    ("15m", 900),
    ("30m", 1_800),
    ("1h", 3_600),
    ("2h", 7_200),
    ("4h", 14_400),
    ("6h", 21_600),
    ("8h", 28_800),
    ("12h", 43_200),
    ("1d", 86_400),
)
"""``(name, seconds)`` of each Binance kline interval from 1m to 1d, shortest first."""

_DAY_S = 86_400


def interval_for(span_s: float, *, max_buckets: int) -> tuple[str, int]:
    """The shortest interval whose epoch-aligned buckets cover ``span_s`` seconds in at most ``max_buckets`` buckets.

    Returns:
        ``(name, seconds)``: a :data:`KLINE_INTERVALS` entry, or ``("<n>d", n × 86,400)`` for spans beyond
        ``max_buckets`` days.

    Raises:
        ValueError: ``max_buckets`` < 2 or ``span_s`` < 0.
    """
    if max_buckets < 2:
        raise ValueError(f"max_buckets must be at least 2, got {max_buckets}")
    if span_s < 0:
        raise ValueError(f"span_s must be >= 0, got {span_s}")
    # an epoch-aligned span of ``span_s`` touches at most span_s / width + 1 buckets
    needed = span_s / (max_buckets - 1)
    for name, seconds in KLINE_INTERVALS:
        if seconds >= needed:
            return name, seconds
    days = -(-int(needed) // _DAY_S)
    return f"{days}d", days * _DAY_S
