"""REST endpoints of the simulator app: Binance shapes, paging, errors and request-weight accounting."""

from __future__ import annotations

from decimal import Decimal

import pytest
from starlette.testclient import TestClient

from simulator.app import create_app
from simulator.kline import INTERVAL_MS, fmt8
from simulator.market import Market
from simulator.weights import RequestWeights

MISSING_SYMBOL = "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
BAD_LIMIT = "Data sent for parameter 'limit' is not valid."


@pytest.fixture
def client(market: Market) -> TestClient:
    return TestClient(create_app(market))


def used_weight(response) -> int:
    return int(response.headers["X-MBX-USED-WEIGHT-1M"])


def test_ping_answers_empty_object_with_weight_1(client: TestClient) -> None:
    response = client.get("/api/v3/ping")

    assert response.status_code == 200
    assert response.json() == {}
    assert used_weight(response) == 1


def test_time_is_market_time(client: TestClient, market: Market) -> None:
    assert client.get("/api/v3/time").json() == {"serverTime": market.now_ms()}


def test_used_weight_accumulates_per_ip(market: Market) -> None:
    """Each IP has its own tally, and the header reports it after adding this request's weight."""
    app = create_app(market)
    first_ip = TestClient(app, client=("10.0.0.1", 1000))
    other_ip = TestClient(app, client=("10.0.0.2", 1000))

    first_ip.get("/api/v3/ping")
    response = first_ip.get("/api/v3/exchangeInfo")

    assert used_weight(response) == 1 + 20
    assert used_weight(other_ip.get("/api/v3/ping")) == 1


def test_exchange_info_lists_every_symbol_with_filters_and_rate_limits(client: TestClient, market: Market) -> None:
    response = client.get("/api/v3/exchangeInfo")
    body = response.json()

    assert used_weight(response) == 20
    assert body["timezone"] == "UTC"
    assert body["serverTime"] == market.now_ms()
    assert body["exchangeFilters"] == []
    assert [s["symbol"] for s in body["symbols"]] == ["BTCUSDT", "ETHUSDT"]
    assert {f["filterType"] for f in body["symbols"][0]["filters"]} == {"PRICE_FILTER", "LOT_SIZE", "NOTIONAL"}
    request_weight = next(r for r in body["rateLimits"] if r["rateLimitType"] == "REQUEST_WEIGHT")
    assert request_weight == {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}


@pytest.mark.parametrize(
    ("params", "symbols"),
    [
        ({"symbol": "ETHUSDT"}, ["ETHUSDT"]),
        ({"symbols": '["ETHUSDT","BTCUSDT"]'}, ["ETHUSDT", "BTCUSDT"]),
    ],
)
def test_exchange_info_narrows_to_requested_symbols(client: TestClient, params: dict, symbols: list[str]) -> None:
    body = client.get("/api/v3/exchangeInfo", params=params).json()

    assert [s["symbol"] for s in body["symbols"]] == symbols


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"symbol": "DOGEUSDT"}, -1121),
        ({"symbols": '["BTCUSDT","DOGEUSDT"]'}, -1121),
        ({"symbols": "BTCUSDT"}, -1100),
        ({"symbols": "[]"}, -1100),
        ({"symbol": "BTCUSDT", "symbols": '["BTCUSDT"]'}, -1128),
    ],
)
def test_exchange_info_refuses_bad_symbol_parameters(client: TestClient, params: dict, code: int) -> None:
    response = client.get("/api/v3/exchangeInfo", params=params)

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert used_weight(response) == 20


def test_klines_are_12_field_rows_with_string_prices(client: TestClient, market: Market) -> None:
    response = client.get("/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1m", "limit": 3})
    rows = response.json()

    assert used_weight(response) == 2
    assert len(rows) == 3
    for row in rows:
        assert len(row) == 12
        open_ms, open_, high, low, close, volume, close_ms, quote, trades, buy_base, buy_quote, unused = row
        assert isinstance(open_ms, int) and close_ms == open_ms + INTERVAL_MS - 1
        assert isinstance(trades, int)
        for text in (open_, high, low, close, volume, quote, buy_base, buy_quote):
            assert isinstance(text, str) and len(text.split(".")[1]) == 8
        o, h, lo, c = map(Decimal, (open_, high, low, close))
        assert lo <= min(o, c) <= max(o, c) <= h
        assert unused == "0"
    assert rows[-1][0] <= market.now_ms() < rows[-1][6], "the last row is the candle in progress"


