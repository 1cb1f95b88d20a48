"""Outgoing WebSocket message limit, with a margin under Binance's.

Binance WebSocket Streams docs, "WebSocket Limits": a connection may receive at most 5 incoming messages per second —
"a PING frame, a PONG frame or a JSON controlled message (e.g. subscribe, unsubscribe)" — and is disconnected beyond
that. Our client sends JSON requests (``SUBSCRIBE``/``UNSUBSCRIBE``) through this limiter; the ``websockets`` library
sends keepalive pings and answers the server's pings with pongs by itself, at most one of each per 20 s. The
limiter therefore allows :data:`MAX_MESSAGES_PER_S` (4) messages in any 1-second window and keeps
:data:`RESERVED_FOR_KEEPALIVE` (2) of them for a ping and a pong that may fall in the same second, so at most 2 JSON
requests per second: never more than 4 counted messages in a second, one below Binance's limit.

A sliding window rather than a token bucket: a bucket of 4 refilling at 4/s lets more than 4 through within one
second.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

BINANCE_MAX_MESSAGES_PER_S = 5
"""Binance WebSocket Streams docs, "WebSocket Limits": 5 incoming messages per second per connection."""
MAX_MESSAGES_PER_S = 4
"""Our ceiling for every counted message (requests, pings, pongs): one below Binance's."""
RESERVED_FOR_KEEPALIVE = 2
"""One keepalive ping and one pong the library may send in the same second."""


@dataclass(frozen=True, slots=True)
class WsLimiterStatus:
    """A snapshot of a :class:`WsMessageLimiter`.

    Attributes:
        used: share of the window's request budget taken now, 0..1.
        sent_last_s: requests sent in the last ``per_s`` seconds.
        budget: requests allowed per window (``max_messages`` − ``reserved``).
        sent: requests sent since creation.
        waited_s: total seconds requests waited for a slot.
        waiting: requests waiting now.
    """

    used: float
    sent_last_s: int
    budget: int
    sent: int
    waited_s: float
    waiting: int


class WsMessageLimiter:
    """At most ``max_messages − reserved`` requests in any ``per_s`` seconds: :meth:`acquire` waits (through
    ``sleep``) until the oldest of the last sends in the window is ``per_s`` old.

    Args:
        max_messages: counted messages allowed per window (requests plus keepalive frames).
        reserved: of those, kept for frames the library sends by itself (pings, pongs).
        per_s: the window, seconds.
        clock: monotonic clock, seconds.
        sleep: async sleep, seconds.

    Raises:
        ValueError: no budget left for requests (``reserved`` ≥ ``max_messages``) or a non-positive window.
    """

    def __init__(
        self,
        *,
        max_messages: int = MAX_MESSAGES_PER_S,
        reserved: int = RESERVED_FOR_KEEPALIVE,
        per_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        budget = max_messages - reserved
        if budget < 1 or per_s <= 0:
            raise ValueError(f"no request budget: max_messages={max_messages}, reserved={reserved}, per_s={per_s}")
        self._sent_at: deque[float] = deque(maxlen=budget)
        self._per_s = per_s
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._sent = 0
        self._waited_s = 0.0
        self._waiting = 0

    async def acquire(self) -> float:
        """Wait for a free slot and take it; returns the seconds waited."""
        self._waiting += 1
        try:
            async with self._lock:
                wait_s = 0.0
                if len(self._sent_at) == self._sent_at.maxlen:
                    wait_s = max(0.0, self._sent_at[0] + self._per_s - self._clock())
                    if wait_s > 0:
                        await self._sleep(wait_s)
                self._sent_at.append(self._clock())
                self._sent += 1
                self._waited_s += wait_s
                return wait_s
        finally:
            self._waiting -= 1

    def status(self) -> WsLimiterStatus:
        now = self._clock()
        recent = sum(1 for t in self._sent_at if now - t < self._per_s)
        budget = self._sent_at.maxlen or 1
        return WsLimiterStatus(
            used=recent / budget, sent_last_s=recent, budget=budget, sent=self._sent, waited_s=self._waited_s, waiting=self._waiting
        )
