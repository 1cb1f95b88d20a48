"""Classification, backoff and the tenacity-driven retry loop with its per-attempt events."""

from __future__ import annotations

import random

import httpx
import pytest

from engine.errors import (
    ApiBreakerOpen,
    HostBanned,
    HTTPStatusError,
    ProtocolError,
    RateLimitExceeded,
    RequestTimeout,
    TransportError,
)
from engine.guards.retry import Retrier, RetryAttempt, RetryDecision, RetryPolicy, classify


def _status(status: int, retry_after_s: float | None = None) -> HTTPStatusError:
    return HTTPStatusError(f"HTTP {status}", endpoint="/x", status=status, retry_after_s=retry_after_s)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_status(400), RetryDecision("giveup", "400")),
        (_status(401), RetryDecision("giveup", "401")),
        (_status(403), RetryDecision("giveup", "403")),
        (_status(404), RetryDecision("giveup", "404")),
        (_status(418, 120), RetryDecision("banned", "418", 120)),
        (_status(429, 7), RetryDecision("retry", "429", 7)),
        (_status(500), RetryDecision("retry", "5xx")),
        (_status(502), RetryDecision("retry", "5xx")),
        (_status(503), RetryDecision("retry", "5xx")),
        (_status(504), RetryDecision("retry", "5xx")),
        (RequestTimeout("read timeout"), RetryDecision("retry", "timeout")),
        (TransportError("connection refused"), RetryDecision("retry", "connection")),
        (ProtocolError("bad JSON"), RetryDecision("giveup", "protocol")),
        (HostBanned("banned", host="h", retry_after_s=5, until_s=9), RetryDecision("banned", "host_banned", 5)),
        (ApiBreakerOpen("open", host="h", retry_after_s=3), RetryDecision("breaker_open", "breaker_open", 3)),
        (RateLimitExceeded("busy", weight=2, wait_s=11, max_wait_s=10), RetryDecision("giveup", "rate_limit", 11)),
        (ValueError("bug"), RetryDecision("giveup", "ValueError")),
    ],
)
def test_classification_table(exc: BaseException, expected: RetryDecision) -> None:
    assert classify(exc) == expected


def test_backoff_doubles_from_one_second_within_25_pct_jitter() -> None:
    policy = RetryPolicy()
    rng = random.Random(7)
    for attempt, nominal_s in enumerate([1, 2, 4, 8, 16]):
        delays = [policy.backoff_s(attempt, rng) for _ in range(2000)]
        assert min(delays) >= 0.75 * nominal_s
        assert max(delays) <= 1.25 * nominal_s
        assert max(delays) - min(delays) > 0.4 * nominal_s, "jitter actually spreads the delays"


def test_backoff_is_capped_at_30_seconds_yet_still_jittered() -> None:
    policy = RetryPolicy()
    rng = random.Random(7)
    delays = [policy.backoff_s(attempt, rng) for attempt in range(5, 12) for _ in range(500)]
    assert max(delays) == 30.0
    assert min(delays) >= 22.5
    assert len(set(delays)) > 100


def test_retry_after_longer_than_the_backoff_wins() -> None:
    policy = RetryPolicy()
    assert policy.delay_s(0, RetryDecision("retry", "429", 45.0), random.Random(1)) == 45.0


def _response(status: int = 200) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("GET", "http://h/x"))


async def test_retries_three_times_then_gives_up_with_an_event_per_attempt(clock) -> None:
    events: list[RetryAttempt] = []
    retrier = Retrier(sleep=clock.sleep, clock=clock, rng=random.Random(3), on_attempt=events.append)

    async def send() -> httpx.Response:
        clock.advance(0.25)
        raise _status(503)

    with pytest.raises(HTTPStatusError):
        await retrier.call("/api/v3/time", send)
    assert [e.attempt for e in events] == [0, 1, 2, 3]
    assert [e.outcome for e in events] == ["retry", "retry", "retry", "giveup"]
    assert {(e.status, e.reason, e.latency_ms) for e in events} == {(503, "5xx", 250.0)}
    assert [e.delay_s for e in events[:3]] == clock.sleeps
    assert events[3].delay_s is None
    for nominal_s, slept_s in zip([1, 2, 4], clock.sleeps, strict=False):
        assert 0.75 * nominal_s <= slept_s <= 1.25 * nominal_s
    assert events[0].time.tzinfo is not None


