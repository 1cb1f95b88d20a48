"""Kline parsing: REST 12-field rows and stream events become exact Decimal candles; a bad price is a
ProtocolError, never 0.0; the closed flag comes from the server time (REST) or ``x`` (stream).

Payload shapes follow Binance spot REST docs, "Kline/Candlestick data", and WebSocket Streams docs,
"Kline/Candlestick Streams".
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from engine.errors import ProtocolError
from engine.feed.klines import parse_price, parse_rest_kline, parse_stream_kline

D = Decimal
OPEN_MS = 1618876800000  # 2021-04-20 00:00 UTC
CLOSE_MS = OPEN_MS + 59_999

# open time, open, high, low, close, volume, close time, quote volume, trades, taker base, taker quote, ignore
REST_ROW: list[Any] = [
    OPEN_MS, "56000.01000000", "56100.00000000", "55900.50000000", "56050.99000000", "12.34500000",
    CLOSE_MS, "691234.56000000", 1234, "6.00000000", "336000.00000000", "0",
]

STREAM_EVENT: dict[str, Any] = {
    "e": "kline",
    "E": OPEN_MS + 30_123,
    "s": "BTCUSDT",
    "k": {
        "t": OPEN_MS, "T": CLOSE_MS, "s": "BTCUSDT", "i": "1m", "f": 100, "L": 200,
        "o": "56000.01000000", "c": "56050.99000000", "h": "56100.00000000", "l": "55900.50000000",
        "v": "12.34500000", "n": 101, "x": False, "q": "691234.56000000", "V": "6.00000000", "Q": "336000.00000000", "B": "0",
    },
}

BAD_PRICES = ["0", "-1", "NaN", "inf", "abc", None, "", "-0", "Infinity", "sNaN"]
REST_PRICE_FIELDS = {"open": 1, "high": 2, "low": 3, "close": 4}
STREAM_PRICE_FIELDS = {"open": "o", "high": "h", "low": "l", "close": "c"}


def test_rest_row_becomes_an_exact_candle() -> None:
    candle = parse_rest_kline("BTCUSDT", REST_ROW, server_time_ms=CLOSE_MS + 1)

    assert candle.symbol == "BTCUSDT"
    assert (candle.open_time_ms, candle.close_time_ms) == (OPEN_MS, CLOSE_MS)
    assert candle.open == D("56000.01")
    assert candle.high == D("56100")
    assert candle.low == D("55900.5")
    assert candle.close == D("56050.99")
    assert candle.volume == D("12.345")
    assert isinstance(candle.close, Decimal)


@pytest.mark.parametrize(
    ("server_time_ms", "closed"),
    [(CLOSE_MS - 30_000, False), (CLOSE_MS, False), (CLOSE_MS + 1, True), (CLOSE_MS + 3_600_000, True)],
    ids=["mid-candle", "at-close-time", "one-ms-after", "an-hour-after"],
)
def test_rest_row_is_closed_only_once_server_time_passes_its_close_time(server_time_ms: int, closed: bool) -> None:
    assert parse_rest_kline("BTCUSDT", REST_ROW, server_time_ms=server_time_ms).closed is closed


def test_stream_event_becomes_a_candle_and_its_event_time() -> None:
    candle, event_ms = parse_stream_kline(STREAM_EVENT)

    assert event_ms == OPEN_MS + 30_123
    assert candle == parse_rest_kline("BTCUSDT", REST_ROW, server_time_ms=0)  # same values, open
    assert candle.closed is False


def test_stream_closed_flag_is_x() -> None:
    event = copy.deepcopy(STREAM_EVENT)
    event["k"]["x"] = True

    assert parse_stream_kline(event)[0].closed is True


def test_zero_volume_is_allowed() -> None:
    row = list(REST_ROW)
    row[5] = "0.00000000"

    assert parse_rest_kline("BTCUSDT", row, server_time_ms=0).volume == D("0")


@pytest.mark.parametrize("value", BAD_PRICES)
def test_parse_price_refuses_non_positive_non_finite_and_unparsable(value: Any) -> None:
    with pytest.raises(ProtocolError, match="close"):
        parse_price(value, field="close")


@pytest.mark.parametrize("value", BAD_PRICES)
@pytest.mark.parametrize("field", REST_PRICE_FIELDS)
def test_rest_row_with_a_bad_price_is_a_protocol_error(field: str, value: Any) -> None:
    row = list(REST_ROW)
    row[REST_PRICE_FIELDS[field]] = value

    with pytest.raises(ProtocolError):
        parse_rest_kline("BTCUSDT", row, server_time_ms=CLOSE_MS + 1)


@pytest.mark.parametrize("value", BAD_PRICES)
@pytest.mark.parametrize("field", STREAM_PRICE_FIELDS)
def test_stream_event_with_a_bad_price_is_a_protocol_error(field: str, value: Any) -> None:
    event = copy.deepcopy(STREAM_EVENT)
    event["k"][STREAM_PRICE_FIELDS[field]] = value

    with pytest.raises(ProtocolError):
        parse_stream_kline(event)


@pytest.mark.parametrize("value", ["-1", "NaN", "inf", "abc", None])
def test_bad_volume_is_a_protocol_error(value: Any) -> None:
    row = list(REST_ROW)
    row[5] = value

    with pytest.raises(ProtocolError, match="volume"):
        parse_rest_kline("BTCUSDT", row, server_time_ms=0)


@pytest.mark.parametrize(
    ("o", "h", "low", "c"),
    [
        ("100", "99", "98", "99"),  # high below open
        ("100", "101", "98", "102"),  # high below close
        ("100", "101", "100.5", "100.7"),  # low above open
        ("100", "101", "99", "98"),  # low above close
        ("100", "98", "101", "100"),  # high below low
    ],
)
def test_ohlc_out_of_order_is_rejected(o: str, h: str, low: str, c: str) -> None:
    row = list(REST_ROW)
    row[1:5] = [o, h, low, c]
    event = copy.deepcopy(STREAM_EVENT)
    event["k"].update({"o": o, "h": h, "l": low, "c": c})

    with pytest.raises(ProtocolError, match="OHLC"):
        parse_rest_kline("BTCUSDT", row, server_time_ms=0)
    with pytest.raises(ProtocolError, match="OHLC"):
        parse_stream_kline(event)


def test_a_flat_candle_is_in_order() -> None:
    row = list(REST_ROW)
    row[1:5] = ["100", "100", "100", "100"]

    assert parse_rest_kline("BTCUSDT", row, server_time_ms=0).high == D("100")


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(REST_ROW[:5], id="too-short"),
        pytest.param([], id="empty"),
        pytest.param(None, id="null"),
        pytest.param(["abc", *REST_ROW[1:]], id="open-time-not-a-number"),
        pytest.param([*REST_ROW[:6], None, *REST_ROW[7:]], id="close-time-null"),
    ],
)
def test_rest_row_of_the_wrong_shape_is_a_protocol_error(row: Any) -> None:
    with pytest.raises(ProtocolError):
        parse_rest_kline("BTCUSDT", row, server_time_ms=0)


def _without(key: str) -> dict[str, Any]:
    event = copy.deepcopy(STREAM_EVENT)
    if key in event:
        del event[key]
    else:
        del event["k"][key]
    return event


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({**STREAM_EVENT, "e": "trade"}, id="not-a-kline"),
        pytest.param(_without("k"), id="no-k"),
        pytest.param(_without("E"), id="no-event-time"),
        pytest.param(_without("x"), id="no-closed-flag"),
        pytest.param(_without("t"), id="no-open-time"),
        pytest.param({**STREAM_EVENT, "k": "kline"}, id="k-not-an-object"),
        pytest.param([], id="not-an-object"),
        pytest.param(None, id="null"),
    ],
)
def test_malformed_stream_event_is_a_protocol_error(event: Any) -> None:
    with pytest.raises(ProtocolError):
        parse_stream_kline(event)
