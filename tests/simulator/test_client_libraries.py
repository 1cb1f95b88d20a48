"""Real, unmodified Binance client libraries against the simulator over loopback, nothing changed but base URLs.

- the official ``binance-connector``: ``binance.spot.Spot(base_url=<rest url>)`` and
  ``SpotWebsocketStreamClient(stream_url=<ws url>)``;
- ``ccxt`` / ``ccxt.pro`` ``binance``: ``urls.api.public = <rest url>/api/v3``, ``urls.api.ws.spot = <ws url>/ws``,
  and ``options.fetchMarkets.types = ["spot"]`` (otherwise ``load_markets`` also asks the futures hosts, which a
  spot exchange does not have).

The market's clock is frozen until a test advances it, so every kline a test compares was served at one market
time; waits are for messages that are certain to come, with timeouts that only bound a failure.
"""

from __future__ import annotations

import asyncio
import json
import queue
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import ccxt
import ccxt.pro
import httpx
import pytest
from binance.error import ClientError
from binance.spot import Spot
from binance.websocket.spot.websocket_stream import SpotWebsocketStreamClient

from simulator.market import Market
from simulator.server import SimulatorServer
from tests.simulator.conftest import FakeClock

WAIT_S = 10.0


@pytest.fixture
def server(market: Market) -> Iterator[SimulatorServer]:
    with SimulatorServer(market, update_interval_ms=20) as running:
        yield running


def rest_klines(server: SimulatorServer, **params: Any) -> list[list[Any]]:
    """The simulator's own REST rows (httpx), to compare what a library made of them."""
    return httpx.get(f"{server.rest_url}/api/v3/klines", params=params).json()


def switch_faults(server: SimulatorServer, **switches: Any) -> None:
    """Switch faults through the simulator's control API, as a test harness or the dashboard does."""
    httpx.post(f"{server.rest_url}/_sim/faults", json=switches).raise_for_status()


def as_ohlcv(row: list[Any]) -> list[float]:
    """A REST row as ccxt's OHLCV: open time, then open, high, low, close, volume as floats."""
    return [row[0], *(float(x) for x in row[1:6])]


def row_of(event: dict[str, Any]) -> list[Any]:
    k = event["k"]
    return [k["t"], k["o"], k["h"], k["l"], k["c"], k["v"], k["T"], k["q"], k["n"], k["V"], k["Q"], "0"]


# ------------------------------------------------------------------------------------------ binance-connector, REST
def test_connector_market_data_calls(server: SimulatorServer, market: Market) -> None:
    spot = Spot(base_url=server.rest_url)

    assert spot.ping() == {}
    assert spot.time() == {"serverTime": market.now_ms()}
    info = spot.exchange_info(symbols=["BTCUSDT", "ETHUSDT"])
    assert [s["symbol"] for s in info["symbols"]] == ["BTCUSDT", "ETHUSDT"]
    for interval in ("1m", "1h"):
        rows = spot.klines("BTCUSDT", interval, limit=50)
        assert rows == rest_klines(server, symbol="BTCUSDT", interval=interval, limit=50)
        assert rows[-1][4] == spot.ticker_price("BTCUSDT")["price"]
    assert spot.ui_klines("ETHUSDT", "4h", limit=3) == rest_klines(server, symbol="ETHUSDT", interval="4h", limit=3)
    ticker = spot.ticker_24hr("BTCUSDT")
    book = spot.depth("BTCUSDT", limit=5)
    assert ticker["lastPrice"] == spot.ticker_price("BTCUSDT")["price"]
    assert (ticker["bidPrice"], ticker["askPrice"]) == (book["bids"][0][0], book["asks"][0][0])
    assert spot.book_ticker("BTCUSDT")["askQty"] == book["asks"][0][1]
    assert spot.avg_price("BTCUSDT")["mins"] == 5


@pytest.mark.parametrize(
    ("symbol", "code"), [("DOGEUSDT", -1121), ("btcusdt", -1100)], ids=["unknown", "lower-case"]
)
def test_connector_bad_symbol_raises_client_error_with_binances_code(
    server: SimulatorServer, symbol: str, code: int
) -> None:
    with pytest.raises(ClientError) as refused:
        Spot(base_url=server.rest_url).klines(symbol, "1h")

    assert (refused.value.status_code, refused.value.error_code) == (400, code)


def test_connector_429_and_418_raise_client_error_with_retry_after(server: SimulatorServer) -> None:
    spot = Spot(base_url=server.rest_url)
    switch_faults(server, rest_429_storm=True)
    with pytest.raises(ClientError) as limited:
        spot.time()
    switch_faults(server, rest_429_storm=False, rest_418_ban_s=120)
    with pytest.raises(ClientError) as banned:
        spot.time()

    assert (limited.value.status_code, limited.value.error_code) == (429, -1003)
    assert int(limited.value.header["Retry-After"]) > 0
    assert (banned.value.status_code, banned.value.error_code, banned.value.header["Retry-After"]) == (418, -1003, "120")
    assert banned.value.error_message.startswith("Way too much request weight used; IP banned until ")


