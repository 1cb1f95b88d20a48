"""The simulator served for real over loopback: REST with httpx, streams with websockets, start/stop lifecycle."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from decimal import Decimal

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from simulator.kline import INTERVAL_MS
from simulator.market import Market
from simulator.server import SimulatorServer, SimulatorStartError

STREAMS = "btcusdt@kline_1m/ethusdt@kline_1m"


async def receive_until_closed(ws: ClientConnection) -> None:
    """Reads until the connection closes; ends only by raising ``ConnectionClosed``."""
    while True:
        await ws.recv()


@pytest.fixture
def fast_market() -> Market:
    """Speed 6000: 100 candles per wall second."""
    return Market.replay(speed=6000.0)


@pytest.fixture
def server(fast_market: Market):
    with SimulatorServer(fast_market, update_interval_ms=20) as running:
        yield running


def test_klines_over_http_are_12_field_rows_with_string_prices(server: SimulatorServer) -> None:
    response = httpx.get(
        f"{server.rest_url}/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1m", "limit": 10}
    )

    assert response.status_code == 200
    assert response.headers["X-MBX-USED-WEIGHT-1M"] == "2"
    rows = response.json()
    assert len(rows) == 10
    assert all(len(row) == 12 for row in rows)
    assert all(isinstance(text, str) and Decimal(text) > 0 for row in rows for text in row[1:5])
    assert [row[0] for row in rows] == list(range(rows[0][0], rows[0][0] + 10 * INTERVAL_MS, INTERVAL_MS))


def test_combined_stream_at_high_speed_has_no_gap_and_no_duplicate(
    server: SimulatorServer, fast_market: Market
) -> None:
    """For ~1 s at 100 candles/s, each symbol's closed candles are exactly the dataset's consecutive candles."""

    async def collect_closed() -> dict[str, list[int]]:
        closed: dict[str, list[int]] = {"BTCUSDT": [], "ETHUSDT": []}
        async with connect(f"{server.ws_url}/stream?streams={STREAMS}") as ws:
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                kline = json.loads(await asyncio.wait_for(ws.recv(), timeout=2.0))["data"]["k"]
                if kline["x"]:
                    closed[kline["s"]].append(kline["t"])
        return closed

    closed = asyncio.run(collect_closed())

    for symbol, opens in closed.items():
        dataset = fast_market.dataset(symbol)
        first = dataset.index_at_or_after(opens[0])
        assert len(opens) >= 50, f"{symbol}: only {len(opens)} closed candles in 1 s at 100/s"
        assert opens == list(dataset.open_time_ms[first : first + len(opens)]), symbol


def test_server_pings_websocket_clients(fast_market: Market, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="websockets.client")

    async def listen(ws_url: str) -> None:
        async with connect(f"{ws_url}/ws") as ws:
            await asyncio.sleep(0.2)
            await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 1}))
            assert json.loads(await ws.recv()) == {"result": [], "id": 1}

    with SimulatorServer(fast_market, ws_ping_interval_s=0.05) as server:
        asyncio.run(listen(server.ws_url))

    assert any(record.getMessage().startswith("< PING") for record in caplog.records)


def test_stop_closes_open_streams_with_1012(server: SimulatorServer) -> None:
    async def stop_while_connected() -> int | None:
        async with connect(f"{server.ws_url}/stream?streams={STREAMS}") as ws:
            await ws.recv()
            await asyncio.to_thread(server.stop)
            with pytest.raises(ConnectionClosed) as closed:
                await receive_until_closed(ws)
            return closed.value.rcvd.code if closed.value.rcvd else None

    assert asyncio.run(stop_while_connected()) == 1012


def test_stop_frees_the_port_and_is_idempotent(fast_market: Market) -> None:
    server = SimulatorServer(fast_market).start()
    port = server.port
    assert httpx.get(f"{server.rest_url}/api/v3/ping").json() == {}

    server.stop()
    server.stop()

    with socket.create_server(("127.0.0.1", port)):
        pass
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.rest_url}/api/v3/ping")


def test_start_on_a_busy_port_raises_a_clear_error(fast_market: Market) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        with pytest.raises(SimulatorStartError, match=f"cannot bind the simulator to 127.0.0.1:{port}"):
            SimulatorServer(fast_market, port=port).start()


def test_a_server_runs_once(fast_market: Market) -> None:
    with SimulatorServer(fast_market) as server, pytest.raises(SimulatorStartError, match="already started"):
        server.start()
