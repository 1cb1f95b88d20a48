"""Kline intervals and time zones: where each interval's klines open, in UTC and in a ``timeZone``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.intervals import (
    FIXED_INTERVALS_MS,
    INTERVAL_NAMES,
    InvalidTimeZoneError,
    KlineInterval,
    UnknownIntervalError,
    time_zone_offset_ms,
)


def ms(text: str) -> int:
    """Unix ms of an ISO time in UTC (``"2021-04-21T13:22:30"``)."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


MOMENT = ms("2021-04-21T13:22:30")  # a Wednesday


@pytest.mark.parametrize(
    ("name", "opens", "next_opens"),
    [
        ("1m", "2021-04-21T13:22", "2021-04-21T13:23"),
        ("3m", "2021-04-21T13:21", "2021-04-21T13:24"),
        ("5m", "2021-04-21T13:20", "2021-04-21T13:25"),
        ("15m", "2021-04-21T13:15", "2021-04-21T13:30"),
        ("30m", "2021-04-21T13:00", "2021-04-21T13:30"),
        ("1h", "2021-04-21T13:00", "2021-04-21T14:00"),
        ("2h", "2021-04-21T12:00", "2021-04-21T14:00"),
        ("4h", "2021-04-21T12:00", "2021-04-21T16:00"),
        ("6h", "2021-04-21T12:00", "2021-04-21T18:00"),
        ("8h", "2021-04-21T08:00", "2021-04-21T16:00"),
        ("12h", "2021-04-21T12:00", "2021-04-22T00:00"),
        ("1d", "2021-04-21T00:00", "2021-04-22T00:00"),
        ("1w", "2021-04-19T00:00", "2021-04-26T00:00"),
        ("1M", "2021-04-01T00:00", "2021-05-01T00:00"),
    ],
)
def test_every_interval_opens_aligned_in_utc(name: str, opens: str, next_opens: str) -> None:
    """Hand-computed for Wednesday 2021-04-21 13:22:30 UTC: multiples of the interval since the epoch, weeks on
    Monday, months on the 1st."""
    interval = KlineInterval.parse(name)

    assert interval.open_time_ms(MOMENT) == ms(opens)
    assert interval.next_open_ms(ms(opens)) == ms(next_opens)


@pytest.mark.parametrize(
    ("name", "time_zone", "opens"),
    [
        ("1d", "8", "2021-04-20T16:00"),
        ("1d", "+08:00", "2021-04-20T16:00"),
        ("1d", "-5", "2021-04-21T05:00"),
        ("1h", "5:45", "2021-04-21T13:15"),
        ("4h", "-1:30", "2021-04-21T09:30"),
        ("1w", "14:00", "2021-04-18T10:00"),
        ("1M", "-12:00", "2021-04-01T12:00"),
        ("1m", "5:45", "2021-04-21T13:22"),
    ],
)
def test_a_time_zone_aligns_the_intervals_on_local_time(name: str, time_zone: str, opens: str) -> None:
    """Binance spot REST docs: "kline intervals are interpreted in that timezone instead of UTC"; open times stay
    UTC. E.g. a UTC+8 day opens at 16:00 UTC the day before; a UTC+5:45 hour at :15."""
    assert KlineInterval.parse(name, time_zone=time_zone).open_time_ms(MOMENT) == ms(opens)


def test_december_is_followed_by_january() -> None:
    month = KlineInterval.parse("1M", time_zone="8")
    december = month.open_time_ms(ms("2021-12-15T00:00"))

    assert december == ms("2021-11-30T16:00")
    assert month.next_open_ms(december) == ms("2021-12-31T16:00")


@given(
    name=st.sampled_from(INTERVAL_NAMES),
    time_ms=st.integers(min_value=ms("2017-01-01T00:00"), max_value=ms("2030-01-01T00:00")),
    offset_minutes=st.integers(min_value=-12 * 60, max_value=14 * 60),
)
def test_a_moment_lies_in_the_kline_its_open_time_names(name: str, time_ms: int, offset_minutes: int) -> None:
    sign = "-" if offset_minutes < 0 else "+"
    time_zone = f"{sign}{abs(offset_minutes) // 60}:{abs(offset_minutes) % 60:02d}"
    interval = KlineInterval.parse(name, time_zone=time_zone)

    open_ms = interval.open_time_ms(time_ms)
    next_open_ms = interval.next_open_ms(open_ms)

    assert open_ms <= time_ms < next_open_ms
    assert interval.open_time_ms(next_open_ms) == next_open_ms
    assert interval.open_time_ms(next_open_ms - 1) == open_ms
    if name in FIXED_INTERVALS_MS:
        assert next_open_ms - open_ms == FIXED_INTERVALS_MS[name]


def test_first_open_at_or_after_a_moment() -> None:
    hour = KlineInterval.parse("1h")

    assert hour.first_open_at_or_after_ms(ms("2021-04-21T13:00")) == ms("2021-04-21T13:00")
    assert hour.first_open_at_or_after_ms(ms("2021-04-21T13:00") + 1) == ms("2021-04-21T14:00")


@pytest.mark.parametrize("name", ["1s", "3d", "1H", "60m", "", "1mo"])
def test_intervals_not_served_are_unknown(name: str) -> None:
    with pytest.raises(UnknownIntervalError):
        KlineInterval.parse(name)


@pytest.mark.parametrize(
    ("text", "offset_minutes"),
    [("0", 0), ("8", 480), ("+8", 480), ("08:00", 480), ("-1:00", -60), ("05:45", 345), ("14:00", 840), ("-12:00", -720)],
)
def test_time_zone_offsets(text: str, offset_minutes: int) -> None:
    assert time_zone_offset_ms(text) == offset_minutes * 60_000


@pytest.mark.parametrize("text", ["14:01", "-12:30", "15", "8:60", "8:5", "UTC", "", "+", "8:00:00", " 8", "123"])
def test_malformed_or_out_of_range_time_zones_are_refused(text: str) -> None:
    """Accepted: ``[+|-]H[H][:MM]`` within [-12:00, +14:00] inclusive (Binance spot REST docs)."""
    with pytest.raises(InvalidTimeZoneError):
        time_zone_offset_ms(text)
