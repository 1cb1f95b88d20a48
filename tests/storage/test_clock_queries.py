"""The wall → market clock map read from the candles' two timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from storage.clock_queries import CLOCK_COLUMNS, clock_map
from storage.recorder import Recorder

WALL0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _record(store, rows, batches: list[tuple[float, list[float]]]) -> None:
    """Each batch: flushed at ``WALL0 + seconds``, holding candles that open at the given market minutes."""
    now = [WALL0]
    recorder = Recorder(store, clock=lambda: now[0])
    for seconds, minutes in batches:
        now[0] = WALL0 + timedelta(seconds=seconds)
        for minute in minutes:
            recorder.record("candles", rows.candle(minute))
        recorder.flush()


def test_each_wall_time_maps_to_the_newest_close_recorded_by_then(store, cur, rows) -> None:
    """One candle per wall second (speed 60); a backfill of older minutes at 3 s does not move the clock back."""
    _record(store, rows, [(0, [0]), (1, [1]), (2, [2]), (3, [-5, -4]), (4, [3])])

    clock = clock_map(cur, max_points=100)

    assert list(clock.columns) == list(CLOCK_COLUMNS)
    assert clock["wall"].is_monotonic_increasing and clock["market"].is_monotonic_increasing
    close = {m: pd.Timestamp(rows.at(m + 1) - timedelta(milliseconds=1)) for m in range(4)}
    assert clock["market"].drop_duplicates().tolist() == [close[0], close[1], close[2], close[3]]
    backfilled = clock[(clock["wall"] >= WALL0 + timedelta(seconds=3)) & (clock["wall"] < WALL0 + timedelta(seconds=4))]
    assert not backfilled.empty and set(backfilled["market"]) == {close[2]}


def test_long_histories_are_bounded(store, cur, rows) -> None:
    _record(store, rows, [(s, [s]) for s in range(300)])

    clock = clock_map(cur, max_points=50)

    assert 2 <= len(clock) <= 50
    assert clock["market"].iloc[-1] == pd.Timestamp(rows.at(300) - timedelta(milliseconds=1))


def test_empty_before_the_first_candle(cur) -> None:
    assert clock_map(cur).empty


def test_fewer_than_two_points_are_refused(cur) -> None:
    with pytest.raises(ValueError, match="max_points must be at least 2"):
        clock_map(cur, max_points=1)