def test_connector_time_unit_microsecond_gets_microsecond_times(server: SimulatorServer, market: Market) -> None:
    """The connector's ``time_unit`` sends ``X-MBX-TIME-UNIT``; the simulator answers in µs."""
    spot = Spot(base_url=server.rest_url, time_unit="MICROSECOND")

    row = spot.klines("BTCUSDT", "1h", limit=1)[0]

    assert spot.time() == {"serverTime": market.now_ms() * 1000}
    assert (row[0] % 3_600_000_000, row[6] % 1_000_000) == (0, 999_999)


# ------------------------------------------------------------------------------------- binance-connector, streams
def stream_client(server: SimulatorServer, *, is_combined: bool) -> tuple[SpotWebsocketStreamClient, queue.Queue]:
    received: queue.Queue[dict[str, Any]] = queue.Queue()
    client = SpotWebsocketStreamClient(
        stream_url=server.ws_url, on_message=lambda _, text: received.put(json.loads(text)), is_combined=is_combined
    )
    return client, received


def test_connector_stream_client_receives_1m_and_1h_klines_as_rest_serves_them(
    server: SimulatorServer, replay_clock: FakeClock
) -> None:
    """Raw ``/ws`` + SUBSCRIBE: the replies, each stream's kline in progress, then (30 s later) the minute's close."""
    client, received = stream_client(server, is_combined=False)
    try:
        client.kline(symbol="btcusdt", interval="1m", id=1)
        client.kline(symbol="btcusdt", interval="1h", id=2)
        first = [received.get(timeout=WAIT_S) for _ in range(4)]
        in_progress = {m["k"]["i"]: m for m in first if "k" in m}
        rest_now = {i: rest_klines(server, symbol="BTCUSDT", interval=i, limit=1)[0] for i in ("1m", "1h")}
        replay_clock.advance(0.5)
        later = [received.get(timeout=WAIT_S) for _ in range(3)]
    finally:
        client.stop()

    assert [m for m in first if "k" not in m] == [{"result": None, "id": 1}, {"result": None, "id": 2}]
    assert {i: (row_of(m), m["k"]["x"]) for i, m in in_progress.items()} == {
        i: (row, False) for i, row in rest_now.items()
    }
    closed = next(m for m in later if m["k"]["x"])
    assert (closed["k"]["i"], closed["k"]["t"]) == ("1m", rest_now["1m"][0])
    assert row_of(closed) == rest_klines(server, symbol="BTCUSDT", interval="1m", startTime=closed["k"]["t"], limit=1)[0]


def test_connector_combined_stream_client_gets_wrapped_payloads(server: SimulatorServer) -> None:
    client, received = stream_client(server, is_combined=True)
    try:
        client.kline(symbol="ethusdt", interval="15m", id=7)
        messages = [received.get(timeout=WAIT_S) for _ in range(2)]
    finally:
        client.stop()

    assert messages[0] == {"result": None, "id": 7}
    assert messages[1]["stream"] == "ethusdt@kline_15m"
    assert row_of(messages[1]["data"]) == rest_klines(server, symbol="ETHUSDT", interval="15m", limit=1)[0]


# --------------------------------------------------------------------------------------------------- ccxt, ccxt.pro
def ccxt_binance(server: SimulatorServer) -> ccxt.pro.binance:
    return ccxt.pro.binance(
        {
            "urls": {"api": {"public": f"{server.rest_url}/api/v3", "ws": {"spot": f"{server.ws_url}/ws"}}},
            "options": {"fetchMarkets": {"types": ["spot"]}},
        }
    )


def test_ccxt_load_markets_ohlcv_ticker_and_order_book(server: SimulatorServer, market: Market) -> None:
    async def calls() -> dict[str, Any]:
        exchange = ccxt_binance(server)
        try:
            return {
                "markets": await exchange.load_markets(),
                "1m": await exchange.fetch_ohlcv("BTC/USDT", "1m", limit=20),
                "1h": await exchange.fetch_ohlcv("BTC/USDT", "1h", limit=20),
                "ticker": await exchange.fetch_ticker("ETH/USDT"),
                "book": await exchange.fetch_order_book("ETH/USDT", limit=5),
            }
        finally:
            await exchange.close()

    answers = asyncio.run(calls())

    assert set(answers["markets"]) == {"BTC/USDT", "ETH/USDT"}
    precision = answers["markets"]["BTC/USDT"]["precision"]
    assert (precision["amount"], precision["price"]) == (1e-05, 0.01), "LOT_SIZE stepSize and PRICE_FILTER tickSize"
    assert answers["markets"]["BTC/USDT"]["limits"]["cost"]["min"] == 5.0
    for interval in ("1m", "1h"):
        rows = rest_klines(server, symbol="BTCUSDT", interval=interval, limit=20)
        assert answers[interval] == [as_ohlcv(row) for row in rows]
    assert answers["ticker"]["last"] == float(market.last_price("ETHUSDT"))
    assert answers["ticker"]["timestamp"] == market.now_ms()
    assert answers["ticker"]["bid"] == answers["book"]["bids"][0][0] < answers["book"]["asks"][0][0]
    assert len(answers["book"]["bids"]) == len(answers["book"]["asks"]) == 5


