"""Scripted price shocks: a linear fall over N candles that stays, the same in REST klines and in the streams.

Expectations are computed by hand: 8 % over 5 candles scales the candles by 0.984, 0.968, 0.952, 0.936, 0.92, then
0.92 for good; prices are rounded to the 0.01 tick.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from websockets.asyncio.client import connect

from simulator.kline import INTERVAL_MS, fmt8
from simulator.market import Market
from simulator.server import SimulatorServer
from simulator.shock import PriceShock

FACTORS = [Decimal(f) for f in ("1", "1", "0.984", "0.968", "0.952", "0.936", "0.92", "0.92", "0.92")]
"""Multipliers of the candles opening 2 minutes before the shock's start, 1 before, at the start, and after."""


@pytest.fixture
def fast_server() -> Iterator[SimulatorServer]:
    """Speed 6000: 100 candles per wall second."""
    with SimulatorServer(Market.replay(speed=6000.0), update_interval_ms=20) as running:
        yield running


def expected_closes(market: Market, symbol: str, start_ms: int) -> list[str]:
    dataset = market.dataset(symbol)
    first = dataset.index_at_or_after(start_ms - 2 * INTERVAL_MS)
    return [
        fmt8((Decimal(dataset.close[first + k]) * factor).quantize(Decimal("0.01")))
        for k, factor in enumerate(FACTORS)
    ]


def test_factor_ramps_linearly_then_stays() -> None:
    shock = PriceShock(start_ms=10 * INTERVAL_MS, pct=8, candles=5)

    assert [shock.factor(m * INTERVAL_MS) for m in range(8, 17)] == FACTORS


@pytest.mark.parametrize(
    ("pct", "candles", "error"),
    [(100, 5, "finite percentage below 100"), (float("nan"), 5, "finite percentage below 100"), (8, 0, "at least one candle")],
)
def test_impossible_shocks_are_refused(pct: float, candles: int, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        PriceShock(start_ms=0, pct=pct, candles=candles)


def test_shock_starts_at_the_next_candle_for_every_symbol_in_klines_and_last_price(
    market: Market, replay_clock
) -> None:
    shock = market.shock(pct=8, candles=5)
    replay_clock.advance(10.0)  # 10 candles at speed 60

    assert shock.start_ms == (market.now_ms() // INTERVAL_MS - 10 + 1) * INTERVAL_MS
    for symbol in market.symbols:
        rows = market.klines(symbol, start_ms=shock.start_ms - 2 * INTERVAL_MS, limit=len(FACTORS))
        assert [fmt8(c.close) for c in rows] == expected_closes(market, symbol, shock.start_ms), symbol
        assert all(c.low <= min(c.open, c.close) and c.high >= max(c.open, c.close) for c in rows)
    replay_clock.advance(100.0)
    index = market.dataset("BTCUSDT").index_after(market.now_ms()) - 1
    in_progress = market.klines("BTCUSDT", limit=1)[0]
    assert in_progress.open == (Decimal(market.dataset("BTCUSDT").open[index]) * Decimal("0.92")).quantize(
        Decimal("0.01")
    )
    assert market.last_price("BTCUSDT") == in_progress.close


def test_rest_and_stream_show_the_same_shocked_closes(fast_server: SimulatorServer) -> None:
    async def shock_while_streaming() -> tuple[int, dict[int, str]]:
        closes: dict[int, str] = {}
        async with connect(f"{fast_server.ws_url}/ws/btcusdt@kline_1m") as ws:
            await ws.recv()
            async with httpx.AsyncClient() as client:
                response = await client.post(f"{fast_server.rest_url}/_sim/shock", json={"pct": 8, "candles": 5})
            start_ms = response.json()["start_ms"]
            while start_ms + 7 * INTERVAL_MS not in closes:
                kline = json.loads(await asyncio.wait_for(ws.recv(), timeout=2.0))["k"]
                if kline["x"]:
                    closes[kline["t"]] = kline["c"]
        return start_ms, closes

    start_ms, streamed = asyncio.run(shock_while_streaming())
    rows = httpx.get(
        f"{fast_server.rest_url}/api/v3/klines",
        params={"symbol": "BTCUSDT", "interval": "1m", "startTime": start_ms - 2 * INTERVAL_MS, "limit": 9},
    ).json()

    expected = expected_closes(fast_server.market, "BTCUSDT", start_ms)
    assert [row[4] for row in rows] == expected
    assert all(row[0] in streamed for row in rows[2:])  # the two before the shock may predate the connection
    assert [streamed.get(row[0], row[4]) for row in rows] == expected
