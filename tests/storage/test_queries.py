"""Dashboard queries over hand-made rows: downsampling, daily P&L, open positions, newest rows, empty results."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from storage import downsample, queries, rollups
from storage.recorder import Recorder


def test_equity_curve_returns_every_point_up_to_max_points(cur, write, rows) -> None:
    write("equity", *(rows.equity(m, equity=Decimal(10_000 + m)) for m in (2, 0, 3, 1)))

    curve = queries.equity_curve(cur, max_points=4)

    assert list(curve.columns) == list(queries.EQUITY_CURVE_COLUMNS)
    assert curve["equity"].tolist() == [10_000.0, 10_001.0, 10_002.0, 10_003.0]
    assert curve["equity"].dtype == "float64" and curve["realised_pnl"].dtype == "float64"  # charts plot floats
    assert str(curve["ts"].dt.tz) == "UTC"


def test_equity_curve_downsampling_keeps_extremes_and_the_latest_point(cur, write, rows) -> None:
    snapshots = [rows.equity(m, equity=Decimal(10_000 + m % 7)) for m in range(5_000)]
    snapshots[1_234]["equity"] = Decimal(50_000)  # spike
    snapshots[3_210]["equity"] = Decimal(1)  # dip
    snapshots[-1]["equity"] = Decimal("10003.5")
    write("equity", *snapshots)

    curve = queries.equity_curve(cur, max_points=101)

    assert len(curve) <= 101
    assert curve["ts"].is_monotonic_increasing
    assert {50_000.0, 1.0} <= set(curve["equity"])
    last = curve.iloc[-1]
    assert (last["ts"], last["equity"]) == (pd.Timestamp(rows.at(4_999)), 10_003.5)


def test_equity_curve_keeps_the_deepest_drawdown_where_equity_is_no_extreme(cur, write, rows) -> None:
    """The peak rose within a bucket and the equity fell back to a middling value: that snapshot is the drawdown
    chart's dip, so it stays although neither its equity's low nor high would keep it."""
    snapshots = [rows.equity(m, equity=Decimal(10_000 + m % 7), drawdown_pct=(m % 7) / 10) for m in range(5_000)]
    snapshots[2_501] |= {"equity": Decimal(10_003), "peak_equity": Decimal(11_432), "drawdown_pct": 12.5}
    write("equity", *snapshots)

    curve = queries.equity_curve(cur, max_points=101)

    assert len(curve) <= 101
    assert curve["drawdown_pct"].max() == 12.5
    assert curve.loc[curve["drawdown_pct"].idxmax(), "ts"] == pd.Timestamp(rows.at(2_501))


def test_equity_curve_rejects_too_few_points(cur) -> None:
    """The equity curve keeps up to three snapshots a bucket and the latest."""
    with pytest.raises(ValueError, match="max_points must be at least 4"):
        queries.equity_curve(cur, max_points=3)


def test_recent_trades_are_newest_first_with_money_as_float(cur, write, rows) -> None:
    write("trades", *(rows.trade(m, pnl=Decimal(m) + Decimal("0.5")) for m in (10, 30, 20)))

    trades = queries.recent_trades(cur, limit=2)

    assert trades["pnl"].tolist() == [30.5, 20.5]
    assert trades["pnl"].dtype == "float64" and str(trades["exit_time"].dt.tz) == "UTC"


def test_recent_commands_are_newest_first(cur, write, rows) -> None:
    write("commands", rows.command(1, command="PAUSE"), rows.command(2, command="RESUME"))

    commands = queries.recent_commands(cur)

    assert commands["command"].tolist() == ["RESUME", "PAUSE"]
    assert list(commands.columns) == ["ts", "command", "actor", "reason", "result", "detail"]


def test_timestamps_come_back_in_utc_whatever_the_session_time_zone(cur, write, rows) -> None:
    write("commands", rows.command(1))
    cur.execute("SET TimeZone = 'Asia/Tokyo'")

    assert str(queries.recent_commands(cur)["ts"].dt.tz) == "UTC"
    assert queries.recent_commands(cur)["ts"].iloc[0] == pd.Timestamp(rows.at(1))


@pytest.mark.parametrize(
    ("query", "columns"),
    [
        (queries.equity_curve, list(queries.EQUITY_CURVE_COLUMNS)),
        (
            queries.recent_trades,
            ["symbol", "entry_time", "exit_time", "quantity", "entry_price", "exit_price", "fees", "pnl", "pnl_pct", "exit_reason"],
        ),
        (queries.recent_commands, ["ts", "command", "actor", "reason", "result", "detail"]),
        (queries.daily_pnl, list(queries.DAILY_PNL_COLUMNS)),
    ],
)
def test_empty_tables_give_empty_frames_with_the_right_columns(cur, query, columns) -> None:
    frame = query(cur)
    assert frame.empty and list(frame.columns) == columns


def test_limits_below_one_are_refused(cur) -> None:
    with pytest.raises(ValueError, match="limit must be at least 1"):
        queries.recent_trades(cur, limit=0)


def test_table_counts_cover_every_history_table(cur, write, rows) -> None:
    write("equity", rows.equity(1), rows.equity(2))
    write("candles", rows.candle(1))

    assert queries.table_counts(cur) == {
        "api_calls": 0,
        "breaker_events": 0,
        "candles": 1,
        "commands": 0,
        "equity": 2,
        "fills": 0,
        "gaps": 0,
        "orders": 0,
        "positions": 0,
        "rate_limit_samples": 0,
        "risk_denials": 0,
        "trades": 0,
        "ws_events": 0,
    }


T0 = datetime(2024, 1, 1, tzinfo=UTC)
"""Market time of minute 0, as in ``conftest.at``."""


def test_daily_pnl_is_last_equity_minus_the_days_first_baseline(cur, write, rows) -> None:
    """Days are cut at 00:00 UTC; a breaker reset re-basing day_start mid-day does not change the day's P&L."""
    day = 24 * 60
    write(
        "equity",
        rows.equity(1, equity=Decimal("10100"), day_start_equity=Decimal("10000")),
        rows.equity(600, equity=Decimal("9400"), day_start_equity=Decimal("9400")),  # reset re-based the baseline
        rows.equity(day - 1, equity=Decimal("9800.1"), day_start_equity=Decimal("9400")),
        rows.equity(day, equity=Decimal("9900.3"), day_start_equity=Decimal("9800.1")),
    )

    daily = queries.daily_pnl(cur)

    assert list(daily.columns) == list(queries.DAILY_PNL_COLUMNS)
    assert daily["day"].tolist() == [pd.Timestamp(T0), pd.Timestamp(T0 + timedelta(days=1))]
    # end − start is exact DECIMAL arithmetic in SQL, then converted to float for display
    assert daily["pnl"].tolist() == pytest.approx([-199.9, 100.2])
    assert daily["start_equity"].tolist() == pytest.approx([10_000.0, 9_800.1])
    assert daily["end_equity"].tolist() == pytest.approx([9_800.1, 9_900.3])
    assert (daily[["start_equity", "end_equity", "pnl", "pnl_pct"]].dtypes == "float64").all()
    assert daily["pnl_pct"].tolist() == pytest.approx([-1.999, 100.2 / 98.001])


