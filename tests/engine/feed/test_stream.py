"""KlineStream against real WebSocket servers on loopback: a scripted ``websockets`` server per test (normal close,
abrupt drop, stall, request answers) and the real simulator. Reconnect waits go through a recording ``sleep``, so
no test waits for a backoff; time goes through a hand-moved clock where durations matter."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing, asynccontextmanager, suppress

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from engine.errors import ConfigError, StreamRefused, TransportError
from engine.feed.stream import KlineStream
from engine.feed.stream_events import BadMessage, Connected, Disconnected, KlineEvent, Reply, StreamEvent
from simulator.market import Market
from simulator.server import SimulatorServer

MINUTE_MS = 60_000
T0_MS = 1_700_000_040_000  # a minute boundary
BTC, ETH = "btcusdt@kline_1m", "ethusdt@kline_1m"
TIMEOUT_S = 10.0


class FakeClock:
    """Monotonic seconds moved by hand (or by :class:`Waits`)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Waits(list[float]):
    """A ``sleep`` that records each delay instead of waiting (and moves ``clock`` by it, when given)."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        super().__init__()
        self.clock = clock

    async def __call__(self, delay_s: float) -> None:
        self.append(delay_s)
        if self.clock is not None:
            self.clock.now += delay_s
        await asyncio.sleep(0)


def counting_backoff() -> itertools.count[float]:
    """Delays 1, 2, 3, … s: which delay comes next shows whether the backoff was reset."""
    return itertools.count(1.0)


def kline_message(open_time_ms: int, *, closed: bool = True, symbol: str = "BTCUSDT") -> str:
    """A combined-stream kline message (Binance WebSocket Streams docs, "Kline/Candlestick Streams")."""
    k = {"t": open_time_ms, "T": open_time_ms + MINUTE_MS - 1, "s": symbol, "i": "1m", "o": "100", "h": "101",
         "l": "99", "c": "100.5", "v": "3", "x": closed}
    event = {"e": "kline", "E": open_time_ms + MINUTE_MS, "s": symbol, "k": k}
    return json.dumps({"stream": f"{symbol.lower()}@kline_1m", "data": event})


Handler = Callable[[ServerConnection, int], Awaitable[None]]


@asynccontextmanager
async def scripted_server(handler: Handler) -> AsyncIterator[str]:
    """A loopback WebSocket server running ``handler(ws, n)`` for its n-th connection (0-based); yields its base URL."""
    counter = itertools.count()

    async def serve_one(ws: ServerConnection) -> None:
        with suppress(ConnectionClosed):  # the client may leave mid-script
            await handler(ws, next(counter))

    async with serve(serve_one, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


async def collect(stream: KlineStream, until: Callable[[list[StreamEvent]], bool]) -> list[StreamEvent]:
    """Events from ``stream.events()`` until ``until(events)`` holds (the iterator is closed after)."""
    events: list[StreamEvent] = []
    async with asyncio.timeout(TIMEOUT_S), aclosing(stream.events()) as source:
        async for event in source:
            events.append(event)
            if until(events):
                return events
    return events


def count(kind: type, n: int) -> Callable[[list[StreamEvent]], bool]:
    return lambda events: sum(isinstance(e, kind) for e in events) >= n


def of(kind: type, events: list[StreamEvent]) -> list:
    return [e for e in events if isinstance(e, kind)]


# ---------------------------------------------------------------------------------------------- reconnects
def test_reconnects_after_a_normal_close_1000() -> None:
    async def handler(ws: ServerConnection, n: int) -> None:
        await ws.send(kline_message(T0_MS + n * MINUTE_MS))
        await ws.close(1000, "bye")

    async def main() -> tuple[list[StreamEvent], Waits]:
        waits = Waits()
        async with scripted_server(handler) as url:
            stream = KlineStream(url, ("BTCUSDT",), "1m", backoff=counting_backoff, sleep=waits)
            return await collect(stream, count(Connected, 3)), waits

    events, waits = asyncio.run(main())
    assert [type(e) for e in events] == [Connected, KlineEvent, Disconnected, Connected, KlineEvent, Disconnected, Connected]
    closes = of(Disconnected, events)
    assert [(d.code, d.reason, d.error) for d in closes] == [(1000, "bye", "")] * 2
    assert [(d.retry_in_s, d.attempt) for d in closes] == [(1.0, 1), (2.0, 2)]
    assert all(d.connected_for_s is not None for d in closes)
    assert [c.attempt for c in of(Connected, events)] == [0, 1, 2]
    assert waits == [1.0, 2.0]
    assert [e.candle.open_time_ms for e in of(KlineEvent, events)] == [T0_MS, T0_MS + MINUTE_MS]


def test_reconnects_after_an_abrupt_drop() -> None:
    async def handler(ws: ServerConnection, n: int) -> None:
        await ws.send(kline_message(T0_MS))
        await asyncio.sleep(0.05)
        ws.transport.abort()

    async def main() -> tuple[list[StreamEvent], KlineStream]:
        async with scripted_server(handler) as url:
            stream = KlineStream(url, ("BTCUSDT",), "1m", backoff=counting_backoff, sleep=Waits())
            return await collect(stream, count(Connected, 2)), stream

    events, stream = asyncio.run(main())
    drop = of(Disconnected, events)[0]
    assert drop.code is None and drop.reason == "" and "ConnectionClosedError" in drop.error
    assert drop.retry_in_s == 1.0 and drop.connected_for_s is not None
    status = stream.status()
    assert (status.connects, status.disconnects, status.reconnect_attempts) == (2, 1, 1)
    assert status.last_close_code is None and "ConnectionClosedError" in status.last_error
    assert not status.connected, "the consumer stopped iterating: the connection is closed"


@pytest.mark.parametrize(("up_for_s", "delays"), [(60.0, [1.0, 2.0, 1.0, 2.0]), (59.0, [1.0, 2.0, 3.0, 4.0])])
def test_a_connection_up_60_s_resets_the_backoff(up_for_s: float, delays: list[float]) -> None:
    """The third connection stays up ``up_for_s`` (by the injected clock): 60 s restarts the delays, 59 s does not."""
    clock = FakeClock()

    async def handler(ws: ServerConnection, n: int) -> None:
        await ws.recv()  # the client's "up" signal
        await ws.close(1000, "")

    async def main() -> list[StreamEvent]:
        async with scripted_server(handler) as url:
            stream = KlineStream(url, ("BTCUSDT",), "1m", backoff=counting_backoff, sleep=Waits(), clock=clock)
            events: list[StreamEvent] = []
            async with asyncio.timeout(TIMEOUT_S), aclosing(stream.events()) as source:
                async for event in source:
                    events.append(event)
                    if isinstance(event, Connected):
                        if len(of(Connected, events)) == 3:
                            clock.now += up_for_s
                        await stream._ws.send("up")
                    if len(of(Disconnected, events)) == 4:
                        return events
            return events

    events = asyncio.run(main())
    closes = of(Disconnected, events)
    assert [d.retry_in_s for d in closes] == delays
    assert closes[2].connected_for_s == up_for_s


def test_a_stream_silent_for_stale_after_s_is_dropped_and_reconnected() -> None:
    async def handler(ws: ServerConnection, n: int) -> None:
        await ws.send(kline_message(T0_MS))
        await ws.wait_closed()  # stalls: no more messages, connection left open

    async def main() -> tuple[list[StreamEvent], KlineStream]:
        async with scripted_server(handler) as url:
            stream = KlineStream(url, ("BTCUSDT",), "1m", stale_after_s=0.2, backoff=counting_backoff, sleep=Waits())
            return await collect(stream, count(Connected, 2)), stream

    events, stream = asyncio.run(main())
    assert [type(e) for e in events] == [Connected, KlineEvent, Disconnected, Connected]
    stale = of(Disconnected, events)[0]
    assert (stale.code, stale.reason, stale.retry_in_s) == (None, "stale", 1.0)
    assert stream.status().stale_disconnects == 1


def test_gives_up_after_max_attempts_with_a_final_event_and_a_transport_error() -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    waits = Waits()
    stream = KlineStream(f"ws://127.0.0.1:{port}", ("BTCUSDT",), "1m", max_attempts=2, backoff=counting_backoff, sleep=waits)
    events: list[StreamEvent] = []

    async def main() -> None:
        async with asyncio.timeout(TIMEOUT_S):
            async for event in stream.events():
                events.append(event)  # noqa: PERF401 - keep the events that came before the error

    with pytest.raises(TransportError, match="gave up after 2 reconnect attempts") as raised:
        asyncio.run(main())
    assert raised.value.endpoint == stream.url
    assert [(d.retry_in_s, d.attempt, d.connected_for_s) for d in events] == [(1.0, 1, None), (2.0, 2, None), (None, 3, None)]
    assert all(d.code is None and d.error for d in events)
    assert waits == [1.0, 2.0]
    status = stream.status()
    assert (status.connects, status.disconnects, status.reconnect_attempts, status.connected) == (0, 0, 2, False)


def test_status_counts_time_disconnected_by_the_injected_clock() -> None:
    clock = FakeClock()

    async def handler(ws: ServerConnection, n: int) -> None:
        await ws.close(1001, "going away")

    async def main() -> KlineStream:
        async with scripted_server(handler) as url:
            stream = KlineStream(url, ("BTCUSDT",), "1m", backoff=counting_backoff, sleep=Waits(clock), clock=clock)
            await collect(stream, count(Connected, 3))
            return stream

    status = asyncio.run(main()).status()
    assert status.disconnected_s == 1.0 + 2.0, "only the reconnect waits: the connects took no clock time"
    assert (status.last_close_code, status.last_close_reason) == (1001, "going away")


def test_a_url_that_is_not_a_websocket_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="ws_url"):
        KlineStream("http://127.0.0.1:1", ("BTCUSDT",), "1m")


def test_malformed_messages_are_bad_messages_and_request_answers_are_replies() -> None:
    async def handler(ws: ServerConnection, n: int) -> None:
        for message in ("not json", b"\xff\xfe", json.dumps({"data": {"e": "kline"}}),
                        json.dumps({"result": None, "id": 4}), json.dumps({"error": {"code": 2, "msg": "Invalid request"}, "id": 5})):
            await ws.send(message)
        await ws.wait_closed()

    async def main() -> list[StreamEvent]:
        async with scripted_server(handler) as url:
            return await collect(KlineStream(url, ("BTCUSDT",), "1m"), lambda events: len(events) == 6)

    events = asyncio.run(main())
    assert [type(e) for e in events[1:4]] == [BadMessage] * 3
    assert events[4:] == [Reply(4, ""), Reply(5, "code 2: Invalid request")]


# ---------------------------------------------------------------------------------------------- subscriptions
def test_subscriptions_are_restored_after_a_reconnect() -> None:
    received: dict[int, list[dict]] = {}

    async def handler(ws: ServerConnection, n: int) -> None:
        received[n] = []
        async for text in ws:
            request = json.loads(text)
            received[n].append(request)
            await ws.send(json.dumps({"result": None, "id": request["id"]}))
            if n == 0 and len(received[0]) == 3:
                await ws.close(1000, "")

    async def main() -> tuple[list[StreamEvent], KlineStream]:
        async with scripted_server(handler) as url:
            stream = KlineStream(url, ("BTCUSDT", "BNBUSDT"), "1m", backoff=counting_backoff, sleep=Waits())
            assert await stream.subscribe(["solusdt@kline_1m"]) is None, "not connected: kept for the connect"
            events: list[StreamEvent] = []
            async with asyncio.timeout(TIMEOUT_S), aclosing(stream.events()) as source:
                async for event in source:
                    events.append(event)
                    if isinstance(event, Connected) and event.attempt == 0:
                        assert await stream.subscribe([ETH]) is not None
                        assert await stream.unsubscribe([BTC]) is not None
                    if len(of(Reply, events)) == 5:
                        return events, stream
            return events, stream

    events, stream = asyncio.run(main())
    assert stream.subscriptions == ("bnbusdt@kline_1m", "solusdt@kline_1m", ETH)
    first, second = received[0], received[1]
    assert [(r["method"], r["params"]) for r in first] == [
        ("SUBSCRIBE", ["solusdt@kline_1m"]), ("SUBSCRIBE", [ETH]), ("UNSUBSCRIBE", [BTC])
    ]
    assert [(r["method"], r["params"]) for r in second] == [("SUBSCRIBE", ["solusdt@kline_1m", ETH]), ("UNSUBSCRIBE", [BTC])]
    ids = [r["id"] for r in first + second]
    assert len(set(ids)) == len(ids), "request ids are unique"
    assert all(r.error == "" for r in of(Reply, events))


@pytest.mark.parametrize("status", [401, 403, 404])
def test_a_handshake_refused_with_401_403_or_404_is_fatal_not_retried(status: int) -> None:
    """Retrying cannot fix a wrong URL or missing access: one final Disconnected(fatal), then StreamRefused."""

    async def main() -> list[StreamEvent]:
        def refuse(connection, request):  # websockets' process_request hook
            return connection.respond(status, "no\n")

        async with serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0, process_request=refuse) as server:
            port = server.sockets[0].getsockname()[1]
            waits = Waits()
            stream = KlineStream(f"ws://127.0.0.1:{port}", ("BTCUSDT",), "1m", backoff=counting_backoff, sleep=waits)
            events: list[StreamEvent] = []

            async def consume() -> None:
                async with asyncio.timeout(TIMEOUT_S), aclosing(stream.events()) as source:
                    async for event in source:
                        events.append(event)  # noqa: PERF401 - keep the events that came before the error

            with pytest.raises(StreamRefused, match=str(status)):
                await consume()
            assert waits == [], "no reconnect attempt was waited for"
            return events

    events = asyncio.run(main())
    assert len(events) == 1
    (final,) = events
    assert isinstance(final, Disconnected) and final.fatal and final.retry_in_s is None


def test_a_handshake_refused_with_503_is_retried() -> None:
    async def main() -> list[float]:
        def refuse(connection, request):
            return connection.respond(503, "busy\n")

        async with serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0, process_request=refuse) as server:
            port = server.sockets[0].getsockname()[1]
            waits = Waits()
            stream = KlineStream(f"ws://127.0.0.1:{port}", ("BTCUSDT",), "1m", backoff=counting_backoff, sleep=waits)
            events = await collect(stream, count(Disconnected, 3))
            assert not any(e.fatal for e in of(Disconnected, events))
            return waits

    assert asyncio.run(main()) == [1.0, 2.0], "two reconnect waits so far, growing with the backoff"


# ---------------------------------------------------------------------------------------------- the simulator
@pytest.fixture
def simulator() -> SimulatorServer:
    server = SimulatorServer(Market.replay(("BTCUSDT", "ETHUSDT"), speed=6000), update_interval_ms=20).start()
    yield server
    server.stop()


def test_simulator_candles_flow_and_closed_candles_are_consecutive(simulator: SimulatorServer) -> None:
    def enough(events: list[StreamEvent]) -> bool:
        closed = [e.candle.symbol for e in of(KlineEvent, events) if e.candle.closed]
        return closed.count("BTCUSDT") >= 10 and closed.count("ETHUSDT") >= 10

    events = asyncio.run(collect(KlineStream(simulator.ws_url, ("BTCUSDT", "ETHUSDT"), "1m"), enough))
    assert isinstance(events[0], Connected) and not of(Disconnected, events) and not of(BadMessage, events)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        times = [e.candle.open_time_ms for e in of(KlineEvent, events) if e.candle.closed and e.candle.symbol == symbol]
        assert {b - a for a, b in itertools.pairwise(times)} == {MINUTE_MS}, symbol


def test_simulator_answers_subscription_requests_sent_in_a_row(simulator: SimulatorServer) -> None:
    """Five requests in a row are answered and the connection stays up. Five, so the simulator's limit (more than 5
    messages within a second closes the connection) cannot be reached whatever the scheduling: the limiter's spacing
    itself is proven on a hand-moved clock in tests/engine/guards/test_ws_limiter.py."""

    async def main() -> list[StreamEvent]:
        stream = KlineStream(simulator.ws_url, ("BTCUSDT",), "1m")
        events: list[StreamEvent] = []
        async with asyncio.timeout(TIMEOUT_S), aclosing(stream.events()) as source:
            async for event in source:
                events.append(event)
                if isinstance(event, Connected):
                    for i in range(5):
                        await (stream.subscribe([ETH]) if i % 2 == 0 else stream.unsubscribe([ETH]))
                if len(of(Reply, events)) == 5 or of(Disconnected, events):
                    return events
        return events

    events = asyncio.run(main())
    assert not of(Disconnected, events)
    assert [r.error for r in of(Reply, events)] == [""] * 5
