"""REST endpoints of the simulator app: Binance shapes, paging, errors and request-weight accounting."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from starlette.testclient import TestClient

from simulator.app import create_app
from simulator.intervals import INTERVAL_NAMES, KlineInterval
from simulator.kline import INTERVAL_MS, fmt8
from simulator.market import Market
from simulator.weights import RequestWeights

MISSING_SYMBOL = "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
BAD_LIMIT = "Data sent for parameter 'limit' is not valid."
ILLEGAL_SYMBOL = "Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'."


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
        ({"symbol": "btcusdt", "interval": "1m"}, -1100, ILLEGAL_SYMBOL),
        ({"symbol": "BTCUSDT", "interval": "1s"}, -1120, "Invalid interval."),
        ({"symbol": "BTCUSDT", "interval": "3d"}, -1120, "Invalid interval."),
        ({"symbol": "BTCUSDT", "interval": "1H"}, -1120, "Invalid interval."),
        (
            {"symbol": "BTCUSDT", "interval": "1h", "timeZone": "14:30"},
            -1130,
            "Data sent for parameter 'timeZone' is not valid.",
        ),
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


# --------------------------------------------------------------------------------------------- every kline interval
@pytest.mark.parametrize("name", INTERVAL_NAMES)
def test_every_interval_is_served_aligned_with_the_kline_in_progress_last(
    client: TestClient, market: Market, name: str
) -> None:
    interval = KlineInterval.parse(name)
    response = client.get("/api/v3/klines", params={"symbol": "ETHUSDT", "interval": name, "limit": 3})
    rows = response.json()

    assert used_weight(response) == 2
    assert all(len(row) == 12 for row in rows)
    assert [row[0] for row in rows] == [interval.open_time_ms(row[0]) for row in rows]
    assert [row[6] for row in rows] == [interval.next_open_ms(row[0]) - 1 for row in rows]
    assert rows[-1][0] <= market.now_ms() <= rows[-1][6]
    assert rows[-1][4] == fmt8(market.last_price("ETHUSDT"))


def test_ui_klines_answer_the_klines_rows(client: TestClient) -> None:
    params = {"symbol": "BTCUSDT", "interval": "15m", "limit": 20}

    ui = client.get("/api/v3/uiKlines", params=params)

    assert used_weight(ui) == 2
    assert ui.json() == client.get("/api/v3/klines", params=params).json()


def test_time_zone_8_opens_days_at_16_utc(client: TestClient) -> None:
    rows = client.get("/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1d", "timeZone": "8"}).json()

    assert {row[0] % 86_400_000 for row in rows} == {16 * 3_600_000}


# ------------------------------------------------------------------------------------------------------ time unit
@pytest.mark.parametrize("unit", ["MICROSECOND", "microsecond"])
def test_times_are_microseconds_when_the_request_asks(client: TestClient, market: Market, unit: str) -> None:
    """Binance spot REST docs: header ``X-MBX-TIME-UNIT: MICROSECOND``; a close time ``…999`` ms is ``…999999`` µs."""
    headers = {"X-MBX-TIME-UNIT": unit}
    params = {"symbol": "BTCUSDT", "interval": "1h", "limit": 2}

    server_time = client.get("/api/v3/time", headers=headers).json()["serverTime"]
    info_time = client.get("/api/v3/exchangeInfo", headers=headers).json()["serverTime"]
    micro_rows = client.get("/api/v3/klines", params=params, headers=headers).json()
    milli_rows = client.get("/api/v3/klines", params=params).json()
    ticker = client.get("/api/v3/ticker/24hr", params={"symbol": "BTCUSDT"}, headers=headers).json()
    avg = client.get("/api/v3/avgPrice", params={"symbol": "BTCUSDT"}, headers=headers).json()

    now_us = market.now_ms() * 1000
    assert server_time == info_time == ticker["closeTime"] == avg["closeTime"] == now_us
    assert ticker["openTime"] == now_us - 86_400_000_000
    assert [(r[0], r[6]) for r in micro_rows] == [(m[0] * 1000, m[6] * 1000 + 999) for m in milli_rows]
    assert [r[1:6] + r[7:] for r in micro_rows] == [m[1:6] + m[7:] for m in milli_rows]


def test_an_unknown_time_unit_is_refused_with_1194(client: TestClient) -> None:
    response = client.get("/api/v3/time", headers={"X-MBX-TIME-UNIT": "NANOSECOND"})

    assert response.status_code == 400
    assert response.json() == {
        "code": -1194,
        "msg": "Invalid value for time unit; expected either MICROSECOND or MILLISECOND.",
    }
    assert used_weight(response) == 1


def test_start_and_end_time_may_be_sent_in_microseconds(client: TestClient, market: Market) -> None:
    start_ms = market.now_ms() - 10 * INTERVAL_MS
    end_ms = start_ms + 3 * INTERVAL_MS
    in_ms = {"symbol": "BTCUSDT", "interval": "1m", "startTime": start_ms, "endTime": end_ms}
    in_us = in_ms | {"startTime": start_ms * 1000 + 1, "endTime": end_ms * 1000 + 999}

    rows = client.get("/api/v3/klines", params=in_us).json()

    assert rows == client.get("/api/v3/klines", params=in_ms | {"startTime": start_ms + 1}).json()
    assert len(rows) == 3


# ---------------------------------------------------------------------------------------------------------- tickers
def minute_rows_since(client: TestClient, start_ms: int) -> list[list[Any]]:
    rows: list[list[Any]] = []
    while page := client.get(
        "/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1m", "startTime": start_ms, "limit": 1000}
    ).json():
        rows += page
        start_ms = page[-1][0] + 1
    return rows


def test_ticker_24hr_is_the_last_24_hours_of_1m_klines(client: TestClient, market: Market) -> None:
    """Every statistic recomputed from the 1m klines that opened after now − 24 h, as a client would."""
    response = client.get("/api/v3/ticker/24hr", params={"symbol": "BTCUSDT"})
    ticker = response.json()
    now_ms = market.now_ms()
    rows = minute_rows_since(client, now_ms - 86_400_000 + 1)
    before = client.get(
        "/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1m", "endTime": rows[0][0] - 1, "limit": 1}
    ).json()
    book = client.get("/api/v3/depth", params={"symbol": "BTCUSDT", "limit": 1}).json()

    volume = sum(Decimal(r[5]) for r in rows)
    quote = sum(Decimal(r[7]) for r in rows)
    open_price, last = Decimal(rows[0][1]), Decimal(rows[-1][4])
    assert used_weight(response) == 2
    assert ticker | {"lastQty": None} == {
        "symbol": "BTCUSDT",
        "priceChange": fmt8(last - open_price),
        "priceChangePercent": f"{((last - open_price) * 100 / open_price).quantize(Decimal('0.001')):f}",
        "weightedAvgPrice": fmt8(quote / volume),
        "prevClosePrice": before[0][4] if before else "0.00000000",
        "lastPrice": fmt8(market.last_price("BTCUSDT")),
        "lastQty": None,
        "bidPrice": book["bids"][0][0],
        "bidQty": book["bids"][0][1],
        "askPrice": book["asks"][0][0],
        "askQty": book["asks"][0][1],
        "openPrice": rows[0][1],
        "highPrice": max(rows, key=lambda r: Decimal(r[2]))[2],
        "lowPrice": min(rows, key=lambda r: Decimal(r[3]))[3],
        "volume": fmt8(volume),
        "quoteVolume": fmt8(quote),
        "openTime": now_ms - 86_400_000,
        "closeTime": now_ms,
        "firstId": market.dataset("BTCUSDT").first_trade_id[market.dataset("BTCUSDT").index_at_or_after(rows[0][0])],
        "lastId": ticker["firstId"] + sum(r[8] for r in rows) - 1,
        "count": sum(r[8] for r in rows),
    }
    assert list(ticker)[:3] == ["symbol", "priceChange", "priceChangePercent"]
    assert Decimal(ticker["lastQty"]) > 0


def test_ticker_24hr_mini_keeps_the_mini_fields(client: TestClient) -> None:
    full = client.get("/api/v3/ticker/24hr", params={"symbol": "ETHUSDT"}).json()

    mini = client.get("/api/v3/ticker/24hr", params={"symbol": "ETHUSDT", "type": "MINI"}).json()

    assert list(mini) == [
        "symbol", "openPrice", "highPrice", "lowPrice", "lastPrice", "volume", "quoteVolume",
        "openTime", "closeTime", "firstId", "lastId", "count",
    ]  # fmt: skip
    assert mini == {key: full[key] for key in mini}


def test_ticker_24hr_refuses_an_unknown_type_with_1139(client: TestClient) -> None:
    response = client.get("/api/v3/ticker/24hr", params={"symbol": "ETHUSDT", "type": "FAT"})

    assert (response.status_code, response.json()) == (400, {"code": -1139, "msg": "Invalid ticker type."})


@pytest.mark.parametrize(
    ("params", "weight"),
    [
        ({"symbol": "BTCUSDT"}, 2),
        ({"symbols": '["BTCUSDT","ETHUSDT"]'}, 2),
        ({"symbols": json.dumps([f"X{i}USDT" for i in range(20)])}, 2),
        ({"symbols": json.dumps([f"X{i}USDT" for i in range(21)])}, 40),
        ({"symbols": json.dumps([f"X{i}USDT" for i in range(100)])}, 40),
        ({"symbols": json.dumps([f"X{i}USDT" for i in range(101)])}, 80),
        ({}, 80),
    ],
)
def test_ticker_24hr_weight_follows_the_number_of_symbols(
    market: Market, params: dict[str, str], weight: int
) -> None:
    """Binance spot REST docs: 2 for one symbol; symbols 1–20 → 2, 21–100 → 40, 101 or more → 80; all → 80 (counted
    before the symbols are checked)."""
    response = TestClient(create_app(market)).get("/api/v3/ticker/24hr", params=params)

    assert used_weight(response) == weight


def test_ticker_24hr_of_all_symbols_is_a_list(client: TestClient) -> None:
    assert [t["symbol"] for t in client.get("/api/v3/ticker/24hr").json()] == ["BTCUSDT", "ETHUSDT"]


def test_book_ticker_is_the_best_level_of_the_book(client: TestClient) -> None:
    book = client.get("/api/v3/depth", params={"symbol": "ETHUSDT", "limit": 1}).json()

    one = client.get("/api/v3/ticker/bookTicker", params={"symbol": "ETHUSDT"})
    every = client.get("/api/v3/ticker/bookTicker")

    assert one.json() == {
        "symbol": "ETHUSDT",
        "bidPrice": book["bids"][0][0],
        "bidQty": book["bids"][0][1],
        "askPrice": book["asks"][0][0],
        "askQty": book["asks"][0][1],
    }
    assert [b["symbol"] for b in every.json()] == ["BTCUSDT", "ETHUSDT"] and every.json()[1] == one.json()
    assert (used_weight(one), used_weight(every)) == (5 + 2, 5 + 2 + 4)


def test_avg_price_is_the_volume_weighted_price_of_the_last_5_minutes(client: TestClient, market: Market) -> None:
    response = client.get("/api/v3/avgPrice", params={"symbol": "BTCUSDT"})

    rows = minute_rows_since(client, market.now_ms() - 5 * INTERVAL_MS + 1)
    vwap = sum(Decimal(r[7]) for r in rows) / sum(Decimal(r[5]) for r in rows)
    assert len(rows) == 5
    assert response.json() == {"mins": 5, "price": fmt8(vwap), "closeTime": market.now_ms()}
    assert used_weight(response) == 2


# ------------------------------------------------------------------------------------------ errors as Binance words
@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v3/klines", {"symbol": "btcusdt", "interval": "1m"}),
        ("/api/v3/uiKlines", {"symbol": "BTC/USDT", "interval": "1m"}),
        ("/api/v3/depth", {"symbol": "btcusdt"}),
        ("/api/v3/avgPrice", {"symbol": "Btcusdt"}),
        ("/api/v3/ticker/24hr", {"symbol": "btcusdt"}),
        ("/api/v3/ticker/bookTicker", {"symbol": "btcusdt"}),
        ("/api/v3/ticker/price", {"symbol": "btcusdt"}),
        ("/api/v3/exchangeInfo", {"symbol": "A" * 21}),
    ],
)
def test_illegal_characters_in_a_symbol_are_1100(client: TestClient, path: str, params: dict[str, str]) -> None:
    """Binance answers -1100 with the legal range for a lower-case symbol (-1121 is for a legal but unknown one)."""
    response = client.get(path, params=params)

    assert (response.status_code, response.json()) == (400, {"code": -1100, "msg": ILLEGAL_SYMBOL})


def test_a_lower_case_symbol_in_a_list_is_1100(client: TestClient) -> None:
    response = client.get("/api/v3/ticker/24hr", params={"symbols": '["BTCUSDT","ethusdt"]'})

    assert (response.status_code, response.json()["code"]) == (400, -1100)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v3/trades"), ("POST", "/api/v3/order"), ("POST", "/api/v3/klines"), ("GET", "/nothing/here")],
)
def test_paths_and_methods_not_served_are_a_json_404_with_weight(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path)

    assert response.status_code == 404
    assert response.json() == {"code": -1020, "msg": "This operation is not supported."}
    assert used_weight(response) == 1
