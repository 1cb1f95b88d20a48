"""Retry with exponential backoff and jitter (SPEC §3.4), built on tenacity, with one telemetry event per attempt.

- :func:`classify` is the one place that decides, from an :mod:`engine.errors` exception, whether to retry:

  ==========================================  ================  =========
  failure                                     outcome           reason
  ==========================================  ================  =========
  HTTP 429 (too much request weight)          retry             ``429``
  HTTP 5xx                                    retry             ``5xx``
  :class:`~engine.errors.RequestTimeout`      retry             ``timeout``
  other :class:`~engine.errors.TransportError`  retry           ``connection``
  HTTP 418 (IP ban)                           banned            ``418``
  :class:`~engine.errors.HostBanned`          banned            ``host_banned``
  :class:`~engine.errors.ApiBreakerOpen`      breaker_open      ``breaker_open``
  :class:`~engine.errors.RateLimitExceeded`   giveup            ``rate_limit``
  any other HTTP 4xx (400, 401, 403, 404...)  giveup            the status
  :class:`~engine.errors.ProtocolError`       giveup            ``protocol``
  ==========================================  ================  =========

  Status codes: Binance spot REST docs, "LIMITS" and "HTTP Return Codes".
- :class:`RetryPolicy` gives the delay after a failed attempt: the shared backoff
  (:class:`~engine.guards.backoff.Backoff`: ``base_delay_s × 2^attempt`` capped at ``max_delay_s``, ±``jitter_pct``),
  and never less than the ``Retry-After`` of the answer.
- :class:`Retrier` runs a call under a policy (tenacity ``AsyncRetrying`` with an injected ``sleep``) and reports a
  :class:`RetryAttempt` per attempt. A caller on a path that must not stall (the feed) passes ``max_sleep_s``: a
  retry that would sleep longer is not slept here; the call raises at once (outcome ``deferred``) and the caller
  schedules the retry itself (the gap ledger does, after the ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from engine.errors import (
    ApiBreakerOpen,
    ExchangeError,
    HostBanned,
    HTTPStatusError,
    ProtocolError,
    RateLimitExceeded,
    RequestTimeout,
    TransportError,
)
from engine.guards.backoff import Backoff

Outcome = Literal["ok", "retry", "deferred", "giveup", "banned", "breaker_open"]


@dataclass(frozen=True)
class RetryDecision:
    """What to do after a failure.

    Attributes:
        outcome: ``retry`` (if attempts are left), or a final ``giveup``/``banned``/``breaker_open``.
        reason: short label for telemetry (``429``, ``5xx``, ``timeout``, ``connection``, ``400``...).
        retry_after_s: the server's ``Retry-After`` (or the time left of a ban/open breaker), seconds; ``None``
            when there is none.
    """

    outcome: Literal["retry", "giveup", "banned", "breaker_open"]
    reason: str
    retry_after_s: float | None = None


def classify(exc: BaseException) -> RetryDecision:
    """Classify a failure (table in the module docstring). Exceptions outside :mod:`engine.errors` give up."""
    match exc:
        case HostBanned():
            return RetryDecision("banned", "host_banned", exc.retry_after_s)
        case ApiBreakerOpen():
            return RetryDecision("breaker_open", "breaker_open", exc.retry_after_s)
        case RateLimitExceeded():
            return RetryDecision("giveup", "rate_limit", exc.wait_s)
        case RequestTimeout():
            return RetryDecision("retry", "timeout")
        case TransportError():
            return RetryDecision("retry", "connection")
        case HTTPStatusError(status=418):
            return RetryDecision("banned", "418", exc.retry_after_s)
        case HTTPStatusError(status=429):
            return RetryDecision("retry", "429", exc.retry_after_s)
        case HTTPStatusError() if exc.status >= 500:
            return RetryDecision("retry", "5xx", exc.retry_after_s)
        case HTTPStatusError():
            return RetryDecision("giveup", str(exc.status))
        case ProtocolError():
            return RetryDecision("giveup", "protocol")
    return RetryDecision("giveup", type(exc).__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff settings (SPEC §3.4 defaults).

    Attributes:
        max_retries: retries after the first attempt (so at most ``max_retries + 1`` attempts).
        base_delay_s: delay after the first failed attempt before jitter, seconds.
        max_delay_s: cap of the backoff delay, seconds (a longer ``Retry-After`` still wins).
        jitter_pct: the delay is multiplied by a uniform factor in ``1 ± jitter_pct / 100``.
    """

    max_retries: int = 3
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    jitter_pct: float = 25.0

    @property
    def backoff(self) -> Backoff:
        """These settings as the shared :class:`~engine.guards.backoff.Backoff`."""
        return Backoff(base_s=self.base_delay_s, cap_s=self.max_delay_s, jitter=self.jitter_pct / 100)

    def backoff_s(self, attempt: int, rng: random.Random) -> float:
        """Delay after failed ``attempt`` (0-based): ``min(cap, min(cap, base × 2^attempt) × (1 ± jitter))``."""
        return self.backoff.delay_s(attempt, rng)

    def delay_s(self, attempt: int, decision: RetryDecision, rng: random.Random) -> float:
        """The backoff of ``attempt``, but at least the decision's ``Retry-After``."""
        return max(self.backoff_s(attempt, rng), decision.retry_after_s or 0.0)


