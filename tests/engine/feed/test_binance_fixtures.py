"""Our parsers and REST client accept Binance payloads in their documented formats (``fixtures/binance/``, written
from the Binance spot REST and WebSocket Streams docs; see its README). The REST client is driven through
``httpx.MockTransport`` serving the fixtures, with the real guards and a recording ``sleep``."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.core.filters import parse_exchange_info
from engine.errors import HostBanned, HTTPStatusError
from engine.feed.klines import parse_rest_kline
from engine.feed.rest import BinanceRestClient
from engine.feed.stream_events import KlineEvent, Reply, decode
from engine.guards.retry import RetryAttempt

FIXTURES = Path(__file__).parent / "fixtures" / "binance"
BASE_URL = "https://data-api.binance.vision"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def raw(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


ROUTES = {
    "/api/v3/time": "time.json",
    "/api/v3/exchangeInfo": "exchange_info_btcusdt_ethusdt.json",
    "/api/v3/klines": "klines_btcusdt_1m.json",
}


def binance(request: httpx.Request) -> httpx.Response:
    """Serves the fixtures like data-api.binance.vision: 200 with ``X-MBX-USED-WEIGHT-1M``; an unknown symbol → 400 -1121."""
    if request.url.params.get("symbol", "BTCUSDT") != "BTCUSDT":
        return httpx.Response(400, json=fixture("error_-1121_invalid_symbol.json"), headers={"X-MBX-USED-WEIGHT-1M": "3"})
    return httpx.Response(200, json=fixture(ROUTES[request.url.path]), headers={"X-MBX-USED-WEIGHT-1M": "23"})


class Waits(list[float]):
    """An async ``sleep`` that records each delay and moves :attr:`now_s` (the guards' clock) by it."""

    def __init__(self) -> None:
        super().__init__()
        self.now_s = 1000.0

    def clock(self) -> float:
        return self.now_s

    async def __call__(self, delay_s: float) -> None:
        self.append(delay_s)
        self.now_s += delay_s


def client(handler: Any, waits: Waits, attempts: list[RetryAttempt] | None = None) -> BinanceRestClient:
    return BinanceRestClient(
        BASE_URL,
        transport=httpx.MockTransport(handler),
        sleep=waits,
        clock=waits.clock,
        on_attempt=None if attempts is None else attempts.append,
    )


# ---------------------------------------------------------------------------------------------- parsers
def test_exchange_info_fixture_gives_the_filters_of_both_symbols() -> None:
    filters = parse_exchange_info(fixture("exchange_info_btcusdt_ethusdt.json"))

    btc, eth = filters["BTCUSDT"], filters["ETHUSDT"]
    assert (btc.base_asset, btc.quote_asset) == ("BTC", "USDT")
    expected = (Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"), Decimal("9000"))
    assert (btc.tick_size, btc.step_size, btc.min_qty, btc.max_qty) == expected
    assert btc.min_notional == Decimal("5")
    assert (eth.step_size, eth.min_qty) == (Decimal("0.0001"), Decimal("0.0001"))


def test_exchange_info_fixture_documents_request_weight_6000_per_minute() -> None:
    limits = fixture("exchange_info_btcusdt_ethusdt.json")["rateLimits"]

    assert {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000} in limits


def test_kline_rows_fixture_parses_with_closed_from_server_time() -> None:
    rows = fixture("klines_btcusdt_1m.json")
    server_time_ms = rows[1][6] + 1  # the third candle is still open

    candles = [parse_rest_kline("BTCUSDT", row, server_time_ms=server_time_ms) for row in rows]

    assert all(len(row) == 12 for row in rows)
    assert [c.closed for c in candles] == [True, True, False]
    first = candles[0]
    assert (first.open_time_ms, first.close_time_ms) == (1_700_000_040_000, 1_700_000_099_999)
    assert (first.open, first.high, first.low, first.close, first.volume) == (
        Decimal("36550.01"), Decimal("36561.99"), Decimal("36540"), Decimal("36555.55"), Decimal("12.34567"),
    )


@pytest.mark.parametrize(("name", "closed"), [("stream_kline_btcusdt_1m_open.json", False), ("stream_kline_btcusdt_1m_closed.json", True)])
def test_combined_stream_kline_fixtures_decode(name: str, closed: bool) -> None:
    event = decode(raw(name))

    assert isinstance(event, KlineEvent)
    assert (event.candle.symbol, event.candle.closed, event.candle.open_time_ms) == ("BTCUSDT", closed, 1_700_000_220_000)
    assert event.candle.close_time_ms == 1_700_000_279_999
    assert event.event_time_ms == fixture(name)["data"]["E"]


def test_stream_reply_fixtures_decode() -> None:
    assert decode(raw("stream_subscribe_reply.json")) == Reply(1, "")
    assert decode(raw("stream_error_reply.json")) == Reply(2, "code 2: Invalid request: unknown variable")


# ---------------------------------------------------------------------------------------------- the REST client
def test_rest_client_reads_time_exchange_info_and_klines_from_the_fixtures() -> None:
    waits = Waits()

    async def main() -> tuple[int, dict[str, Any], list[Any], int | None]:
        rest = client(binance, waits)
        try:
            now = await rest.server_time_ms()
            info = await rest.exchange_info(("BTCUSDT", "ETHUSDT"))
            candles = await rest.klines("BTCUSDT", "1m", limit=3, server_time_ms=now)
            return now, info, candles, rest.used_weight_1m
        finally:
            await rest.aclose()

    now, info, candles, used = asyncio.run(main())

    assert now == 1_700_000_230_000
    assert set(parse_exchange_info(info)) == {"BTCUSDT", "ETHUSDT"}
    assert [c.closed for c in candles] == [True, True, True]
    assert used == 23  # synced from X-MBX-USED-WEIGHT-1M
    assert waits == []


def test_error_1121_is_a_400_with_code_and_msg_and_is_not_retried() -> None:
    waits, attempts = Waits(), []

    async def main() -> None:
        rest = client(binance, waits, attempts)
        try:
            await rest.klines("NOPEUSDT", "1m", server_time_ms=0)
        finally:
            await rest.aclose()

    with pytest.raises(HTTPStatusError) as info:
        asyncio.run(main())

    assert (info.value.status, info.value.code, info.value.msg) == (400, -1121, "Invalid symbol.")
    assert [(a.status, a.outcome) for a in attempts] == [(400, "giveup")]
    assert waits == []


def test_error_1003_with_429_is_retried_after_retry_after() -> None:
    answers = [
        httpx.Response(
            429, json=fixture("error_-1003_too_much_weight.json"), headers={"Retry-After": "12", "X-MBX-USED-WEIGHT-1M": "6001"}
        ),
        httpx.Response(200, json=fixture("time.json"), headers={"X-MBX-USED-WEIGHT-1M": "1"}),
    ]
    waits, attempts = Waits(), []

    async def main() -> int:
        rest = client(lambda request: answers.pop(0), waits, attempts)
        try:
            return await rest.server_time_ms()
        finally:
            await rest.aclose()

    assert asyncio.run(main()) == 1_700_000_230_000
    assert [(a.status, a.outcome, a.reason) for a in attempts] == [(429, "retry", "429"), (200, "ok", "ok")]
    assert max(waits) >= 12.0  # Retry-After honoured (limiter hold and/or retry delay)


def test_error_1003_with_418_bans_the_host() -> None:
    waits, attempts = Waits(), []
    ban = httpx.Response(418, json=fixture("error_-1003_ip_banned.json"), headers={"Retry-After": "300"})

    async def main() -> None:
        rest = client(lambda request: ban, waits, attempts)
        try:
            with pytest.raises(HTTPStatusError) as info:
                await rest.server_time_ms()
            assert (info.value.status, info.value.code) == (418, -1003)
            with pytest.raises(HostBanned):
                await rest.server_time_ms()  # nothing is sent while banned
            assert rest.guard_status().ban.banned
        finally:
            await rest.aclose()

    asyncio.run(main())

    assert [(a.status, a.outcome, a.reason) for a in attempts] == [(418, "banned", "418"), (None, "banned", "host_banned")]