def _random_equity(store, rows, *, days: int, count: int, seed: int) -> None:
    """``count`` snapshots at random minutes over ``days`` days, in random order (equity and drawdown random), written
    in three flushes: the rollup summarises the first two, the third is its tail."""
    rng = random.Random(seed)
    minutes = [rng.uniform(0, days * 1440) for _ in range(count)]
    snapshots = [
        rows.equity(m, equity=Decimal(rng.randint(9_000, 11_000)) + Decimal("0.00000001") * rng.randint(0, 9),
                    day_start_equity=Decimal(rng.randint(9_000, 11_000)), drawdown_pct=rng.uniform(0, 20))
        for m in minutes
    ]
    recorder = Recorder(store, summarise_every_rows=2 * (count // 3))
    for start in range(0, count, count // 3):
        recorder.record_many("equity", snapshots[start : start + count // 3])
        recorder.flush()


@pytest.mark.parametrize("max_points", [41, 601])
def test_equity_curve_from_the_rollup_equals_the_raw_rows_on_the_same_buckets(store, cur, rows, max_points) -> None:
    _random_equity(store, rows, days=30, count=3_000, seed=1)
    span = downsample.extent(cur, rollups.EQUITY)
    assert span.first_us is not None and span.last_us is not None
    grid = downsample.choose_grid(span.first_us, span.last_us, buckets=(max_points - 1) // 3)
    assert grid.level_s, "the curve should come from a rollup level"
    columns = ", ".join(f"s.{c} AS {c}" for c in queries.EQUITY_CURVE_COLUMNS)

    curve = queries.equity_curve(cur, max_points=max_points)

    raw = downsample.downsampled(cur, rollups.EQUITY, downsample.Grid(0, grid.origin_us, grid.width_us), columns=columns)
    pd.testing.assert_frame_equal(curve, raw)
    assert len(curve) <= max_points


def test_daily_pnl_from_the_rollup_equals_the_days_first_and_last_rows(store, cur, rows) -> None:
    """Many snapshots a day, recorded out of order: each day's first baseline and last equity, by (ts, recorded_at),
    from the rollup and its tail."""
    _random_equity(store, rows, days=5, count=1_500, seed=2)
    raw = cur.sql("SELECT ts, recorded_at, equity, day_start_equity FROM equity ORDER BY ts, recorded_at").df()
    days = raw.groupby(raw["ts"].dt.floor("D"))
    expected_start = days["day_start_equity"].first().astype(float).tolist()
    expected_end = days["equity"].last().astype(float).tolist()

    daily = queries.daily_pnl(cur)

    assert daily["day"].tolist() == list(days.groups)
    assert daily["start_equity"].tolist() == expected_start
    assert daily["end_equity"].tolist() == expected_end
