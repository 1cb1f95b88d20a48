"""WebSocket kline streams of the simulator app: raw and combined payloads, live (un)subscribing, limits.

The market's clock is frozen until a test advances it, so every event a test waits for is certain to come, and
nothing else is sent in between (an in-progress candle is re-sent only when it changed).
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from simulator import streams as streams_module
from simulator.app import create_app
from simulator.kline import INTERVAL_MS
from simulator.market import Market

BTC = "btcusdt@kline_1m"
ETH = "ethusdt@kline_1m"


@pytest.fixture
def client(market: Market) -> TestClient:
    return TestClient(create_app(market, update_interval_ms=2))


def in_progress_open_ms(market: Market, symbol: str = "BTCUSDT") -> int:
    dataset = market.dataset(symbol)
    return dataset.open_time_ms[dataset.index_after(market.now_ms()) - 1]


def kline(event: dict[str, Any]) -> tuple[str, int, bool]:
    return event["s"], event["k"]["t"], event["k"]["x"]


def test_raw_stream_sends_the_candle_in_progress_then_its_close(
    client: TestClient, market: Market, replay_clock
) -> None:
    """No history on connect: the first event is the candle in progress (E = now), the next its close (E = T + 1)."""
    open_ms = in_progress_open_ms(market)
    connected_ms = market.now_ms()
    with client.websocket_connect(f"/ws/{BTC}") as ws:
        partial = ws.receive_json()
        replay_clock.advance(1.0)
        closed = ws.receive_json()
        next_partial = ws.receive_json()

    assert kline(partial) == ("BTCUSDT", open_ms, False)
    assert partial["e"] == "kline" and partial["E"] == connected_ms
    assert partial["k"]["i"] == "1m" and isinstance(partial["k"]["c"], str)
    assert kline(closed) == ("BTCUSDT", open_ms, True)
    assert closed["E"] == open_ms + INTERVAL_MS
    assert kline(next_partial) == ("BTCUSDT", open_ms + INTERVAL_MS, False)
    assert next_partial["E"] == market.now_ms()


def test_combined_stream_wraps_events_and_interleaves_symbols_in_market_time(
    client: TestClient, market: Market, replay_clock
) -> None:
    open_ms = in_progress_open_ms(market)
    with client.websocket_connect(f"/stream?streams={BTC}/{ETH}") as ws:
        first = [ws.receive_json() for _ in range(2)]
        replay_clock.advance(3.0)
        after = [ws.receive_json() for _ in range(8)]

    assert [m["stream"] for m in first] == [BTC, ETH]
    assert [(m["stream"], kline(m["data"])) for m in after] == [
        (BTC, ("BTCUSDT", open_ms, True)),
        (ETH, ("ETHUSDT", open_ms, True)),
        (BTC, ("BTCUSDT", open_ms + INTERVAL_MS, True)),
        (ETH, ("ETHUSDT", open_ms + INTERVAL_MS, True)),
        (BTC, ("BTCUSDT", open_ms + 2 * INTERVAL_MS, True)),
        (ETH, ("ETHUSDT", open_ms + 2 * INTERVAL_MS, True)),
        (BTC, ("BTCUSDT", open_ms + 3 * INTERVAL_MS, False)),
        (ETH, ("ETHUSDT", open_ms + 3 * INTERVAL_MS, False)),
    ]
    event_times = [m["data"]["E"] for m in after]
    assert event_times == sorted(event_times)


def test_a_stream_far_behind_catches_up_without_gaps_before_the_candle_in_progress(
    client: TestClient, market: Market, replay_clock
) -> None:
    """2500 candles close at once: more than one tick's cap, all sent in order, then the partial."""
    dataset = market.dataset("BTCUSDT")
    with client.websocket_connect(f"/ws/{BTC}") as ws:
        ws.receive_json()
        first = dataset.index_after(market.now_ms()) - 1
        replay_clock.advance(2500.0)
        last = dataset.index_after(market.now_ms()) - 1
        events = [ws.receive_json() for _ in range(last - first + 1)]

    assert [kline(e)[1:] for e in events[:-1]] == [(t, True) for t in dataset.open_time_ms[first:last]]
    assert kline(events[-1])[1:] == (dataset.open_time_ms[last], False)


