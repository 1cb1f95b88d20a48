"""The one backoff generator: exponential delays with jitter, shared by REST retries, stream reconnects and backfills.

Attempt *n* (0-based) waits ``min(cap_s, base_s × 2^n) × U(1 − jitter, 1 + jitter)``, clamped to ``cap_s`` again, so
no delay is ever longer than the cap (``../shared/SPEC.md`` §3.4: 1 s × 2^n capped at 30 s ± 25 % for REST; §3.5:
2^n s capped at 64 s ± 25 % for reconnects). Each user owns its generator and makes a new one after a success.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Backoff settings.

    Attributes:
        base_s: the delay of attempt 0 before jitter, seconds.
        cap_s: the longest delay, seconds.
        jitter: the relative spread, 0.25 for ±25 %.

    Raises:
        ValueError: a negative base or cap, or a jitter outside [0, 1].
    """

    base_s: float = 1.0
    cap_s: float = 30.0
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if self.base_s < 0 or self.cap_s < 0 or not 0 <= self.jitter <= 1:
            raise ValueError(f"bad backoff: base_s={self.base_s}, cap_s={self.cap_s}, jitter={self.jitter}")

    def delay_s(self, attempt: int, rng: random.Random) -> float:
        """The delay after failed ``attempt`` (0-based), seconds (formula in the module docstring)."""
        nominal_s = min(self.cap_s, self.base_s * 2 ** min(attempt, 64))
        return min(self.cap_s, nominal_s * rng.uniform(1 - self.jitter, 1 + self.jitter))

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """The delays of attempts 0, 1, 2, … without end; make a new generator to start again from ``base_s``."""
        rng = rng or random.Random()
        attempt = 0
        while True:
            yield self.delay_s(attempt, rng)
            attempt += 1