@pytest.mark.parametrize(
    ("symbol", "error"), [("DOGEUSDT", ccxt.BadSymbol), ("btcusdt", ccxt.BadRequest)], ids=["unknown", "lower-case"]
)
def test_ccxt_bad_symbol_raises_ccxts_exception_for_binances_code(
    server: SimulatorServer, symbol: str, error: type[Exception]
) -> None:
    """Through ccxt's implicit API (no client-side market check): -1121 is ``BadSymbol``, -1100 ``BadRequest``."""

    async def klines() -> Any:
        exchange = ccxt_binance(server)
        try:
            return await exchange.public_get_klines({"symbol": symbol, "interval": "1m"})
        finally:
            await exchange.close()

    with pytest.raises(error) as refused:
        asyncio.run(klines())

    assert type(refused.value) is error
    assert ('"code":-1121' if symbol == "DOGEUSDT" else '"code":-1100') in str(refused.value)


def test_ccxt_raises_ddos_protection_on_429(server: SimulatorServer) -> None:
    async def ticker() -> Any:
        exchange = ccxt_binance(server)
        try:
            await exchange.load_markets()
            switch_faults(server, rest_429_storm=True)
            return await exchange.fetch_ticker("BTC/USDT")
        finally:
            await exchange.close()

    with pytest.raises(ccxt.DDoSProtection) as limited:
        asyncio.run(ticker())

    assert " 429 " in str(limited.value) and '"code":-1003' in str(limited.value)


async def candles_until(exchange: ccxt.pro.binance, timeframe: str, open_ms: int) -> dict[int, list[float]]:
    """``watch_ohlcv`` updates by open time, until the candle opening at ``open_ms`` has come."""
    seen: dict[int, list[float]] = {}
    while open_ms not in seen:
        seen |= {candle[0]: candle for candle in await exchange.watch_ohlcv("BTC/USDT", timeframe)}
    return seen


def test_ccxt_pro_watch_ohlcv_1m_and_1h_follow_the_replay(
    server: SimulatorServer, market: Market, replay_clock: FakeClock
) -> None:
    """``watch_ohlcv`` opens ``/ws/<n>`` and subscribes; it gets the klines in progress, then, 30 s of market time
    later, the minute's close and the next minute (1m) and the hour so far (1h), each as REST serves it."""
    minute_open = market.now_ms() // 60_000 * 60_000

    async def watch() -> dict[str, Any]:
        exchange = ccxt_binance(server)
        try:
            first = {  # copied: ccxt hands out its cache, which later updates change in place
                "1m": [list(c) for c in await asyncio.wait_for(exchange.watch_ohlcv("BTC/USDT", "1m"), WAIT_S)],
                "1h": [list(c) for c in await asyncio.wait_for(exchange.watch_ohlcv("BTC/USDT", "1h"), WAIT_S)],
            }
            rest_first = {i: rest_klines(server, symbol="BTCUSDT", interval=i, limit=1) for i in first}
            hour = asyncio.create_task(exchange.watch_ohlcv("BTC/USDT", "1h"))
            minutes = asyncio.create_task(candles_until(exchange, "1m", minute_open + 60_000))
            await asyncio.sleep(0)  # both are now waiting for their stream's next message
            replay_clock.advance(0.5)
            later_1h, later_1m = await asyncio.wait_for(asyncio.gather(hour, minutes), WAIT_S)
            return {"first": first, "rest_first": rest_first, "later_1h": later_1h, "later_1m": later_1m}
        finally:
            await exchange.close()

    seen = asyncio.run(watch())

    assert seen["first"] == {i: [as_ohlcv(r) for r in rows] for i, rows in seen["rest_first"].items()}
    rest_1m = rest_klines(server, symbol="BTCUSDT", interval="1m", startTime=minute_open, limit=2)
    assert [seen["later_1m"][minute_open], seen["later_1m"][minute_open + 60_000]] == [as_ohlcv(r) for r in rest_1m]
    assert seen["later_1h"] == [as_ohlcv(r) for r in rest_klines(server, symbol="BTCUSDT", interval="1h", limit=1)]
    assert Decimal(str(seen["later_1h"][-1][4])) == market.last_price("BTCUSDT")
