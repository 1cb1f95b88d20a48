"""BinanceRestClient behind its guards: httpx.MockTransport for scripted answers, the real simulator over loopback
for the rate limit. Sleeps are recorded on a fake clock, never slept."""

from __future__ import annotations

import random

import httpx
import pytest

from engine.errors import ApiBreakerOpen, HostBanned, HTTPStatusError, RateLimitExceeded, RequestTimeout
from engine.feed.rest import BinanceRestClient, request_weight
from engine.guards.api_breaker import ApiBreakerState
from engine.guards.rate_limiter import RateLimiter
from engine.guards.retry import RetryAttempt
from simulator.market import Market
from simulator.server import SimulatorServer
from simulator.weights import RequestWeights

BASE_URL = "https://api.test"


class Venue:
    """Scripted venue: answers in turn with the given statuses (``"timeout"`` raises a read timeout), then 200.

    ``Venue.handler`` is the one MockTransport handler; every answer carries ``X-MBX-USED-WEIGHT-1M`` = requests
    seen × ``weight_each``.
    """

    def __init__(self, *answers: int | str, retry_after: str | None = None, weight_each: int = 1) -> None:
        self.answers = list(answers)
        self.retry_after = retry_after
        self.weight_each = weight_each
        self.requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else 200
        if answer == "timeout":
            raise httpx.ReadTimeout("read timed out", request=request)
        headers = {"X-MBX-USED-WEIGHT-1M": str(len(self.requests) * self.weight_each)}
        if answer == 200:
            return httpx.Response(200, json={"serverTime": 1_700_000_000_000}, headers=headers)
        if self.retry_after is not None:
            headers["Retry-After"] = self.retry_after
        return httpx.Response(answer, json={"code": -1, "msg": f"scripted {answer}"}, headers=headers)


def _client(venue: Venue, clock, events: list[RetryAttempt], **kwargs) -> BinanceRestClient:
    return BinanceRestClient(
        BASE_URL,
        transport=httpx.MockTransport(venue.handler),
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(11),
        on_attempt=events.append,
        **kwargs,
    )


async def test_answer_syncs_the_limiter_and_reports_an_ok_attempt(clock) -> None:
    events: list[RetryAttempt] = []
    client = _client(Venue(weight_each=1500), clock, events)
    assert await client.server_time_ms() == 1_700_000_000_000
    status = client.guard_status()
    assert client.used_weight_1m == 1500
    assert (status.limiter.server_used_weight, status.limiter.used_weight) == (1500, 1500)
    assert status.breaker.state is ApiBreakerState.CLOSED and not status.ban.banned
    assert [(e.endpoint, e.status, e.attempt, e.outcome) for e in events] == [("/api/v3/time", 200, 0, "ok")]
    await client.aclose()


async def test_5xx_and_timeouts_are_retried_with_jittered_backoff(clock) -> None:
    events: list[RetryAttempt] = []
    venue = Venue(503, "timeout", 502)
    client = _client(venue, clock, events)
    await client.server_time_ms()
    assert len(venue.requests) == 4
    assert [(e.reason, e.outcome) for e in events] == [
        ("5xx", "retry"), ("timeout", "retry"), ("5xx", "retry"), ("ok", "ok")
    ]
    for nominal_s, slept_s in zip([1, 2, 4], clock.sleeps, strict=True):
        assert 0.75 * nominal_s <= slept_s <= 1.25 * nominal_s
    assert client.guard_status().breaker.consecutive_failures == 0
    await client.aclose()


async def test_timeouts_give_up_after_three_retries(clock) -> None:
    events: list[RetryAttempt] = []
    client = _client(Venue(*["timeout"] * 4), clock, events)
    with pytest.raises(RequestTimeout):
        await client.server_time_ms()
    assert [e.outcome for e in events] == ["retry", "retry", "retry", "giveup"]
    await client.aclose()


async def test_429_waits_at_least_retry_after(clock) -> None:
    events: list[RetryAttempt] = []
    client = _client(Venue(429, retry_after="9"), clock, events)
    await client.server_time_ms()
    assert clock.sleeps == [9.0]
    assert events[0].status == 429 and events[0].delay_s == 9.0
    await client.aclose()


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_client_errors_are_raised_at_once_and_do_not_count_against_the_host(clock, status: int) -> None:
    events: list[RetryAttempt] = []
    venue = Venue(status)
    client = _client(venue, clock, events)
    with pytest.raises(HTTPStatusError) as caught:
        await client.server_time_ms()
    assert caught.value.status == status
    assert len(venue.requests) == 1 and clock.sleeps == []
    assert client.guard_status().breaker.consecutive_failures == 0
    await client.aclose()