def test_subscribe_list_and_unsubscribe_over_a_bare_connection(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 1})
        empty = ws.receive_json()
        ws.send_json({"method": "SUBSCRIBE", "params": [BTC, ETH], "id": 2})
        subscribed = ws.receive_json()
        events = {ws.receive_json()["s"] for _ in range(2)}
        ws.send_json({"method": "UNSUBSCRIBE", "params": [BTC], "id": "three"})
        unsubscribed = ws.receive_json()
        ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 4})
        listed = ws.receive_json()

    assert empty == {"result": [], "id": 1}
    assert subscribed == {"result": None, "id": 2}
    assert events == {"BTCUSDT", "ETHUSDT"}
    assert unsubscribed == {"result": None, "id": "three"}
    assert listed == {"result": [ETH], "id": 4}


def test_unsubscribed_streams_send_nothing_more(client: TestClient, replay_clock) -> None:
    with client.websocket_connect(f"/stream?streams={BTC}/{ETH}") as ws:
        for _ in range(2):
            ws.receive_json()
        ws.send_json({"method": "UNSUBSCRIBE", "params": [BTC], "id": 1})
        assert ws.receive_json() == {"result": None, "id": 1}
        replay_clock.advance(2.0)
        streams = {ws.receive_json()["stream"] for _ in range(3)}

    assert streams == {ETH}


@pytest.mark.parametrize(
    ("request_text", "reply"),
    [
        (
            '{"method":"SUBSCRIBE","params":["dogeusdt@kline_1m"],"id":7}',
            {"code": 2, "id": 7, "msg_start": "Invalid request: unknown stream 'dogeusdt@kline_1m'"},
        ),
        (
            '{"method":"SUBSCRIBE","params":["btcusdt@kline_1s"],"id":7}',
            {"code": 2, "id": 7, "msg_start": "Invalid request: unknown stream"},
        ),
        (
            '{"method":"SUBSCRIBE","params":["btcusdt@kline_1h@+09:00"],"id":7}',
            {"code": 2, "id": 7, "msg_start": "Invalid request: unknown stream"},
        ),
        (
            '{"method":"SUBSCRIBE","params":["BTCUSDT@kline_1m"],"id":7}',
            {"code": 2, "id": 7, "msg_start": "Invalid request: unknown stream"},
        ),
        ('{"method":"SUBSCRIBE","params":[],"id":7}', {"code": 2, "id": 7, "msg_start": "Invalid request: params"}),
        (
            '{"method":"PUBLISH","id":7}',
            {"code": 2, "id": 7, "msg_start": "Invalid request: unknown variant `PUBLISH`"},
        ),
        ('{"id":7}', {"code": 2, "id": 7, "msg_start": "Invalid request: missing field `method`"}),
        (
            '{"method":"LIST_SUBSCRIPTIONS","id":-1}',
            {"code": 2, "id": None, "msg_start": "Invalid request: request ID must be an unsigned integer"},
        ),
        ('["SUBSCRIBE"]', {"code": 2, "id": None, "msg_start": "Invalid request"}),
        ("{not json", {"code": 3, "id": None, "msg_start": "Invalid JSON"}),
    ],
)
def test_bad_requests_get_an_error_reply_and_change_nothing(
    client: TestClient, request_text: str, reply: dict[str, Any]
) -> None:
    with client.websocket_connect(f"/ws/{ETH}") as ws:
        ws.receive_json()
        ws.send_text(request_text)
        error = ws.receive_json()
        ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 8})
        listed = ws.receive_json()

    assert error["id"] == reply["id"]
    assert error["error"]["code"] == reply["code"]
    assert error["error"]["msg"].startswith(reply["msg_start"])
    assert listed == {"result": [ETH], "id": 8}


