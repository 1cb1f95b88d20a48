"""Downsampling from the rollups: the chart buckets fit the rollup grid, and reading a rollup level gives exactly what
the raw rows give on the same buckets — each bucket's lowest and highest row plus the latest row, checked against a
reference computed in pandas (each bucket's extreme rows — lowest and highest equity, deepest drawdown — plus the
latest row)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage import downsample, rollups
from storage.downsample import Grid, choose_grid
from storage.recorder import Recorder
from storage.rollups import LEVELS_S

T0 = datetime(2024, 1, 1, tzinfo=UTC)
US = 1_000_000
CURVE = (
    "s.ts AS ts, s.equity AS equity, s.drawdown_pct AS drawdown_pct, s.realised_pnl AS realised_pnl, "
    "s.recorded_at AS recorded_at"
)


@given(
    first_us=st.integers(min_value=1_483_228_800 * US, max_value=1_893_456_000 * US),  # 2017 .. 2030
    span_us=st.integers(min_value=0, max_value=20 * 365 * 86_400 * US),
    buckets=st.integers(min_value=1, max_value=5_000),
)
def test_the_grid_has_at_most_the_buckets_asked_for_aligned_to_the_level_it_reads(first_us, span_us, buckets) -> None:
    last_us = first_us + span_us
    grid = choose_grid(first_us, last_us, buckets=buckets)

    count = (last_us - grid.origin_us) // grid.width_us + 1
    assert count <= buckets
    assert grid.origin_us <= first_us < grid.origin_us + grid.width_us
    coarser = [w for w in LEVELS_S if w > grid.level_s]
    assert all(span_us + 1 < 2 * w * US * buckets for w in coarser), "a coarser level would have done"
    if grid.level_s:
        step = grid.level_s * US
        assert grid.origin_us % step == 0 and grid.width_us % step == 0
        assert span_us + 1 >= 2 * step * buckets
        assert 3 * count >= 2 * buckets


def test_a_grid_needs_a_bucket_and_an_ordered_span() -> None:
    with pytest.raises(ValueError, match="buckets >= 1"):
        choose_grid(0, 1, buckets=0)
    with pytest.raises(ValueError, match="first <= last"):
        choose_grid(2, 1, buckets=3)


@pytest.fixture
def series(store, rows) -> None:
    """40 days of equity snapshots (sparse, a dense hour, equal values, spikes and dips, a drawdown drawn
    independently of the equity, as when the peak moves within a bucket) and of two symbols' candles, written
    through the Recorder in flushes of 700 rows; the rollups summarise the first 2,100 of each and the rest is their
    tail."""
    rng = random.Random(4)
    minutes = sorted(rng.uniform(0, 40 * 1440) for _ in range(1_500)) + [600 + i / 30 for i in range(1_500)]
    rng.shuffle(minutes)
    recorder = Recorder(store, summarise_every_rows=2_000)
    for start in range(0, len(minutes), 700):
        for m in minutes[start : start + 700]:
            spike = Decimal(rng.choice([0] * 30 + [900, -900]))
            equity = Decimal(rng.choice([10_000, 10_001, 10_002])) + spike
            drawdown = float(rng.choice([0, 1, 2] * 10 + [40]))
            recorder.record("equity", rows.equity(m, equity=equity, drawdown_pct=drawdown, realised_pnl=Decimal(rng.randint(0, 99))))
            symbol, close = rng.choice(["BTCUSDT", "ETHUSDT"]), float(rng.choice([100, 101, 5, 700]))
            recorder.record("candles", rows.candle(int(m), symbol=symbol, close=close))
        recorder.flush()
    cur = store.cursor()
    for rollup in rollups.ROLLUPS:
        assert cur.sql(f"SELECT count(*) FROM ({rollup.tail_sql()})").fetchall() == [(900,)]


def _equity_reference(cur, grid: Grid) -> pd.DataFrame:
    """Per bucket of ``grid``, the rows of lowest and highest (equity, ts, recorded_at) and of highest
    (drawdown_pct, ts, recorded_at), plus the latest by (ts, recorded_at), each once, ascending — in pandas, from the
    raw rows."""
    raw = cur.sql("SELECT epoch_us(ts) AS at_us, ts, equity::DOUBLE AS equity, drawdown_pct, "
                  "realised_pnl::DOUBLE AS realised_pnl, equity AS exact, recorded_at FROM equity").df()
    raw["bucket"] = (raw["at_us"] - grid.origin_us) // grid.width_us
    by_equity = raw.sort_values(["exact", "ts", "recorded_at"], kind="stable").groupby("bucket")
    by_drawdown = raw.sort_values(["drawdown_pct", "ts", "recorded_at"], kind="stable").groupby("bucket")
    kept = pd.concat([
        by_equity.head(1), by_equity.tail(1), by_drawdown.tail(1), raw.sort_values(["ts", "recorded_at"]).tail(1),
    ]).drop_duplicates("recorded_at").sort_values(["ts", "recorded_at"])
    return kept[["ts", "equity", "drawdown_pct", "realised_pnl", "recorded_at"]].reset_index(drop=True)


@pytest.mark.parametrize(("buckets", "level_s"), [(40, 21_600), (200, 3_600), (500, 600)])
@pytest.mark.usefixtures("series")
def test_a_rollup_level_gives_exactly_the_raw_rows_result_on_the_same_buckets(cur, buckets, level_s) -> None:
    span = downsample.extent(cur, rollups.EQUITY)
    assert span.rows == 3_000 and span.first_us is not None and span.last_us is not None
    grid = choose_grid(span.first_us, span.last_us, buckets=buckets)
    assert grid.level_s == level_s

    from_rollup = downsample.downsampled(cur, rollups.EQUITY, grid, columns=CURVE)
    from_rows = downsample.downsampled(cur, rollups.EQUITY, Grid(0, grid.origin_us, grid.width_us), columns=CURVE)

    pd.testing.assert_frame_equal(from_rollup, from_rows)
    pd.testing.assert_frame_equal(from_rows, _equity_reference(cur, grid), check_dtype=False)
    assert {10_900.0, 9_100.0} <= set(from_rollup["equity"])  # spikes and dips survive
    assert 40.0 in set(from_rollup["drawdown_pct"])
    assert len(from_rollup) <= 3 * buckets + 1


@pytest.mark.usefixtures("series")
def test_a_short_span_is_read_from_the_rows_with_the_same_semantics(cur) -> None:
    """The dense hour alone: too short for a rollup level, so the raw rows are bucketed."""
    cur.execute("DELETE FROM equity WHERE ts NOT BETWEEN $a AND $b", {"a": T0 + timedelta(minutes=600), "b": T0 + timedelta(minutes=650)})
    [(first, last)] = cur.sql("SELECT epoch_us(min(ts)), epoch_us(max(ts)) FROM equity").fetchall()
    grid = choose_grid(first, last, buckets=50)
    assert grid.level_s == 0

    result = downsample.downsampled(cur, rollups.EQUITY, grid, columns=CURVE)

    pd.testing.assert_frame_equal(result, _equity_reference(cur, grid), check_dtype=False)


@pytest.mark.parametrize("buckets", [30, 600])
@pytest.mark.usefixtures("series")
def test_a_split_rollup_reads_one_series_exactly(cur, buckets) -> None:
    """``candle_rollup`` per symbol: one symbol's closes, the same from the rollup as from its rows."""
    span = downsample.extent(cur, rollups.CANDLES, "ETHUSDT")
    assert span.first_us is not None and span.last_us is not None
    grid = choose_grid(span.first_us, span.last_us, buckets=buckets)
    assert grid.level_s
    columns = "s.close_time AS ts, s.close AS close, s.recorded_at AS recorded_at"

    from_rollup = downsample.downsampled(cur, rollups.CANDLES, grid, columns=columns, series="ETHUSDT")
    from_rows = downsample.downsampled(cur, rollups.CANDLES, Grid(0, grid.origin_us, grid.width_us), columns=columns, series="ETHUSDT")

    pd.testing.assert_frame_equal(from_rollup, from_rows)
    eth = set(cur.sql("SELECT recorded_at FROM candles WHERE symbol = 'ETHUSDT'").df()["recorded_at"])
    assert set(from_rollup["recorded_at"]) <= eth
    assert {5.0, 700.0} <= set(from_rollup["close"])


def test_the_extent_of_an_empty_series_is_empty(cur) -> None:
    assert downsample.extent(cur, rollups.EQUITY) == downsample.Extent(0, None, None)
    assert downsample.extent(cur, rollups.CANDLES, "BTCUSDT") == downsample.Extent(0, None, None)
