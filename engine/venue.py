"""The venue's clients, built from the configuration: the REST client behind its guards and the kline stream with its
recovery settings (``[rest]``, ``[stream]``, ``[venue]``)."""

from __future__ import annotations

import functools

import httpx

from engine.config import Settings
from engine.feed.rest import BinanceRestClient
from engine.feed.stream import KlineStream
from engine.guards.api_breaker import ApiBreaker
from engine.guards.backoff import Backoff
from engine.guards.rate_limiter import RateLimiter
from engine.guards.retry import RetryPolicy
from engine.sinks.alert_sink import OnAttempt


def retry_policy(settings: Settings) -> RetryPolicy:
    """``[rest]`` backoff, shared by the REST client, the backfills, exchangeInfo retries and the alert webhooks."""
    rest = settings.rest
    return RetryPolicy(
        max_retries=rest.max_retries, base_delay_s=rest.retry_base_s, max_delay_s=rest.retry_cap_s, jitter_pct=rest.retry_jitter_pct
    )


def rest_client(settings: Settings, rest_url: str, *, on_attempt: OnAttempt) -> BinanceRestClient:
    """The REST client for ``rest_url`` behind its guards (rate limiter, API breaker, host ban, retry) from ``[rest]``;
    every attempt is reported to ``on_attempt`` with the host."""
    rest = settings.rest
    host = httpx.URL(rest_url).netloc.decode()
    return BinanceRestClient(
        rest_url,
        timeout_s=settings.venue.request_timeout_s,
        limiter=RateLimiter(limit=rest.weight_limit_per_minute, burst=rest.burst, max_wait_s=rest.max_wait_s, warn_pct=rest.warn_pct),
        retry=retry_policy(settings),
        breaker=ApiBreaker(host=host, failure_threshold=rest.breaker_failures, reset_timeout_s=rest.breaker_reset_s),
        on_attempt=functools.partial(on_attempt, host=host),
    )


def kline_stream(settings: Settings, ws_url: str) -> KlineStream:
    """The kline stream of ``trading.symbols`` at ``trading.interval`` from ``ws_url``, with the ``[stream]`` recovery
    settings (the shared backoff, capped at ``backoff_cap_s``)."""
    s = settings.stream
    backoff = Backoff(base_s=1.0, cap_s=s.backoff_cap_s, jitter=s.jitter_pct / 100)
    return KlineStream(
        ws_url,
        settings.trading.symbols,
        settings.trading.interval,
        backoff=backoff.delays,
        stable_after_s=s.stable_after_s,
        stale_after_s=s.stale_after_s,
        max_attempts=s.max_attempts,
    )
