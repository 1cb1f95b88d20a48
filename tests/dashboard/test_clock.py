"""Wall times placed on market time through the engine's clock map."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from dashboard.clock import on_market_time, present, to_market, utc_text
from engine.sinks.status import EngineState, EngineStatus

W = pd.Timestamp("2026-03-01 12:00", tz="UTC")
M = pd.Timestamp("2021-04-22 18:00", tz="UTC")
CLOCK = pd.DataFrame({"wall": [W, W + pd.Timedelta(seconds=10)], "market": [M, M + pd.Timedelta(minutes=10)]})


def test_wall_times_are_interpolated_on_the_map_and_held_beyond_it() -> None:
    """Speed 60: 5 wall seconds after the first point are 5 market minutes after it; before the map, its start."""
    wall = pd.Series([W + pd.Timedelta(seconds=5), W - pd.Timedelta(hours=1), pd.NaT, W + pd.Timedelta(hours=1)])

    market = to_market(wall, CLOCK)

    assert market.iloc[0] == M + pd.Timedelta(minutes=5)
    assert market.iloc[1] == M
    assert pd.isna(market.iloc[2])
    assert market.iloc[3] == M + pd.Timedelta(minutes=10)


def test_now_extends_the_map_to_the_present() -> None:
    """The engine reports market time M + 12 min at wall W + 20 s: a command at W + 15 s lands at M + 11 min."""
    now = ((W + pd.Timedelta(seconds=20)).to_pydatetime(), (M + pd.Timedelta(minutes=12)).to_pydatetime())

    market = to_market(pd.Series([W + pd.Timedelta(seconds=15)]), CLOCK, now=now)

    assert market.iloc[0] == M + pd.Timedelta(minutes=11)


def test_without_a_map_nothing_can_be_placed() -> None:
    empty = pd.DataFrame({"wall": pd.Series(dtype="datetime64[ns, UTC]"), "market": pd.Series(dtype="datetime64[ns, UTC]")})
    assert to_market(pd.Series([W]), empty).isna().all()
    assert to_market(pd.Series([W]), empty, now=(W.to_pydatetime(), M.to_pydatetime())).iloc[0] == M


def test_on_market_time_adds_columns_and_present_reads_the_status() -> None:
    frame = on_market_time(pd.DataFrame({"ts": [W]}), CLOCK, {"ts": "market"})
    assert list(frame.columns) == ["ts", "market"] and frame["market"].iloc[0] == M

    status = EngineStatus(state=EngineState.RUNNING, venue="sim", market_time_ms=1_619_114_400_000)
    wall = datetime(2026, 3, 1, tzinfo=UTC)
    assert present(status, wall=wall) == (wall, datetime(2021, 4, 22, 18, 0, tzinfo=UTC))
    assert present(EngineStatus(state=EngineState.STARTING, venue="sim")) is None
    assert utc_text(M) == "2021-04-22 18:00:00 UTC" and utc_text(None) == "—" and utc_text(pd.NaT) == "—"
