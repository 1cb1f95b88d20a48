"""Request-weight accounting per IP per wall-clock minute, as Binance counts REQUEST_WEIGHT.

Each REST request adds its endpoint weight to its IP's tally for the current UTC minute (windows start at whole
minutes of the injected wall clock, like Binance's ``1M`` interval); the tally after adding is what the server
reports in ``X-MBX-USED-WEIGHT-1M``. A tally above the limit means HTTP 429 until the next minute. Weight is counted
whether or not the request is then refused, so a client that keeps calling while limited keeps using weight.

Weight used by "other clients on the same IP" (a fault, :mod:`simulator.faults`) is accrued at each request of the
IP: ``background_weight_per_s`` × the seconds since its previous request, or since the minute started if that was
earlier (fractions carry over within the minute).

Source: Binance spot REST docs, "LIMITS" (IP limits, ``X-MBX-USED-WEIGHT-(intervalNum)(intervalLetter)``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

REQUEST_WEIGHT_LIMIT_PER_MINUTE = 6000
_MINUTE_S = 60.0


class RequestWeights:
    """Per-IP request weight used in the current wall-clock minute; thread-safe.

    Args:
        limit_per_minute: the REQUEST_WEIGHT limit per IP per minute (Binance: 6000).
        clock: wall clock in Unix seconds (``time.time``); inject a fake one in tests.
    """

    def __init__(
        self, *, limit_per_minute: int = REQUEST_WEIGHT_LIMIT_PER_MINUTE, clock: Callable[[], float] = time.time
    ) -> None:
        if limit_per_minute <= 0:
            raise ValueError(f"limit_per_minute must be positive, got {limit_per_minute}")
        self.limit_per_minute = limit_per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._minute = self._current_minute()
        self._used: dict[str, int] = {}
        self._background: dict[str, tuple[float, float]] = {}
        """Per IP: (wall time of its last request this minute, background weight not yet counted, < 1)."""

    def add(self, ip: str, weight: int, *, background_weight_per_s: float = 0.0) -> int:
        """Count ``weight`` for ``ip``, plus ``background_weight_per_s`` × the seconds since its previous request in
        this minute, and return its weight used in the current minute, this request included."""
        with self._lock:
            self._roll_over()
            now_s = self._clock()
            since_s, carry = self._background.get(ip, (self._minute * _MINUTE_S, 0.0))
            background = carry + background_weight_per_s * max(0.0, now_s - since_s)
            self._background[ip] = (now_s, background % 1)
            used = self._used.get(ip, 0) + weight + math.floor(background)
            self._used[ip] = used
            return used

    def used(self, ip: str) -> int:
        """Weight ``ip`` has used in the current minute."""
        with self._lock:
            self._roll_over()
            return self._used.get(ip, 0)

    def is_over_limit(self, used: int) -> bool:
        """Whether a tally of ``used`` exceeds the limit (the request that made it so gets HTTP 429)."""
        return used > self.limit_per_minute

    def retry_after_s(self) -> int:
        """Whole seconds until the next minute starts (≥ 1): the ``Retry-After`` of a 429."""
        remaining_s = _MINUTE_S - self._clock() % _MINUTE_S
        return max(1, math.ceil(remaining_s))

    def _current_minute(self) -> int:
        return math.floor(self._clock() / _MINUTE_S)

    def _roll_over(self) -> None:
        minute = self._current_minute()
        if minute != self._minute:
            self._minute = minute
            self._used.clear()
            self._background.clear()
