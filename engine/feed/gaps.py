"""The gap ledger's unit: one hole in a symbol's closed-candle series, from detection until its candles are processed.

A :class:`Gap` is found at start (warm-up history, or the minutes since the last processed candle), after a
reconnect, or when a close skips minutes (:mod:`engine.feed.sequencer`). It is stored in the ``gaps`` table at every
change (one row per change, the latest row per ``gap_id`` is its state) and is **closed** only once every one of its
minutes has been processed by the core (or the venue answered that it has no candle for them). Until then it is
retried by the backfill worker (:mod:`engine.feed.backfill`) after the failure's ``Retry-After``, the ban's end or
the shared backoff — forever, and across restarts (open rows are read back at start).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from engine.errors import ApiBreakerOpen, HostBanned, HTTPStatusError, RateLimitExceeded
from engine.guards.backoff import Backoff


class GapKind(StrEnum):
    WARMUP = "warmup"  # history the indicators need before trading (a new symbol)
    GAP = "gap"  # minutes missed after the last processed candle


class GapState(StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


def new_gap_id() -> str:
    return uuid.uuid4().hex[:16]


@dataclass(slots=True)
class Gap:
    """A hole in ``symbol``'s closed-candle series: candles opening at ``first_ms`` … ``last_ms`` (Unix ms, market
    time, inclusive) are missing.

    Attributes:
        cursor_ms: open time of the next candle to fetch; past ``last_ms`` once every minute has been fetched (the
            gap stays open until they are processed).
        attempts: failed backfill requests so far (across restarts).
        last_error: the latest failure, ``""`` when none.
        due_s: when the next request may go, on the feed's monotonic clock.
        opened_at_s: wall time it was found (Unix seconds); ``closed_at_s`` when it closed.
        detail: how it closed (``filled``, with the minutes the venue has no candle for, or ``already processed``).
        absent: minutes the venue answered it has no candle for (an exchange outage), counted while fetching.
    """

    symbol: str
    first_ms: int
    last_ms: int
    kind: GapKind = GapKind.GAP
    gap_id: str = field(default_factory=new_gap_id)
    cursor_ms: int = -1
    attempts: int = 0
    last_error: str = ""
    due_s: float = 0.0
    opened_at_s: float = 0.0
    closed_at_s: float | None = None
    detail: str = ""
    absent: int = 0

    def __post_init__(self) -> None:
        if self.cursor_ms < self.first_ms:
            self.cursor_ms = self.first_ms

    @property
    def state(self) -> GapState:
        return GapState.OPEN if self.closed_at_s is None else GapState.CLOSED

    @property
    def fetched(self) -> bool:
        """Every minute of the gap has been fetched (or declared absent by the venue)."""
        return self.cursor_ms > self.last_ms

    def minutes(self, interval_ms: int) -> int:
        """How many candles the gap spans."""
        return (self.last_ms - self.first_ms) // interval_ms + 1

    def failed(self, error: str, *, delay_s: float, now_s: float) -> None:
        """A backfill request failed: count it and schedule the next one ``delay_s`` from ``now_s``."""
        self.attempts += 1
        self.last_error = error
        self.due_s = now_s + delay_s


def retry_delay_s(exc: Exception, *, attempts: int, backoff: Backoff, rng: random.Random) -> float:
    """Seconds until a failed backfill request may be tried again: the shared backoff of the ``attempts`` so far, but
    never before the server's ``Retry-After`` (429, 5xx), the end of an IP ban (418), the API breaker's trial time,
    or the rate limiter's wait."""
    wait_s = 0.0
    if isinstance(exc, HTTPStatusError):
        wait_s = exc.retry_after_s or 0.0
    elif isinstance(exc, HostBanned | ApiBreakerOpen):
        wait_s = exc.retry_after_s
    elif isinstance(exc, RateLimitExceeded):
        wait_s = exc.wait_s
    return max(backoff.delay_s(max(attempts - 1, 0), rng), wait_s)
