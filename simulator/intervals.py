"""Binance kline intervals and the ``timeZone`` they are read in: which kline a moment belongs to.

Intervals served (Binance spot REST docs, "Kline/Candlestick data", supported kline intervals; WebSocket Streams
docs, "Kline/Candlestick Streams")::

    1m 3m 5m 15m 30m   1h 2h 4h 6h 8h 12h   1d   1w   1M

A kline's open time is aligned to its interval in the time zone it is read in: ``1m`` … ``1d`` to whole multiples of
the interval since the Unix epoch (so ``1h`` opens on the hour, ``4h`` at 00:00, 04:00 …, ``1d`` at midnight),
``1w`` to Monday 00:00, ``1M`` to the first day of the calendar month. Its close time is the next kline's open time
− 1 ms (``1m``: open + 59,999). Binance also lists ``1s`` and ``3d``: the simulator has no data finer than a minute,
and Binance's docs do not say where 3-day klines are anchored, so both are refused as unknown intervals.

``timeZone`` (REST ``klines`` / ``uiKlines``; Binance spot REST docs, "Kline/Candlestick data" notes): hours and
minutes (``-1:00``, ``05:45``) or only hours (``0``, ``8``, ``4``), an optional sign, within [-12:00, +14:00]
inclusive; default 0 (UTC). With a time zone, "kline intervals are interpreted in that timezone instead of UTC":
the alignment above is done on local time (a ``1d`` kline with ``timeZone=8`` opens at 16:00 UTC, a ``1h`` kline with
``5:45`` at :15 past the UTC hour). Open and close times stay Unix milliseconds (UTC), and ``startTime`` /
``endTime`` are always UTC. Streams offer one time zone, UTC+8, as ``<symbol>@kline_<interval>@+08:00``
(WebSocket Streams docs, "Kline/Candlestick Streams with timezone offset").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS
MONDAY_MS = 4 * DAY_MS
"""1970-01-05 00:00 UTC, the first Monday after the epoch (a Thursday): where ``1w`` klines are anchored."""

FIXED_INTERVALS_MS = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": HOUR_MS,
    "2h": 2 * HOUR_MS,
    "4h": 4 * HOUR_MS,
    "6h": 6 * HOUR_MS,
    "8h": 8 * HOUR_MS,
    "12h": 12 * HOUR_MS,
    "1d": DAY_MS,
    "1w": WEEK_MS,
}
MONTH = "1M"
INTERVAL_NAMES = (*FIXED_INTERVALS_MS, MONTH)
"""Every interval served, shortest first."""

STREAM_TIME_ZONE = "+08:00"
"""The only time zone a kline stream can be read in, as its name's suffix (``@+08:00``)."""
MIN_OFFSET_MS = -12 * HOUR_MS
MAX_OFFSET_MS = 14 * HOUR_MS
_TIME_ZONE = re.compile(r"([+-]?)([0-9]{1,2})(?::([0-9]{2}))?")


class UnknownIntervalError(ValueError):
    """Not an interval of :data:`INTERVAL_NAMES` (Binance: -1120 "Invalid interval.")."""


class InvalidTimeZoneError(ValueError):
    """A ``timeZone`` that is not ``[+|-]H[H][:MM]`` within [-12:00, +14:00]."""


@dataclass(frozen=True, slots=True)
class KlineInterval:
    """A kline interval read in a time zone: ``name`` (e.g. ``"1h"``) and ``offset_ms``, the time zone's offset from
    UTC in ms (UTC+8 is 28,800,000). Build one with :meth:`parse`."""

    name: str
    offset_ms: int = 0

    @classmethod
    def parse(cls, name: str, *, time_zone: str | None = None) -> KlineInterval:
        """The interval called ``name`` read in ``time_zone`` (``None``: UTC), see the module docstring.

        Raises:
            UnknownIntervalError: ``name`` is not one of :data:`INTERVAL_NAMES` (case-sensitive: ``1M`` is a month).
            InvalidTimeZoneError: ``time_zone`` is malformed or out of range.
        """
        if name not in INTERVAL_NAMES:
            raise UnknownIntervalError(f"unknown kline interval {name!r}; known: {' '.join(INTERVAL_NAMES)}")
        return cls(name, 0 if time_zone is None else time_zone_offset_ms(time_zone))

    def open_time_ms(self, time_ms: int) -> int:
        """Open time (Unix ms) of the kline that contains the moment ``time_ms`` (Unix ms)."""
        local_ms = time_ms + self.offset_ms
        length_ms = FIXED_INTERVALS_MS.get(self.name)
        if length_ms is None:
            day = datetime.fromtimestamp(local_ms // 1000, UTC)
            return _unix_ms(datetime(day.year, day.month, 1, tzinfo=UTC)) - self.offset_ms
        anchor_ms = MONDAY_MS if self.name == "1w" else 0
        return (local_ms - anchor_ms) // length_ms * length_ms + anchor_ms - self.offset_ms

    def next_open_ms(self, open_time_ms: int) -> int:
        """Open time of the kline after the one opening at ``open_time_ms``; its close time is this − 1."""
        length_ms = FIXED_INTERVALS_MS.get(self.name)
        if length_ms is not None:
            return open_time_ms + length_ms
        start = datetime.fromtimestamp((open_time_ms + self.offset_ms) // 1000, UTC)
        year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
        return _unix_ms(datetime(year, month, 1, tzinfo=UTC)) - self.offset_ms

    def first_open_at_or_after_ms(self, time_ms: int) -> int:
        """Open time of the first kline opening at or after ``time_ms``."""
        open_ms = self.open_time_ms(time_ms)
        return open_ms if open_ms == time_ms else self.next_open_ms(open_ms)


def time_zone_offset_ms(text: str) -> int:
    """The offset from UTC, in ms, of a ``timeZone`` value (``"8"`` → 28,800,000, ``"-1:30"`` → −5,400,000).

    Raises:
        InvalidTimeZoneError: not ``[+|-]H[H][:MM]`` with minutes < 60, or outside [-12:00, +14:00].
    """
    match = _TIME_ZONE.fullmatch(text)
    if match is None or int(match[3] or 0) >= 60:
        raise InvalidTimeZoneError(f"timeZone {text!r} is not [+|-]H[H][:MM]")
    sign = -1 if match[1] == "-" else 1
    offset_ms = sign * (int(match[2]) * HOUR_MS + int(match[3] or 0) * MINUTE_MS)
    if not MIN_OFFSET_MS <= offset_ms <= MAX_OFFSET_MS:
        raise InvalidTimeZoneError(f"timeZone {text!r} is outside [-12:00, +14:00]")
    return offset_ms


def _unix_ms(moment: datetime) -> int:
    return int(moment.timestamp()) * 1000
