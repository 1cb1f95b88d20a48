"""Milliseconds or microseconds: the time unit a client asked for, and timestamps it sent in either.

Binance spot REST docs, "General API Information", and CHANGELOG 2024-12-17: time and timestamp fields of JSON
responses are Unix milliseconds unless the request carries the header ``X-MBX-TIME-UNIT: MICROSECOND`` (or
``microsecond``; ``MILLISECOND`` / ``millisecond`` select the default); WebSocket Streams take the same values as the
URL parameter ``timeUnit``. Any other value is refused with -1194 "Invalid value for time unit; expected either
MICROSECOND or MILLISECOND." (Binance "Error codes"). Timestamp parameters (``startTime``, ``endTime``) "can be passed
in milliseconds or microseconds"; the docs do not say how the two are told apart, so here by magnitude, as the kline
archive's files are read (:mod:`simulator.klines_files`): a value ≥ 10¹⁵ is microseconds.

The simulator's clock has millisecond resolution, so a time ``t`` ms is ``t × 1000`` µs, and the last moment of a
millisecond (a kline's close time ``…999``) is ``…999999`` µs.
"""

from __future__ import annotations

import enum

MICROS_FROM = 10**15
"""Timestamp parameters at or above this are microseconds (10¹⁵ µs is 2001-09-09; 10¹⁵ ms is the year 33658)."""


class InvalidTimeUnitError(ValueError):
    """A time unit other than ``MILLISECOND`` / ``MICROSECOND`` (either all upper or all lower case)."""

    def __init__(self, text: str) -> None:
        super().__init__(f"unknown time unit {text!r}")
        self.text = text


class TimeUnit(enum.Enum):
    """The unit of the times in an answer; the value is how many of it make a millisecond."""

    MILLISECOND = 1
    MICROSECOND = 1000

    @classmethod
    def parse(cls, text: str | None) -> TimeUnit:
        """The unit named by a header or URL parameter value; ``None`` (not sent) is milliseconds.

        Raises:
            InvalidTimeUnitError: not ``MILLISECOND``, ``millisecond``, ``MICROSECOND`` or ``microsecond``.
        """
        if text is None:
            return cls.MILLISECOND
        if text in ("MILLISECOND", "millisecond", "MICROSECOND", "microsecond"):
            return cls[text.upper()]
        raise InvalidTimeUnitError(text)

    def stamp(self, time_ms: int) -> int:
        """The moment ``time_ms`` (Unix ms) in this unit."""
        return time_ms * self.value

    def end_stamp(self, time_ms: int) -> int:
        """The last moment of the millisecond ``time_ms`` in this unit (a close time: ``…999`` ms → ``…999999`` µs)."""
        return (time_ms + 1) * self.value - 1


def timestamp_param_ms(value: int, *, round_up: bool) -> int:
    """A timestamp parameter in ms: ``value`` itself, or a microsecond ``value`` (≥ :data:`MICROS_FROM`) rounded to
    the ms up (``round_up``, for a lower bound such as ``startTime``) or down (an upper bound such as ``endTime``),
    so that the bound keeps its meaning on the millisecond grid."""
    if value < MICROS_FROM:
        return value
    return -(-value // 1000) if round_up else value // 1000
