"""The REST guards against the real simulator's injected faults, on one shared fake clock: the simulator's weight
minute, its ban timer and the client's guards all read it, and the client's sleeps advance it, so the timeline of
requests the simulator received can be checked against the Retry-After it sent, without waiting for real."""

from __future__ import annotations

import httpx
import pytest

from engine.errors import HostBanned, HTTPStatusError, RateLimitExceeded
from engine.feed.rest import BinanceRestClient
from engine.guards.retry import RetryAttempt
from simulator.faults import Faults
from simulator.market import Market
from simulator.server import SimulatorServer
from simulator.weights import RequestWeights

EPOCH_S = 1_700_000_000.0


class RecordingTransport(httpx.AsyncHTTPTransport):
    """The real loopback transport, noting (fake time, status, Retry-After) of every request actually sent."""

    def __init__(self, clock) -> None:
        super().__init__()
        self.clock = clock
        self.sent: list[tuple[float, int, float | None]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        retry_after = response.headers.get("Retry-After")
        self.sent.append((self.clock(), response.status_code, float(retry_after) if retry_after else None))
        return response


@pytest.fixture
def venue(clock):
    """Simulator whose weight minute and fault timers run on the test's fake clock."""
    weights = RequestWeights(clock=lambda: EPOCH_S + clock())
    faults = Faults(clock=clock)
    server = SimulatorServer(Market.replay(("BTCUSDT",), speed=60, weights=weights), faults=faults).start()
    yield server, faults
    server.stop()


def _client(server: SimulatorServer, clock, transport: RecordingTransport, events: list[RetryAttempt]) -> BinanceRestClient:
    return BinanceRestClient(
        server.rest_url, transport=transport, clock=clock, sleep=clock.sleep, on_attempt=events.append
    )


async def test_under_a_429_storm_nothing_is_sent_before_retry_after_expires(clock, venue) -> None:
    """Every request after a 429 leaves at or after that 429's time + Retry-After: retries wait for it, and a new
    call within it is refused without sending (the wait is past ``max_wait_s``); the client never provokes the
    simulator's automatic 418 ban."""
    server, faults = venue
    faults.update(rest_429_storm=True)
    transport, events = RecordingTransport(clock), []
    client = _client(server, clock, transport, events)

    with pytest.raises(HTTPStatusError):
        await client.server_time_ms()
    assert len(transport.sent) == 4  # 1 try + 3 retries
    with pytest.raises(RateLimitExceeded):
        await client.server_time_ms()
    assert len(transport.sent) == 4
    clock.advance(transport.sent[-1][2])
    with pytest.raises(HTTPStatusError):
        await client.server_time_ms()

    assert len(transport.sent) == 8
    for (t0, status, retry_after), (t1, _, _) in zip(transport.sent, transport.sent[1:], strict=False):
        assert status == 429 and retry_after is not None
        assert t1 >= t0 + retry_after
    assert {s for _, s, _ in transport.sent} == {429}
    await client.aclose()


async def test_after_a_418_nothing_is_sent_to_the_host_until_the_ban_ends(clock, venue) -> None:
    """The 418's Retry-After bans the whole host: calls fail at once without a request reaching the simulator,
    and the first call after the ban goes through."""
    server, faults = venue
    faults.update(rest_418_ban_s=30)
    transport, events = RecordingTransport(clock), []
    client = _client(server, clock, transport, events)

    with pytest.raises(HTTPStatusError) as caught:
        await client.server_time_ms()
    assert caught.value.status == 418
    assert len(transport.sent) == 1

    for _ in range(5):
        clock.advance(5.0)
        with pytest.raises(HostBanned):
            await client.server_time_ms()
    assert len(transport.sent) == 1
    assert [e.outcome for e in events] == ["banned"] * 6

    clock.advance(5.0)  # 30 s after the 418
    faults.update(rest_418_ban_s=0)
    assert await client.server_time_ms() > 0
    assert [s for _, s, _ in transport.sent] == [418, 200]
    await client.aclose()