@dataclass(frozen=True)
class RetryAttempt:
    """One attempt of a call, for telemetry.

    Attributes:
        endpoint: the request path (``/api/v3/klines``).
        status: the HTTP status, ``None`` when there was no answer (transport error, or not sent: ban/breaker/limit).
        latency_ms: time from sending to the answer or error, milliseconds (guard waits excluded; 0 if not sent).
        attempt: 0-based attempt number within the call.
        delay_s: the sleep before the next attempt, seconds; ``None`` when there is no next attempt.
        outcome: ``ok``, ``retry``, ``deferred`` (a retry left to the caller: its delay exceeded ``max_sleep_s``),
            ``giveup``, ``banned`` or ``breaker_open``.
        reason: ``ok`` or the :func:`classify` reason (``429``, ``5xx``, ``timeout``, ``connection``, ``400``...).
        time: when the attempt ended, timezone-aware UTC.
    """

    endpoint: str
    status: int | None
    latency_ms: float
    attempt: int
    delay_s: float | None
    outcome: Outcome
    reason: str
    time: datetime


class _WaitRetryAfter(wait_base):
    """tenacity wait strategy: :meth:`RetryPolicy.delay_s` of the failed attempt."""

    def __init__(self, policy: RetryPolicy, rng: random.Random) -> None:
        self._policy = policy
        self._rng = rng

    def __call__(self, retry_state: RetryCallState) -> float:
        assert retry_state.outcome is not None
        exc = retry_state.outcome.exception()
        assert exc is not None
        return self._policy.delay_s(retry_state.attempt_number - 1, classify(exc), self._rng)


def _stop_when_sleep_exceeds(max_sleep_s: float) -> stop_base:
    """tenacity stop condition: the upcoming sleep is longer than ``max_sleep_s``."""

    class _StopWhenSleepExceeds(stop_base):
        def __call__(self, retry_state: RetryCallState) -> bool:
            return retry_state.upcoming_sleep > max_sleep_s

    return _StopWhenSleepExceeds()


def _is_retryable(exc: BaseException) -> bool:
    return classify(exc).outcome == "retry"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Retrier:
    """Runs calls under a :class:`RetryPolicy`, reporting every attempt to ``on_attempt``.

    Args:
        policy: backoff settings; ``None`` means the defaults.
        sleep: async sleep between attempts, seconds (tests pass one that records).
        clock: monotonic clock for latencies, seconds.
        utc_now: wall clock for event times.
        rng: source of jitter (seed it in tests).
        on_attempt: called with each :class:`RetryAttempt`, synchronously.
    """

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        utc_now: Callable[[], datetime] = _utc_now,
        rng: random.Random | None = None,
        on_attempt: Callable[[RetryAttempt], None] | None = None,
    ) -> None:
        self.policy = policy if policy is not None else RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._utc_now = utc_now
        self._rng = rng if rng is not None else random.Random()
        self._on_attempt = on_attempt

    async def call(
        self,
        endpoint: str,
        send: Callable[[], Awaitable[httpx.Response]],
        *,
        prepare: Callable[[], Awaitable[None]] | None = None,
        max_retries: int | None = None,
        max_sleep_s: float | None = None,
    ) -> httpx.Response:
        """Await ``prepare()`` (guards) then ``send()`` per attempt, retrying as :func:`classify` says.

        ``send`` raises :mod:`engine.errors` exceptions for failures and returns the 2xx response. ``max_retries``
        overrides the policy's for this call; with ``max_sleep_s`` a retry whose delay (backoff or ``Retry-After``)
        is longer is not attempted: the failure is raised at once and reported with outcome ``deferred``.

        Raises:
            ExchangeError: the last attempt's error, once retries are exhausted or the failure is final.
        """
        attempt = -1
        failed: RetryAttempt | None = None

        async def one_attempt() -> httpx.Response:
            nonlocal attempt, failed
            attempt += 1
            started: float | None = None
            try:
                if prepare is not None:
                    await prepare()
                started = self._clock()
                response = await send()
            except ExchangeError as exc:
                latency_ms = 0.0 if started is None else (self._clock() - started) * 1000
                status = exc.status if isinstance(exc, HTTPStatusError) else None
                decision = classify(exc)
                failed = self._event(endpoint, status, latency_ms, attempt, decision.outcome, decision.reason)
                raise
            latency_ms = (self._clock() - started) * 1000
            self._emit(self._event(endpoint, response.status_code, latency_ms, attempt, "ok", "ok"))
            return response

        def before_sleep(retry_state: RetryCallState) -> None:
            assert failed is not None and retry_state.next_action is not None
            self._emit(replace(failed, outcome="retry", delay_s=retry_state.next_action.sleep))

        retries = self.policy.max_retries if max_retries is None else max_retries
        stop: stop_base = stop_after_attempt(retries + 1)
        if max_sleep_s is not None:
            stop = stop | _stop_when_sleep_exceeds(max_sleep_s)
        retrying = AsyncRetrying(
            sleep=self._sleep,
            stop=stop,
            wait=_WaitRetryAfter(self.policy, self._rng),
            retry=retry_if_exception(_is_retryable),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return await retrying(one_attempt)
        except ExchangeError:
            assert failed is not None
            if failed.outcome == "retry":
                deferred = attempt < retries  # attempts were left: the delay was too long to sleep here
                failed = replace(failed, outcome="deferred" if deferred else "giveup")
            self._emit(failed)
            raise

    def _event(
        self, endpoint: str, status: int | None, latency_ms: float, attempt: int, outcome: Outcome, reason: str
    ) -> RetryAttempt:
        return RetryAttempt(
            endpoint=endpoint,
            status=status,
            latency_ms=latency_ms,
            attempt=attempt,
            delay_s=None,
            outcome=outcome,
            reason=reason,
            time=self._utc_now(),
        )

    def _emit(self, event: RetryAttempt) -> None:
        if self._on_attempt is not None:
            self._on_attempt(event)


def retry_after_s(response: httpx.Response) -> float | None:
    """A response's ``Retry-After`` in seconds (Binance, Slack and Discord send whole seconds with 429/418);
    ``None`` when absent or not a number (an HTTP-date is not used by these servers)."""
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None
