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
            '{"method":"SUBSCRIBE","params":["btcusdt@kline_5m"],"id":7}',
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


@pytest.mark.parametrize("path", ["/ws/dogeusdt@kline_1m", f"/stream?streams={BTC}/btcusdt@trade"])
def test_unknown_stream_in_the_url_refuses_the_handshake(client: TestClient, path: str) -> None:
    with pytest.raises(WebSocketDenialResponse) as refused, client.websocket_connect(path):
        pass

    assert refused.value.status_code == 400
    assert refused.value.json()["code"] == 2
