"""Time mode ``now``: the bundled data moved forward by whole days to today, and a simulator whose server time is the
wall clock — so that "the last hour" of klines is the last hour, candle for candle the data's."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest

from simulator.dataset import load_candles
from simulator.market import DAY_MS, Market, shifted_to_now
from simulator.replay import ReplayClock
from simulator.server import SimulatorServer

MINUTE_MS = 60_000
START_MS = int(datetime(2021, 4, 22, 18, 5, tzinfo=UTC).timestamp() * 1000)  # sim.start's default
NOW_MS = int(datetime(2026, 11, 30, 9, 30, 15, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture(scope="module")
def datasets() -> dict:
    return {s: load_candles(s) for s in ("BTCUSDT", "ETHUSDT")}


def test_the_data_moves_by_whole_days_to_the_minute_of_the_day_now_is_at(datasets: dict) -> None:
    shifted, offset_ms = shifted_to_now(datasets, start_ms=START_MS, now_ms=NOW_MS)

    assert offset_ms % DAY_MS == 0
    played_ms = NOW_MS - offset_ms  # the data time playing now: 2021-04-23 09:30:15, within a day after the start
    assert START_MS <= played_ms < START_MS + DAY_MS
    assert datetime.fromtimestamp(played_ms / 1000, tz=UTC) == datetime(2021, 4, 23, 9, 30, 15, tzinfo=UTC)
    for symbol, ds in datasets.items():
        moved = shifted[symbol]
        assert [t - offset_ms for t in moved.open_time_ms] == list(ds.open_time_ms)
        i = ds.index_at_or_after(played_ms - 30 * MINUTE_MS)
        assert moved.candle(i) == replace(ds.candle(i), open_time_ms=ds.open_time_ms[i] + offset_ms)  # trade ids too


def test_data_that_does_not_reach_a_day_past_the_start_is_refused(datasets: dict) -> None:
    start_ms = min(ds.end_ms for ds in datasets.values()) - 3 * 3_600_000  # three hours before the data ends

    with pytest.raises(ValueError, match="time mode now needs the data to reach a day past the replay's start"):
        shifted_to_now(datasets, start_ms=start_ms, now_ms=start_ms + 400 * DAY_MS + 20 * 3_600_000)  # 20:00 after it


def test_a_simulator_in_time_mode_now_serves_the_last_hour_at_the_wall_clock(datasets: dict) -> None:
    now_ms = int(time.time() * 1000)
    shifted, offset_ms = shifted_to_now(datasets, start_ms=START_MS, now_ms=now_ms)
    with SimulatorServer(Market(shifted, clock=ReplayClock(now_ms, 1.0))) as server, httpx.Client(base_url=server.rest_url) as client:
        asked_ms = int(time.time() * 1000)
        server_ms = client.get("/api/v3/time").json()["serverTime"]
        hour = client.get("/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1m", "startTime": asked_ms - 3_600_000}).json()
        answered_ms = int(time.time() * 1000)

    assert asked_ms - 1_000 <= server_ms <= answered_ms + 1_000  # the wall clock
    opens = [row[0] for row in hour]
    assert opens[-1] == answered_ms // MINUTE_MS * MINUTE_MS or opens[-1] == asked_ms // MINUTE_MS * MINUTE_MS  # in progress
    assert len(opens) == 60 or len(opens) == 61
    assert opens == list(range(opens[0], opens[-1] + 1, MINUTE_MS))
    original = datasets["BTCUSDT"]
    for row in hour[:-1]:  # closed: the data's candle of that minute, whole days earlier, value for value
        i = original.index_at_or_after(row[0] - offset_ms)
        assert original.open_time_ms[i] == row[0] - offset_ms
        candle = original.candle(i)
        assert [row[1], row[2], row[3], row[4]] == [f"{p:.8f}" for p in (candle.open, candle.high, candle.low, candle.close)]