def test_klines_default_to_the_last_500_candles(client: TestClient, market: Market) -> None:
    rows = client.get("/api/v3/klines", params={"symbol": "ETHUSDT", "interval": "1m"}).json()

    assert len(rows) == 500
    assert rows[-1][0] <= market.now_ms()


def test_klines_pages_forward_from_start_time_without_gaps_or_overlap(client: TestClient, market: Market) -> None:
    """Paging with startTime = last open time + 1 minute walks the dataset exactly, page after page."""
    dataset = market.dataset("BTCUSDT")
    start_ms = market.now_ms() - 250 * INTERVAL_MS
    opens: list[int] = []
    while True:
        params = {"symbol": "BTCUSDT", "interval": "1m", "startTime": start_ms, "limit": 100}
        page = client.get("/api/v3/klines", params=params).json()
        if not page:
            break
        opens += [row[0] for row in page]
        start_ms = page[-1][0] + INTERVAL_MS

    first = dataset.index_at_or_after(market.now_ms() - 250 * INTERVAL_MS)
    last = dataset.index_after(market.now_ms())
    assert opens == list(dataset.open_time_ms[first:last])


def test_klines_with_end_time_only_return_the_last_candles_up_to_it(client: TestClient, market: Market) -> None:
    end_ms = market.now_ms() - 10 * INTERVAL_MS
    params = {"symbol": "BTCUSDT", "interval": "1m", "endTime": end_ms, "limit": 5}

    rows = client.get("/api/v3/klines", params=params).json()

    assert len(rows) == 5
    assert rows[-1][0] <= end_ms < rows[-1][0] + INTERVAL_MS


@pytest.mark.parametrize(
    ("params", "code", "msg"),
    [
        ({"interval": "1m"}, -1102, MISSING_SYMBOL),
        ({"symbol": "", "interval": "1m"}, -1102, MISSING_SYMBOL),
        (
            {"symbol": "BTCUSDT"},
            -1102,
            "Mandatory parameter 'interval' was not sent, was empty/null, or malformed.",
        ),
        ({"symbol": "DOGEUSDT", "interval": "1m"}, -1121, "Invalid symbol."),
        ({"symbol": "btcusdt", "interval": "1m"}, -1121, "Invalid symbol."),
        ({"symbol": "BTCUSDT", "interval": "5m"}, -1120, "Invalid interval."),
        ({"symbol": "BTCUSDT", "interval": "1m", "limit": 1001}, -1130, BAD_LIMIT),
        ({"symbol": "BTCUSDT", "interval": "1m", "limit": 0}, -1130, BAD_LIMIT),
        (
            {"symbol": "BTCUSDT", "interval": "1m", "startTime": "yesterday"},
            -1100,
            "Illegal characters found in parameter 'startTime'; legal range is '^-?[0-9]{1,20}$'.",
        ),
        (
            {"symbol": "BTCUSDT", "interval": "1m", "startTime": 2, "endTime": 1},
            -1023,
            "Start time is greater than end time.",
        ),
    ],
)
def test_klines_refuse_bad_parameters_with_binance_errors(
    client: TestClient, params: dict, code: int, msg: str
) -> None:
    response = client.get("/api/v3/klines", params=params)

    assert response.status_code == 400
    assert response.json() == {"code": code, "msg": msg}
    assert used_weight(response) == 2, "a refused request still uses weight"


