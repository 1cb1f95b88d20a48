"""Weighted token bucket for Binance's REQUEST_WEIGHT limit (Binance spot REST docs, "LIMITS": 6000 weight per
1 minute per IP; every request costs its endpoint's weight).

Model:

- The bucket holds up to ``capacity`` tokens (``burst``, or ``limit`` when no burst is given) and refills
  continuously at ``limit / interval_s`` tokens per second.
- :meth:`RateLimiter.acquire` *reserves* its weight at once, letting the balance go negative, and then sleeps until
  the refill has paid the debt. Requests are therefore served in arrival order, and a queued request's wait already
  includes the requests ahead of it. A request whose wait would exceed ``max_wait_s`` reserves nothing and raises.
- :meth:`RateLimiter.sync_used_weight` applies the server's view: after a response reporting ``used`` weight for
  this IP in the current minute (``X-MBX-USED-WEIGHT-1M``, which counts other clients on the same IP too), at most
  ``limit - used`` tokens remain. The server's view can only lower the balance, never raise it: the local count
  already includes requests still in flight. The server counts fixed wall-clock minutes while the bucket refills
  continuously, so right after a busy minute the bucket may allow slightly more than the server; the retry policy
  handles the rare 429 that results (waiting at least its ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from engine.errors import RateLimitExceeded

log = logging.getLogger(__name__)

REQUEST_WEIGHT_LIMIT = 6000
"""REQUEST_WEIGHT per IP per interval (Binance spot REST docs, "LIMITS")."""
REQUEST_WEIGHT_INTERVAL_S = 60.0


@dataclass(frozen=True)
class RateLimiterStatus:
    """A snapshot of a :class:`RateLimiter`.

    Attributes:
        used_weight: weight the local bucket counts as used (``capacity`` minus tokens left; above ``capacity``
            while requests are queued for tokens).
        server_used_weight: the last ``X-MBX-USED-WEIGHT-1M`` reported, ``None`` before the first response.
        limit: REQUEST_WEIGHT per ``interval_s``.
        capacity: the bucket size (burst).
        utilisation: ``used_weight / capacity`` clamped to 0..1.
        waiting: requests currently sleeping for tokens.
        last_wait_s: the wait of the most recent :meth:`RateLimiter.acquire`, seconds.
        total_wait_s: the sum of all waits, seconds.
    """

    used_weight: float
    server_used_weight: int | None
    limit: int
    capacity: int
    utilisation: float
    waiting: int
    last_wait_s: float
    total_wait_s: float


class RateLimiter:
    """Weighted token bucket (see the module docstring for the model).

    Args:
        limit: weight allowed per ``interval_s`` (Binance REQUEST_WEIGHT: 6000 per minute).
        interval_s: the limit's interval, seconds.
        burst: bucket size; ``None`` means ``limit``.
        max_wait_s: the longest :meth:`acquire` may wait before it raises instead, seconds.
        warn_pct: a warning is logged once when utilisation passes this percentage, re-armed when it drops below.
        clock: monotonic clock, seconds.
        sleep: async sleep, seconds.

    Raises:
        ValueError: a non-positive ``limit``, ``interval_s`` or ``burst``, or a negative ``max_wait_s``.
    """

    def __init__(
        self,
        *,
        limit: int = REQUEST_WEIGHT_LIMIT,
        interval_s: float = REQUEST_WEIGHT_INTERVAL_S,
        burst: int | None = None,
        max_wait_s: float = 10.0,
        warn_pct: float = 80.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        capacity = limit if burst is None else burst
        if limit <= 0 or interval_s <= 0 or capacity <= 0:
            raise ValueError(f"limit, interval_s and burst must be positive, got {limit}, {interval_s}, {burst}")
        if max_wait_s < 0:
            raise ValueError(f"max_wait_s must not be negative, got {max_wait_s}")
        self.limit = limit
        self.capacity = capacity
        self.max_wait_s = max_wait_s
        self.warn_pct = warn_pct
        self._rate = limit / interval_s
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(capacity)
        self._refilled_at = clock()
        self._server_used: int | None = None
        self._waiting = 0
        self._last_wait_s = 0.0
        self._total_wait_s = 0.0
        self._warned = False
        self._held_until = clock()

    async def acquire(self, weight: int, *, endpoint: str = "") -> float:
        """Take ``weight`` tokens, sleeping until the bucket has them; return the seconds waited (0 when none).

        Raises:
            ValueError: ``weight`` is negative or larger than the bucket.
            RateLimitExceeded: the wait would exceed ``max_wait_s``; nothing is taken.
        """
        if not 0 <= weight <= self.capacity:
            raise ValueError(f"weight must be within 0..{self.capacity}, got {weight}")
        self._refill()
        wait_s = max(0.0, (weight - self._tokens) / self._rate, self._held_until - self._clock())
        if wait_s > self.max_wait_s:
            raise RateLimitExceeded(
                f"request weight {weight} needs a {wait_s:.2f} s wait, more than max_wait_s={self.max_wait_s} s",
                endpoint=endpoint,
                weight=weight,
                wait_s=wait_s,
                max_wait_s=self.max_wait_s,
            )
        self._tokens -= weight
        self._check_warning()
        self._last_wait_s = wait_s
        self._total_wait_s += wait_s
        if wait_s > 0:
            self._waiting += 1
            try:
                await self._sleep(wait_s)
            except BaseException:
                self._tokens += weight
                raise
            finally:
                self._waiting -= 1
        return wait_s

    def hold(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (a 429's ``Retry-After``): :meth:`acquire` waits until then, or raises when
        that is more than ``max_wait_s`` away, so no request leaves before the server said it may (Binance spot
        REST docs, LIMITS: "back off" after a 429, or the IP gets banned)."""
        self._held_until = max(self._held_until, self._clock() + seconds)

    def sync_used_weight(self, used: int) -> None:
        """Apply the server's ``X-MBX-USED-WEIGHT-1M``: at most ``limit - used`` tokens remain."""
        self._server_used = used
        self._refill()
        self._tokens = min(self._tokens, float(self.limit - used))
        self._check_warning()

    def status(self) -> RateLimiterStatus:
        self._refill()
        self._check_warning()
        used = self.capacity - self._tokens
        return RateLimiterStatus(
            used_weight=used,
            server_used_weight=self._server_used,
            limit=self.limit,
            capacity=self.capacity,
            utilisation=min(1.0, max(0.0, used / self.capacity)),
            waiting=self._waiting,
            last_wait_s=self._last_wait_s,
            total_wait_s=self._total_wait_s,
        )

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.capacity), self._tokens + (now - self._refilled_at) * self._rate)
        self._refilled_at = now

    def _check_warning(self) -> None:
        utilisation_pct = (self.capacity - self._tokens) / self.capacity * 100
        if utilisation_pct > self.warn_pct and not self._warned:
            self._warned = True
            log.warning(
                "request weight utilisation %.1f %% passed %.1f %% (%d of %d, server reports %s)",
                utilisation_pct, self.warn_pct, round(self.capacity - self._tokens), self.capacity, self._server_used,
            )
        elif utilisation_pct < self.warn_pct:
            self._warned = False
