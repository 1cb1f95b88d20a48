"""Breaker trips and resets, price shocks and fault windows placed on market time."""

from __future__ import annotations

import pandas as pd

from dashboard.market_events import EVENT_COLUMNS, market_events

W = pd.Timestamp("2026-03-01 12:00", tz="UTC")
M = pd.Timestamp("2021-04-22 18:00", tz="UTC")
CLOCK = pd.DataFrame({"wall": [W, W + pd.Timedelta(seconds=100)], "market": [M, M + pd.Timedelta(minutes=100)]})


def _commands(*rows: tuple[int, str, str, str]) -> pd.DataFrame:
    """(wall second, command, result, detail) rows, newest first as the audit log returns them."""
    frame = pd.DataFrame(
        [{"ts": W + pd.Timedelta(seconds=s), "command": c, "actor": "dashboard", "reason": "", "result": r, "detail": d}
         for s, c, r, d in rows],
        columns=["ts", "command", "actor", "reason", "result", "detail"],
    )
    return frame.iloc[::-1].reset_index(drop=True)


BREAKER = pd.DataFrame({
    "ts": [M + pd.Timedelta(minutes=30), M + pd.Timedelta(minutes=20), M + pd.Timedelta(minutes=10)],
    "kind": ["BreakerReset", "BreakerTripped", "WarningTriggered"],
    "reason": ["feed checked", "daily loss 5.10 % >= 5 %", "daily loss 3 %"],
    "actor": ["ops", "breaker", "breaker"],
    "recorded_at": [W + pd.Timedelta(seconds=31), W + pd.Timedelta(seconds=20), W + pd.Timedelta(seconds=10)],
})


def test_trips_resets_shocks_and_fault_windows_on_market_time() -> None:
    commands = _commands(
        (5, "SET_FAULTS", "OK", "faults: rest_429_storm=True, rest_delay_ms=0"),
        (8, "PRICE_SHOCK", "OK", "price shock 50 % over 1 candle(s) from 2021-04-22 18:09 UTC"),
        (9, "PRICE_SHOCK", "REFUSED", "not applied"),
        (12, "SET_FAULTS", "OK", "faults: ws_stall=True"),
        (15, "SET_FAULTS", "OK", "faults: rest_429_storm=False"),
        (40, "RESET_FAULTS", "OK", "every fault off"),
        (50, "SET_FAULTS", "OK", "faults: rest_5xx_rate=0.5"),
    )

    events = market_events(BREAKER, commands, CLOCK)

    assert list(events.columns) == list(EVENT_COLUMNS)
    rows = [(e["kind"], e["label"], e["start"] - M, None if pd.isna(e["end"]) else e["end"] - M) for e in events.to_dict("records")]
    minute = pd.Timedelta(minutes=1)
    assert rows == [
        ("fault", "REST 429 storm", 5 * minute, 15 * minute),
        ("shock", "shock", 8 * minute, None),
        ("fault", "Stream stall", 12 * minute, 40 * minute),
        ("trip", "TRIPPED", 20 * minute, None),
        ("reset", "reset", 30 * minute, None),
        ("fault", "REST 5xx rate", 50 * minute, None),  # still on: drawn to the chart's end
    ]
    shock = events[events["kind"] == "shock"].iloc[0]
    assert shock["detail"] == "price shock 50 % over 1 candle(s)" and shock["wall"] == W + pd.Timedelta(seconds=8)
    trip = events[events["kind"] == "trip"].iloc[0]
    assert trip["detail"] == "breaker tripped: daily loss 5.10 % >= 5 %" and trip["wall"] == W + pd.Timedelta(seconds=20)


def test_nothing_happened_is_an_empty_frame() -> None:
    events = market_events(BREAKER.iloc[:0], _commands(), CLOCK)
    assert events.empty and list(events.columns) == list(EVENT_COLUMNS)
