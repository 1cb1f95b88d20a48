"""Time units: what a client may ask for, and timestamp parameters sent in ms or µs."""

from __future__ import annotations

import pytest

from simulator.time_unit import InvalidTimeUnitError, TimeUnit, timestamp_param_ms


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        (None, TimeUnit.MILLISECOND),
        ("MILLISECOND", TimeUnit.MILLISECOND),
        ("millisecond", TimeUnit.MILLISECOND),
        ("MICROSECOND", TimeUnit.MICROSECOND),
        ("microsecond", TimeUnit.MICROSECOND),
    ],
)
def test_the_documented_spellings_name_a_unit(text: str | None, unit: TimeUnit) -> None:
    assert TimeUnit.parse(text) is unit


@pytest.mark.parametrize("text", ["Microsecond", "MICROSECONDS", "us", ""])
def test_other_spellings_are_refused(text: str) -> None:
    with pytest.raises(InvalidTimeUnitError):
        TimeUnit.parse(text)


def test_a_close_time_is_the_last_microsecond_of_its_millisecond() -> None:
    assert TimeUnit.MICROSECOND.stamp(1_619_011_320_000) == 1_619_011_320_000_000
    assert TimeUnit.MICROSECOND.end_stamp(1_619_011_379_999) == 1_619_011_379_999_999
    assert TimeUnit.MILLISECOND.end_stamp(1_619_011_379_999) == 1_619_011_379_999


@pytest.mark.parametrize(
    ("value", "round_up", "expected_ms"),
    [
        (1_619_011_320_000, True, 1_619_011_320_000),
        (1_619_011_320_000_000, True, 1_619_011_320_000),
        (1_619_011_320_000_001, True, 1_619_011_320_001),
        (1_619_011_320_000_999, False, 1_619_011_320_000),
        (0, False, 0),
    ],
)
def test_microsecond_parameters_are_rounded_to_keep_the_bound(value: int, round_up: bool, expected_ms: int) -> None:
    """A lower bound (``startTime``) rounds up, an upper bound (``endTime``) down: no kline outside the µs range."""
    assert timestamp_param_ms(value, round_up=round_up) == expected_ms