def test_subscribing_beyond_the_stream_limit_is_refused(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams_module, "MAX_STREAMS_PER_CONNECTION", 1)
    with client.websocket_connect(f"/ws/{BTC}") as ws:
        ws.receive_json()
        ws.send_json({"method": "SUBSCRIBE", "params": [ETH], "id": 1})
        reply = ws.receive_json()

    assert reply == {"error": {"code": 2, "msg": "Invalid request: too many streams (at most 1)"}, "id": 1}


def test_more_than_5_messages_in_a_second_closes_the_connection(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        for request_id in range(6):
            ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": request_id})
        replies = [ws.receive_json() for _ in range(5)]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()

    assert [r["id"] for r in replies] == [0, 1, 2, 3, 4]
    assert closed.value.code == 1008


@pytest.mark.parametrize(
    "path", ["/ws/0", "/ws/dogeusdt@kline_1m", "/ws/btcusdt@trade/ethusdt@depth", f"/stream?streams={BTC}/btcusdt@trade"]
)
def test_any_raw_or_combined_url_accepts_the_handshake_and_subscribes_only_streams_served(
    client: TestClient, path: str
) -> None:
    """As on Binance, ``/ws/<anything>`` connects (ccxt opens ``/ws/<n>`` and then subscribes); names that are not
    served here are not subscribed and send nothing."""
    with client.websocket_connect(path) as ws:
        ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 1})
        replies = [ws.receive_json() for _ in range(2 if BTC in path else 1)]

    listed = next(reply for reply in replies if "result" in reply)
    assert listed == {"result": [BTC] if BTC in path else [], "id": 1}


def test_an_invalid_time_unit_refuses_the_handshake(client: TestClient) -> None:
    with pytest.raises(WebSocketDenialResponse) as refused, client.websocket_connect(f"/ws/{BTC}?timeUnit=NANOSECOND"):
        pass

    assert refused.value.status_code == 400
    assert refused.value.json() == {
        "code": -1194,
        "msg": "Invalid value for time unit; expected either MICROSECOND or MILLISECOND.",
    }


# ------------------------------------------------------------------------------------------ every interval, as REST
def row_of(event: dict[str, Any]) -> list[Any]:
    """A kline event's ``k`` as a 12-field REST row."""
    k = event["k"]
    return [k["t"], k["o"], k["h"], k["l"], k["c"], k["v"], k["T"], k["q"], k["n"], k["V"], k["Q"], "0"]


def rest_rows(client: TestClient, **params: Any) -> list[list[Any]]:
    return client.get("/api/v3/klines", params=params).json()


AGGREGATED = {
    "btcusdt@kline_1h": {"symbol": "BTCUSDT", "interval": "1h"},
    "btcusdt@kline_1d@+08:00": {"symbol": "BTCUSDT", "interval": "1d", "timeZone": "8"},
    "ethusdt@kline_1M": {"symbol": "ETHUSDT", "interval": "1M"},
}


