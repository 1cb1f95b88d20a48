"""Every transition of the per-host API failure breaker, on a fake clock."""

from __future__ import annotations

import pytest

from engine.errors import ApiBreakerOpen
from engine.guards.api_breaker import ApiBreaker, ApiBreakerState


def _opened(clock) -> ApiBreaker:
    breaker = ApiBreaker(host="api.binance.com", clock=clock)
    for _ in range(5):
        breaker.before_call()
        breaker.record_failure()
    return breaker


def test_four_consecutive_failures_keep_it_closed(clock) -> None:
    breaker = ApiBreaker(clock=clock)
    for _ in range(4):
        breaker.record_failure()
    assert breaker.state is ApiBreakerState.CLOSED
    breaker.before_call()


def test_a_success_resets_the_consecutive_count(clock) -> None:
    breaker = ApiBreaker(clock=clock)
    for _ in range(4):
        breaker.record_failure()
    breaker.record_success()
    for _ in range(4):
        breaker.record_failure()
    assert breaker.state is ApiBreakerState.CLOSED
    assert breaker.status().consecutive_failures == 4


def test_closed_to_open_at_the_fifth_consecutive_failure(clock) -> None:
    breaker = _opened(clock)
    assert breaker.state is ApiBreakerState.OPEN
    with pytest.raises(ApiBreakerOpen) as caught:
        breaker.before_call("/api/v3/klines")
    assert caught.value.retry_after_s == pytest.approx(60.0)
    assert (caught.value.host, caught.value.endpoint) == ("api.binance.com", "/api/v3/klines")
    assert breaker.status().opens == 1


def test_stays_open_until_just_before_the_reset_timeout(clock) -> None:
    breaker = _opened(clock)
    clock.advance(59.9)
    assert breaker.state is ApiBreakerState.OPEN
    assert breaker.status().retry_after_s == pytest.approx(0.1)
    with pytest.raises(ApiBreakerOpen):
        breaker.before_call()


def test_open_to_half_open_after_the_reset_timeout_lets_one_trial_through(clock) -> None:
    breaker = _opened(clock)
    clock.advance(60)
    assert breaker.state is ApiBreakerState.HALF_OPEN
    breaker.before_call()
    assert breaker.status().trial_in_flight
    with pytest.raises(ApiBreakerOpen) as caught:
        breaker.before_call()
    assert caught.value.retry_after_s == 0.0


def test_half_open_to_closed_when_the_trial_succeeds(clock) -> None:
    breaker = _opened(clock)
    clock.advance(60)
    breaker.before_call()
    breaker.record_success()
    assert breaker.state is ApiBreakerState.CLOSED
    assert breaker.status().consecutive_failures == 0
    breaker.before_call()
    breaker.before_call()


def test_half_open_to_open_when_the_trial_fails_and_the_timer_restarts(clock) -> None:
    breaker = _opened(clock)
    clock.advance(60)
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state is ApiBreakerState.OPEN
    assert breaker.status().opens == 2
    clock.advance(59)
    assert breaker.state is ApiBreakerState.OPEN
    clock.advance(1)
    assert breaker.state is ApiBreakerState.HALF_OPEN


def test_a_trial_that_never_reports_stops_blocking_after_another_timeout(clock) -> None:
    breaker = _opened(clock)
    clock.advance(60)
    breaker.before_call()
    clock.advance(60)
    breaker.before_call()
    assert breaker.state is ApiBreakerState.HALF_OPEN


def test_rejects_a_non_positive_threshold(clock) -> None:
    with pytest.raises(ValueError, match="failure_threshold=0"):
        ApiBreaker(failure_threshold=0, clock=clock)
