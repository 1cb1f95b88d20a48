"""Fault injection, each fault observed over the real server on loopback (httpx for REST, websockets for streams).

The faults run on a hand-advanced clock (bans, connection ages) and a seeded random source; request weight on a
hand-advanced wall clock, so headers are exact.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK

from simulator.faults import AUTO_BAN_AFTER_429S, AUTO_BAN_S, Faults, FaultSettings
from simulator.kline import INTERVAL_MS
from simulator.market import Market
from simulator.rest import SERVER_ERROR_STATUSES
from simulator.server import SimulatorServer
from simulator.streams import BAD_PRICES
from simulator.weights import RequestWeights

if TYPE_CHECKING:
    from tests.simulator.conftest import FakeClock

BTC = "btcusdt@kline_1m"


@pytest.fixture
def faults(faults_clock: FakeClock, wall_clock: FakeClock) -> Faults:
    return Faults(rng=random.Random(7), clock=faults_clock, unix_clock=wall_clock)


@pytest.fixture
def server(faults: Faults, wall_clock: FakeClock) -> Iterator[SimulatorServer]:
    market = Market.replay(speed=6000.0, weights=RequestWeights(clock=wall_clock))
    with SimulatorServer(market, update_interval_ms=20, faults=faults) as running:
        yield running


def ping(server: SimulatorServer, **kwargs: Any) -> httpx.Response:
    return httpx.get(f"{server.rest_url}/api/v3/ping", **kwargs)


def used_weight(response: httpx.Response) -> int:
    return int(response.headers["X-MBX-USED-WEIGHT-1M"])


async def messages(ws: ClientConnection, count: int) -> list[str]:
    return [await asyncio.wait_for(ws.recv(), timeout=2.0) for _ in range(count)]


async def receive_until_closed(ws: ClientConnection) -> None:
    """Reads until the connection closes; ends only by raising (``ConnectionClosed`` or a 2 s timeout)."""
    while True:
        await asyncio.wait_for(ws.recv(), timeout=2.0)


def stream_texts(server: SimulatorServer, count: int, stream: str = BTC) -> list[str]:
    async def collect() -> list[str]:
        async with connect(f"{server.ws_url}/ws/{stream}") as ws:
            return await messages(ws, count)

    return asyncio.run(collect())


def closed_opens(server: SimulatorServer, count: int) -> list[int]:
    """Open times of the first ``count`` closed kline events of the BTC raw stream, as received."""

    async def collect() -> list[int]:
        opens: list[int] = []
        async with connect(f"{server.ws_url}/ws/{BTC}") as ws:
            while len(opens) < count:
                kline = json.loads(await asyncio.wait_for(ws.recv(), timeout=2.0))["k"]
                if kline["x"]:
                    opens.append(kline["t"])
        return opens

    return asyncio.run(collect())


# --- settings --------------------------------------------------------------------------------------------------


def test_every_fault_is_off_by_default(server: SimulatorServer) -> None:
    assert server.faults.settings == FaultSettings()
    assert not any(FaultSettings().model_dump().values())
    assert ping(server).status_code == 200


def test_update_replaces_the_settings_as_a_whole_and_rejects_bad_values_without_change(faults: Faults) -> None:
    before = faults.settings
    after = faults.update(ws_stall=True, rest_5xx_rate=1)

    assert after is faults.settings and after is not before
    assert (after.ws_stall, after.rest_5xx_rate, before.ws_stall) == (True, 1.0, False)
    for bad in ({"rest_5xx_rate": 1.5}, {"rest_delay_ms": -1}, {"no_such_fault": True}, {"ws_stall": "yes"}):
        with pytest.raises(ValidationError):
            faults.update(**bad)
        assert faults.settings is after
    assert faults.reset() == FaultSettings()


# --- REST --------------------------------------------------------------------------------------------------------


def test_429_storm_refuses_every_request_with_retry_after_and_1003(server: SimulatorServer) -> None:
    server.faults.update(rest_429_storm=True)
    refused = ping(server)
    server.faults.update(rest_429_storm=False)

    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) in range(1, 61)
    assert refused.json()["code"] == -1003
    assert used_weight(refused) == 1
    assert ping(server).status_code == 200


def test_418_ban_answers_the_remaining_seconds_and_ends_after_the_ban(
    server: SimulatorServer, faults_clock: FakeClock
) -> None:
    server.faults.update(rest_418_ban_s=30)
    banned = ping(server)
    faults_clock.advance(20.5)
    still_banned = ping(server)
    faults_clock.advance(10)
    after = ping(server)

    assert (banned.status_code, banned.headers["Retry-After"]) == (418, "30")
    assert banned.json() == {
        "code": -1003,
        "msg": "Way too much request weight used; IP banned until 1700000025500. "
        "Please use WebSocket Streams for live updates to avoid bans.",
    }, "Binance 'Error codes' -1003: banned until <Unix ms> (the wall clock is 1699999995.5 s)"
    assert used_weight(banned) == 1
    assert (still_banned.status_code, still_banned.headers["Retry-After"]) == (418, "10")
    assert after.status_code == 200


def test_ignoring_429s_gets_the_ip_banned_with_418(server: SimulatorServer) -> None:
    """The first 429 is fair; each further request before its Retry-After is an ignored 429; enough of them ban."""
    server.faults.update(rest_429_storm=True)
    answers = [ping(server) for _ in range(AUTO_BAN_AFTER_429S + 2)]

    assert [r.status_code for r in answers] == [429] * (AUTO_BAN_AFTER_429S + 1) + [418]
    assert answers[-1].headers["Retry-After"] == str(AUTO_BAN_S)
    assert server.faults.ban_remaining_s() == AUTO_BAN_S


def test_5xx_rate_1_answers_only_server_errors(server: SimulatorServer) -> None:
    server.faults.update(rest_5xx_rate=1.0)
    answers = [ping(server) for _ in range(8)]

    assert all(r.status_code in SERVER_ERROR_STATUSES for r in answers)
    assert len({r.status_code for r in answers}) > 1
    assert all(r.json()["code"] == -1001 and "X-MBX-USED-WEIGHT-1M" in r.headers for r in answers)


def test_delay_makes_a_client_with_a_shorter_timeout_time_out(server: SimulatorServer) -> None:
    server.faults.update(rest_delay_ms=400)
    with pytest.raises(httpx.ReadTimeout):
        ping(server, timeout=0.1)

    assert ping(server, timeout=2.0).status_code == 200


def test_background_weight_joins_the_same_ips_tally(server: SimulatorServer, wall_clock: FakeClock) -> None:
    assert used_weight(ping(server)) == 1
    server.faults.update(background_weight_per_s=100)
    wall_clock.advance(2.0)

    assert used_weight(ping(server)) == 1 + 200 + 1
    wall_clock.advance(0.015)
    assert used_weight(ping(server)) == 202 + 1 + 1  # 1.5 weight: 1 counted, 0.5 carried
    wall_clock.advance(0.005)
    assert used_weight(ping(server)) == 204 + 1 + 1


# --- control API -------------------------------------------------------------------------------------------------


def test_control_api_round_trip(server: SimulatorServer) -> None:
    url = f"{server.rest_url}/_sim/faults"

    assert httpx.get(url).json() == FaultSettings().model_dump()
    changed = httpx.post(url, json={"ws_stall": True, "rest_5xx_rate": 0.25, "rest_delay_ms": 5})
    assert changed.status_code == 200
    expected = {**FaultSettings().model_dump(), "ws_stall": True, "rest_5xx_rate": 0.25, "rest_delay_ms": 5}
    assert changed.json() == expected
    assert httpx.get(url).json() == changed.json() == server.faults.settings.model_dump()

    for bad in ({"no_such_fault": 1}, {"rest_5xx_rate": 2}, [1]):
        refused = httpx.post(url, json=bad)
        assert refused.status_code == 400 and "error" in refused.json()
    assert httpx.post(url, content=b"{not json").status_code == 400
    assert server.faults.settings.model_dump() == changed.json()

    assert httpx.delete(url).json() == FaultSettings().model_dump()
    assert server.faults.settings == FaultSettings()
    assert "X-MBX-USED-WEIGHT-1M" not in httpx.get(url).headers


def test_control_api_schedules_a_shock_from_the_next_candle(server: SimulatorServer) -> None:
    url = f"{server.rest_url}/_sim/shock"
    before_ms = server.market.now_ms()

    shock = httpx.post(url, json={"pct": 8, "candles": 5}).json()

    assert shock["pct"] == 8 and shock["candles"] == 5
    assert shock["start_ms"] % INTERVAL_MS == 0 and shock["start_ms"] > before_ms
    assert httpx.get(url).json() == [shock]
    for bad in ({"pct": 100, "candles": 5}, {"pct": 8, "candles": 0}, {"pct": "8", "candles": 5}, {"pct": 8}):
        assert httpx.post(url, json=bad).status_code == 400
    assert len(server.market.shocks) == 1


# --- streams -----------------------------------------------------------------------------------------------------


def test_drop_closes_the_connection_without_a_close_frame(server: SimulatorServer, faults_clock: FakeClock) -> None:
    server.faults.update(ws_drop_every_s=5.0)

    async def until_closed() -> ConnectionClosedError:
        async with connect(f"{server.ws_url}/ws/{BTC}") as ws:
            await messages(ws, 3)
            faults_clock.advance(5.0)
            with pytest.raises(ConnectionClosedError) as closed:
                await receive_until_closed(ws)
            return closed.value

    closed = asyncio.run(until_closed())
    assert closed.rcvd is None  # no close frame: websockets reports 1006


def test_scheduled_close_is_a_normal_close_1000(server: SimulatorServer, faults_clock: FakeClock) -> None:
    server.faults.update(ws_close_every_s=5.0)

    async def until_closed() -> int | None:
        async with connect(f"{server.ws_url}/ws/{BTC}") as ws:
            await messages(ws, 3)
            faults_clock.advance(5.0)
            with pytest.raises(ConnectionClosedOK) as closed:
                await receive_until_closed(ws)
            return closed.value.rcvd.code if closed.value.rcvd else None

    assert asyncio.run(until_closed()) == 1000


def test_stall_keeps_the_connection_open_without_data(server: SimulatorServer) -> None:
    server.faults.update(ws_stall=True)

    async def stalled() -> tuple[dict, dict]:
        async with connect(f"{server.ws_url}/ws/{BTC}") as ws:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ws.recv(), timeout=0.3)  # 15 ticks
            await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 1}))
            reply = json.loads(await asyncio.wait_for(ws.recv(), timeout=2.0))
            server.faults.update(ws_stall=False)
            return reply, json.loads(await asyncio.wait_for(ws.recv(), timeout=2.0))

    reply, event = asyncio.run(stalled())
    assert reply == {"result": [BTC], "id": 1}
    assert event["e"] == "kline"


def test_malformed_rate_sends_some_messages_that_are_not_json(server: SimulatorServer) -> None:
    server.faults.update(ws_malformed_rate=0.5)

    def is_json(text: str) -> bool:
        try:
            json.loads(text)
        except ValueError:
            return False
        return True

    parsed = [is_json(text) for text in stream_texts(server, 40)]
    assert 0 < parsed.count(False) < 40


def test_bad_price_rate_sends_zero_negative_nan_and_text_closes(server: SimulatorServer) -> None:
    server.faults.update(bad_price_rate=0.5)

    closes = [json.loads(text)["k"]["c"] for text in stream_texts(server, 60)]

    bad = {c for c in closes if c in BAD_PRICES}
    assert bad == set(BAD_PRICES)
    assert all(Decimal(c) > 0 for c in closes if c not in BAD_PRICES)


def test_duplicate_rate_1_sends_every_closed_candle_twice(server: SimulatorServer) -> None:
    server.faults.update(duplicate_rate=1.0)

    opens = closed_opens(server, 20)

    assert opens[0::2] == opens[1::2]
    assert opens[0::2] == list(range(opens[0], opens[0] + 10 * INTERVAL_MS, INTERVAL_MS))


def test_out_of_order_rate_1_follows_closed_candles_with_older_ones(server: SimulatorServer) -> None:
    server.faults.update(out_of_order_rate=1.0)

    opens = closed_opens(server, 21)

    fresh, older = opens[:1] + opens[1::2], opens[2::2]  # the first closed candle has nothing older to follow it
    assert fresh == list(range(opens[0], opens[0] + 11 * INTERVAL_MS, INTERVAL_MS))
    assert all(new - 5 * INTERVAL_MS <= old < new for new, old in zip(fresh[1:], older, strict=True))