def test_aggregated_streams_send_exactly_what_rest_serves_at_the_same_moment(
    client: TestClient, market: Market, replay_clock
) -> None:
    """1h, 1d in UTC+8 and 1M streams: each in-progress update equals REST's last kline at that market time (minutes
    closing in between are merged into it), and the hour's close equals REST's row for that hour, sent at T + 1."""
    names = "/".join(AGGREGATED).replace("+", "%2B")  # in a query string, "+" is a space
    hour_open = (market.now_ms() // 3_600_000) * 3_600_000
    with client.websocket_connect(f"/stream?streams={names}") as ws:
        for advance_s, closes_hour in [(0.0, False), (0.5, False), (7.3, False), (30.0, True), (1.25, False)]:
            replay_clock.advance(advance_s)
            messages = [ws.receive_json() for _ in range(len(AGGREGATED) + closes_hour)]
            now_ms = market.now_ms()
            if closes_hour:
                closed = messages.pop(0)
                assert (closed["stream"], closed["data"]["k"]["x"]) == ("btcusdt@kline_1h", True)
                assert row_of(closed["data"]) == rest_rows(
                    client, symbol="BTCUSDT", interval="1h", startTime=hour_open, limit=1
                )[0]
                assert closed["data"]["E"] == hour_open + 3_600_000
            assert [m["stream"] for m in messages] == list(AGGREGATED)
            for message in messages:
                assert (message["data"]["k"]["x"], message["data"]["E"]) == (False, now_ms)
                assert row_of(message["data"]) == rest_rows(client, **AGGREGATED[message["stream"]], limit=1)[0]
                assert message["data"]["k"]["i"] == AGGREGATED[message["stream"]]["interval"]


def test_set_property_combined_switches_the_payload_of_the_connection(client: TestClient, replay_clock) -> None:
    """Binance WebSocket Streams docs, "Setting Properties": ``combined`` is false on ``/ws``."""
    with client.websocket_connect(f"/ws/{BTC}") as ws:
        raw = ws.receive_json()
        ws.send_json({"method": "GET_PROPERTY", "params": ["combined"], "id": 1})
        before = ws.receive_json()
        ws.send_json({"method": "SET_PROPERTY", "params": ["combined", True], "id": 2})
        switched = ws.receive_json()
        ws.send_json({"method": "GET_PROPERTY", "params": ["combined"], "id": 3})
        after = ws.receive_json()
        replay_clock.advance(0.5)
        wrapped = ws.receive_json()

    assert raw["e"] == "kline"
    assert (before, switched, after) == ({"result": False, "id": 1}, {"result": None, "id": 2}, {"result": True, "id": 3})
    assert wrapped["stream"] == BTC and wrapped["data"]["e"] == "kline"


@pytest.mark.parametrize(
    ("request_json", "code", "msg"),
    [
        ({"method": "SET_PROPERTY", "params": ["combined", "yes"]}, 1, "Invalid value type: expected Boolean"),
        ({"method": "SET_PROPERTY", "params": ["combined"]}, 1, "Invalid value type: expected Boolean"),
        ({"method": "SET_PROPERTY", "params": ["verbose", True]}, 0, "Unknown property"),
        ({"method": "GET_PROPERTY", "params": ["verbose"]}, 0, "Unknown property"),
        ({"method": "SET_PROPERTY", "params": [1, True]}, 2, "Invalid request: property name must be a string"),
        ({"method": "GET_PROPERTY", "params": []}, 2, "Invalid request: property name must be a string"),
        ({"method": "SET_PROPERTY", "params": ["combined", True, 1]}, 2, "Invalid request: too many parameters"),
        ({"method": "GET_PROPERTY", "params": ["combined", True]}, 2, "Invalid request: too many parameters"),
    ],
)
def test_bad_property_requests_get_binances_error_messages(
    client: TestClient, request_json: dict[str, Any], code: int, msg: str
) -> None:
    """Binance WebSocket Streams docs, "Error Messages"."""
    with client.websocket_connect("/ws") as ws:
        ws.send_json(request_json | {"id": 9})
        reply = ws.receive_json()
        ws.send_json({"method": "GET_PROPERTY", "params": ["combined"], "id": 10})
        unchanged = ws.receive_json()

    assert reply == {"error": {"code": code, "msg": msg}, "id": 9}
    assert unchanged == {"result": False, "id": 10}


def test_time_unit_microsecond_stamps_stream_times_in_microseconds(
    client: TestClient, market: Market, replay_clock
) -> None:
    with client.websocket_connect(f"/ws/{BTC}?timeUnit=MICROSECOND") as micro, client.websocket_connect(
        f"/ws/{BTC}"
    ) as milli:
        events = [micro.receive_json(), milli.receive_json()]

    (us, ms_) = events
    assert (us["E"], us["k"]["t"], us["k"]["T"]) == (ms_["E"] * 1000, ms_["k"]["t"] * 1000, ms_["k"]["T"] * 1000 + 999)
    assert us["k"]["c"] == ms_["k"]["c"]