async def test_a_retried_call_that_succeeds_reports_ok_last(clock) -> None:
    events: list[RetryAttempt] = []
    answers = [RequestTimeout("slow"), TransportError("reset"), _response()]
    retrier = Retrier(sleep=clock.sleep, clock=clock, on_attempt=events.append)

    async def send() -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert (await retrier.call("/x", send)).status_code == 200
    assert [(e.status, e.outcome, e.reason) for e in events] == [
        (None, "retry", "timeout"), (None, "retry", "connection"), (200, "ok", "ok")
    ]


async def test_client_errors_are_not_retried(clock) -> None:
    events: list[RetryAttempt] = []
    retrier = Retrier(sleep=clock.sleep, clock=clock, on_attempt=events.append)

    async def send() -> httpx.Response:
        raise _status(404)

    with pytest.raises(HTTPStatusError):
        await retrier.call("/x", send)
    assert clock.sleeps == []
    assert [(e.outcome, e.reason, e.delay_s) for e in events] == [("giveup", "404", None)]


async def test_429_sleeps_at_least_retry_after(clock) -> None:
    answers = [_status(429, retry_after_s=17), _response()]
    retrier = Retrier(sleep=clock.sleep, clock=clock)

    async def send() -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    await retrier.call("/x", send)
    assert len(clock.sleeps) == 1 and clock.sleeps[0] >= 17


async def test_guard_rejections_in_prepare_are_final_and_not_timed(clock) -> None:
    events: list[RetryAttempt] = []
    retrier = Retrier(sleep=clock.sleep, clock=clock, on_attempt=events.append)

    async def prepare() -> None:
        clock.advance(5)
        raise ApiBreakerOpen("open", host="h", retry_after_s=30)

    async def send() -> httpx.Response:
        raise AssertionError("must not be sent")

    with pytest.raises(ApiBreakerOpen):
        await retrier.call("/x", send, prepare=prepare)
    assert [(e.outcome, e.status, e.latency_ms) for e in events] == [("breaker_open", None, 0.0)]


async def test_with_max_sleep_a_long_retry_after_is_deferred_to_the_caller_and_short_ones_still_retried(clock) -> None:
    """The feed may not sleep long inside a request: a 429 asking for 40 s is handed back at once (outcome
    ``deferred``), while a 5xx's 1 s backoff is still slept and retried."""
    events: list[RetryAttempt] = []
    answers: list[Exception | httpx.Response] = [_status(503), _status(429, retry_after_s=40.0)]
    retrier = Retrier(sleep=clock.sleep, clock=clock, rng=random.Random(3), on_attempt=events.append)

    async def send() -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    with pytest.raises(HTTPStatusError, match="429"):
        await retrier.call("/api/v3/klines", send, max_sleep_s=2.0)
    assert len(clock.sleeps) == 1 and clock.sleeps[0] <= 2.0
    assert [(e.outcome, e.reason) for e in events] == [("retry", "5xx"), ("deferred", "429")]


async def test_max_retries_can_be_lowered_per_call(clock) -> None:
    events: list[RetryAttempt] = []
    retrier = Retrier(sleep=clock.sleep, clock=clock, on_attempt=events.append)

    async def send() -> httpx.Response:
        raise _status(503)

    with pytest.raises(HTTPStatusError):
        await retrier.call("/x", send, max_retries=0)
    assert clock.sleeps == [] and [e.outcome for e in events] == ["giveup"]
