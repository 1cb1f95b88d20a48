"""The REQUEST_WEIGHT token bucket, on a fake clock (limit 60 per 60 s: one token per second)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from engine.errors import RateLimitExceeded
from engine.guards.rate_limiter import RateLimiter


def _limiter(clock, **kwargs) -> RateLimiter:
    settings = {"limit": 60, "interval_s": 60.0, "max_wait_s": 10.0, **kwargs}
    return RateLimiter(**settings, clock=clock, sleep=clock.sleep)


async def test_takes_the_whole_bucket_without_waiting(clock) -> None:
    limiter = _limiter(clock)
    assert await limiter.acquire(60) == 0.0
    assert clock.sleeps == []
    assert limiter.status().used_weight == 60
    assert limiter.status().utilisation == 1.0


async def test_one_weight_over_the_bucket_waits_for_its_refill(clock) -> None:
    limiter = _limiter(clock)
    await limiter.acquire(59)
    assert await limiter.acquire(2) == pytest.approx(1.0)
    assert clock.sleeps == [pytest.approx(1.0)]
    status = limiter.status()
    assert (status.last_wait_s, status.total_wait_s) == (pytest.approx(1.0), pytest.approx(1.0))


async def test_tokens_refill_continuously_with_the_clock(clock) -> None:
    limiter = _limiter(clock)
    await limiter.acquire(60)
    clock.advance(30)
    assert limiter.status().used_weight == pytest.approx(30)
    assert await limiter.acquire(30) == 0.0
    clock.advance(1000)
    assert limiter.status().used_weight == 0, "refill stops at the bucket size"


async def test_burst_sets_the_bucket_size(clock) -> None:
    limiter = _limiter(clock, burst=10)
    await limiter.acquire(10)
    assert await limiter.acquire(1) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"weight must be within 0\.\.10"):
        await limiter.acquire(11)


async def test_wait_of_exactly_max_wait_s_is_allowed(clock) -> None:
    limiter = _limiter(clock)
    await limiter.acquire(60)
    assert await limiter.acquire(10) == pytest.approx(10.0)


async def test_wait_just_over_max_wait_s_raises_and_takes_nothing(clock) -> None:
    limiter = _limiter(clock)
    await limiter.acquire(60)
    with pytest.raises(RateLimitExceeded) as caught:
        await limiter.acquire(11, endpoint="/api/v3/klines")
    assert caught.value.wait_s == pytest.approx(11.0)
    assert caught.value.max_wait_s == 10.0
    assert caught.value.endpoint == "/api/v3/klines"
    assert clock.sleeps == []
    assert limiter.status().used_weight == 60


async def test_queued_requests_wait_in_arrival_order_and_are_counted_as_waiting(clock) -> None:
    gate = asyncio.Event()
    slept: list[float] = []

    async def held_sleep(seconds: float) -> None:
        slept.append(seconds)
        await gate.wait()

    limiter = RateLimiter(limit=60, interval_s=60.0, clock=clock, sleep=held_sleep)
    await limiter.acquire(60)
    first = asyncio.create_task(limiter.acquire(3))
    second = asyncio.create_task(limiter.acquire(3))
    await asyncio.sleep(0)
    assert slept == [pytest.approx(3.0), pytest.approx(6.0)], "the second waits for the first's tokens too"
    assert limiter.status().waiting == 2
    gate.set()
    await asyncio.gather(first, second)
    assert limiter.status().waiting == 0


async def test_a_cancelled_waiter_gives_its_tokens_back(clock) -> None:
    async def forever(seconds: float) -> None:
        await asyncio.Event().wait()

    limiter = RateLimiter(limit=60, interval_s=60.0, clock=clock, sleep=forever)
    await limiter.acquire(60)
    task = asyncio.create_task(limiter.acquire(5))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert limiter.status().used_weight == 60
    assert limiter.status().waiting == 0


async def test_server_header_lowers_the_tokens_left(clock) -> None:
    """Other clients on the IP used weight: the server's count wins when it is higher than ours."""
    limiter = _limiter(clock)
    await limiter.acquire(5)
    limiter.sync_used_weight(50)
    status = limiter.status()
    assert (status.used_weight, status.server_used_weight) == (50, 50)
    assert await limiter.acquire(10) == 0.0
    assert await limiter.acquire(1) == pytest.approx(1.0)


async def test_server_header_never_raises_the_tokens_left(clock) -> None:
    limiter = _limiter(clock)
    await limiter.acquire(40)
    limiter.sync_used_weight(2)
    assert limiter.status().used_weight == 40


async def test_server_count_over_the_limit_makes_the_next_request_wait(clock) -> None:
    limiter = _limiter(clock)
    limiter.sync_used_weight(62)
    with pytest.raises(RateLimitExceeded) as caught:
        await limiter.acquire(10)
    assert caught.value.wait_s == pytest.approx(12.0)


async def test_warns_once_past_80_pct_and_again_after_dropping_below(clock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="engine.guards.rate_limiter")
    limiter = RateLimiter(limit=100, interval_s=100.0, clock=clock, sleep=clock.sleep)
    await limiter.acquire(80)
    assert caplog.records == [], "exactly 80 % has not passed 80 %"
    await limiter.acquire(1)
    await limiter.acquire(5)
    limiter.sync_used_weight(95)
    assert len(caplog.records) == 1
    assert "passed 80.0 %" in caplog.records[0].getMessage()
    clock.advance(20)
    limiter.status()
    await limiter.acquire(10)
    assert len(caplog.records) == 2, "re-armed after dropping below 80 %"


def test_rejects_nonsense_settings(clock) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        RateLimiter(limit=0, clock=clock, sleep=clock.sleep)
    with pytest.raises(ValueError, match="max_wait_s must not be negative"):
        RateLimiter(max_wait_s=-1, clock=clock, sleep=clock.sleep)


async def test_hold_delays_every_request_until_retry_after(clock) -> None:
    """After a 429's Retry-After of 5 s, the next request waits those 5 s even with a full bucket."""
    limiter = RateLimiter(limit=6000, clock=clock, sleep=clock.sleep)
    limiter.hold(5.0)

    assert await limiter.acquire(1) == 5.0
    assert clock.sleeps == [5.0]
    assert await limiter.acquire(1) == 0.0


async def test_hold_past_max_wait_s_refuses_without_taking_weight(clock) -> None:
    limiter = RateLimiter(limit=6000, max_wait_s=10.0, clock=clock, sleep=clock.sleep)
    limiter.hold(30.0)

    with pytest.raises(RateLimitExceeded):
        await limiter.acquire(1)
    clock.advance(30.0)
    assert await limiter.acquire(1) == 0.0
    assert limiter.status().used_weight == pytest.approx(1.0)