def test_ticker_price_for_one_symbol_costs_2(client: TestClient, market: Market) -> None:
    response = client.get("/api/v3/ticker/price", params={"symbol": "BTCUSDT"})

    assert response.json() == {"symbol": "BTCUSDT", "price": fmt8(market.last_price("BTCUSDT"))}
    assert used_weight(response) == 2


def test_ticker_price_for_all_symbols_costs_4(client: TestClient, market: Market) -> None:
    response = client.get("/api/v3/ticker/price")

    assert response.json() == [{"symbol": s, "price": fmt8(market.last_price(s))} for s in ("BTCUSDT", "ETHUSDT")]
    assert used_weight(response) == 4


def test_ticker_price_refuses_unknown_symbol(client: TestClient) -> None:
    response = client.get("/api/v3/ticker/price", params={"symbol": "DOGEUSDT"})

    assert (response.status_code, response.json()["code"]) == (400, -1121)


def test_depth_is_a_one_tick_book_around_the_last_price(client: TestClient, market: Market) -> None:
    response = client.get("/api/v3/depth", params={"symbol": "BTCUSDT"})
    book = response.json()

    assert used_weight(response) == 5
    assert len(book["bids"]) == len(book["asks"]) == 100
    assert isinstance(book["lastUpdateId"], int)
    tick, step = Decimal("0.01"), Decimal("0.00001")
    bids = [(Decimal(p), Decimal(q)) for p, q in book["bids"]]
    asks = [(Decimal(p), Decimal(q)) for p, q in book["asks"]]
    assert bids[0][0] <= market.last_price("BTCUSDT") < asks[0][0] == bids[0][0] + tick
    assert [p for p, _ in bids] == [bids[0][0] - k * tick for k in range(100)]
    assert [p for p, _ in asks] == [asks[0][0] + k * tick for k in range(100)]
    assert all(q > 0 and q % step == 0 for _, q in bids + asks)
    assert all(len(text.split(".")[1]) == 8 for level in book["bids"] + book["asks"] for text in level)


@pytest.mark.parametrize(
    ("limit", "levels", "weight"), [(5, 5, 5), (500, 500, 25), (1000, 1000, 50), (6000, 5000, 250)]
)
def test_depth_weight_grows_with_limit(client: TestClient, limit: int, levels: int, weight: int) -> None:
    """Binance depth weights: ≤100 → 5, ≤500 → 25, ≤1000 → 50, ≤5000 → 250; above 5000 the book is cut."""
    response = client.get("/api/v3/depth", params={"symbol": "ETHUSDT", "limit": limit})

    assert used_weight(response) == weight
    assert len(response.json()["asks"]) == levels


@pytest.mark.parametrize(
    ("params", "code"),
    [({}, -1102), ({"symbol": "DOGEUSDT"}, -1121), ({"symbol": "BTCUSDT", "limit": 0}, -1130)],
)
def test_depth_refuses_bad_parameters(client: TestClient, params: dict, code: int) -> None:
    response = client.get("/api/v3/depth", params=params)

    assert (response.status_code, response.json()["code"]) == (400, code)


def test_over_the_weight_limit_answers_429_with_retry_after_until_the_next_minute(replay_clock, wall_clock) -> None:
    """Weight counts even when refused; Retry-After is the wait until the next minute, which resets the tally."""
    market = Market.replay(clock=replay_clock, weights=RequestWeights(limit_per_minute=20, clock=wall_clock))
    client = TestClient(create_app(market))

    assert client.get("/api/v3/exchangeInfo").status_code == 200
    refused = client.get("/api/v3/ping")
    refused_again = client.get("/api/v3/time")
    wall_clock.advance(45)
    after_the_minute = client.get("/api/v3/time")

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "45"
    assert used_weight(refused) == 21
    assert refused.json() == {
        "code": -1003,
        "msg": "Too much request weight used; current limit is 20 request weight per 1 MINUTE. "
        "Please use WebSocket Streams for live updates to avoid polling the API.",
    }
    assert (refused_again.status_code, used_weight(refused_again)) == (429, 22)
    assert (after_the_minute.status_code, used_weight(after_the_minute)) == (200, 1)