async def test_418_blocks_every_call_to_the_host_until_the_ban_ends(clock) -> None:
    events: list[RetryAttempt] = []
    venue = Venue(418, retry_after="120")
    client = _client(venue, clock, events)
    with pytest.raises(HTTPStatusError):
        await client.server_time_ms()
    clock.advance(119)
    with pytest.raises(HostBanned) as caught:
        await client.get("/api/v3/klines", {"symbol": "BTCUSDT"})
    assert caught.value.retry_after_s == pytest.approx(1.0)
    assert len(venue.requests) == 1, "nothing is sent while banned"
    assert client.guard_status().ban.banned
    assert [(e.status, e.outcome, e.reason) for e in events] == [
        (418, "banned", "418"), (None, "banned", "host_banned")
    ]
    clock.advance(1)
    await client.server_time_ms()
    assert len(venue.requests) == 2
    await client.aclose()


async def test_breaker_opens_after_five_failures_rejects_without_sending_then_closes_on_a_good_trial(clock) -> None:
    events: list[RetryAttempt] = []
    venue = Venue(*[500] * 5)
    client = _client(venue, clock, events)
    with pytest.raises(HTTPStatusError):
        await client.server_time_ms()
    with pytest.raises(ApiBreakerOpen):
        await client.server_time_ms()
    assert len(venue.requests) == 5
    assert events[-1].outcome == "breaker_open"
    assert client.guard_status().breaker.state is ApiBreakerState.OPEN
    clock.advance(60)
    await client.server_time_ms()
    assert client.guard_status().breaker.state is ApiBreakerState.CLOSED
    await client.aclose()


async def test_limiter_refuses_before_sending_when_the_server_says_the_ip_is_nearly_out(clock) -> None:
    events: list[RetryAttempt] = []
    venue = Venue(weight_each=5990)
    limiter = RateLimiter(max_wait_s=0.0, clock=clock, sleep=clock.sleep)
    client = _client(venue, clock, events, limiter=limiter)
    await client.server_time_ms()
    with pytest.raises(RateLimitExceeded):
        await client.exchange_info(("BTCUSDT",))
    assert len(venue.requests) == 1
    assert events[-1].reason == "rate_limit"
    await client.aclose()


@pytest.mark.parametrize(
    ("path", "params", "weight"),
    [
        ("/api/v3/klines", {"symbol": "BTCUSDT"}, 2),
        ("/api/v3/exchangeInfo", None, 20),
        ("/api/v3/ticker/price", {"symbol": "BTCUSDT"}, 2),
        ("/api/v3/ticker/price", None, 4),
        ("/api/v3/depth", {"symbol": "BTCUSDT"}, 5),
        ("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 500}, 25),
        ("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 1000}, 50),
        ("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5000}, 250),
    ],
)
def test_request_weights(path: str, params: dict | None, weight: int) -> None:
    assert request_weight(path, params) == weight


def test_unknown_paths_have_no_weight() -> None:
    with pytest.raises(ValueError, match="no request weight known"):
        request_weight("/api/v3/order")


@pytest.fixture
def simulator():
    """The real simulator with a REQUEST_WEIGHT limit of 50 per minute, its weight minute frozen (no rollover)."""
    weights = RequestWeights(limit_per_minute=50, clock=lambda: 1_700_000_010.0)
    market = Market.replay(("BTCUSDT",), speed=60, weights=weights)
    server = SimulatorServer(market).start()
    yield market, server
    server.stop()


async def test_limiter_synced_from_the_simulator_stops_the_client_before_a_429(clock, simulator) -> None:
    """Another client on the IP used 40 of the 50: on its own count the limiter would allow 25 klines calls, but
    the ``X-MBX-USED-WEIGHT-1M`` it syncs from stops it at the limit, before the simulator answers 429."""
    market, server = simulator
    market.weights.add("127.0.0.1", 40)
    events: list[RetryAttempt] = []
    limiter = RateLimiter(limit=50, max_wait_s=0.0, clock=clock, sleep=clock.sleep)
    client = BinanceRestClient(
        server.rest_url, limiter=limiter, clock=clock, sleep=clock.sleep, on_attempt=events.append
    )
    for _ in range(5):
        await client.klines("BTCUSDT", "1m", limit=5, server_time_ms=market.now_ms())
    with pytest.raises(RateLimitExceeded):
        await client.klines("BTCUSDT", "1m", limit=5, server_time_ms=market.now_ms())
    assert [e.status for e in events] == [200] * 5 + [None]
    assert (events[-1].outcome, events[-1].reason) == ("giveup", "rate_limit")
    assert client.used_weight_1m == market.weights.used("127.0.0.1") == 50
    await client.aclose()


async def test_simulator_429_is_retried_after_its_retry_after(clock, simulator) -> None:
    market, server = simulator
    market.weights.add("127.0.0.1", 50)
    events: list[RetryAttempt] = []
    client = BinanceRestClient(server.rest_url, clock=clock, sleep=clock.sleep, on_attempt=events.append)
    with pytest.raises(HTTPStatusError) as caught:
        await client.server_time_ms()
    assert caught.value.status == 429 and caught.value.retry_after_s is not None
    retried = [e for e in events if e.outcome == "retry"]
    assert [e.reason for e in retried] == ["429"] * 3
    assert all(slept >= 1 for slept in clock.sleeps) and len(clock.sleeps) == 3
    assert all(e.delay_s >= caught.value.retry_after_s - 1 for e in retried)
    await client.aclose()
