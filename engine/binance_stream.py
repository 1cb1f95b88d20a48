"""Kline market stream over WebSocket, with a reconnect loop.

Protocol: Binance WebSocket Streams docs — combined stream ``/stream?streams=<a>/<b>`` whose messages are
``{"stream": "<name>", "data": <event>}``; stream names ``<symbol lowercase>@kline_<interval>``.
The server pings every 20 s; the ``websockets`` library answers pings itself.

:meth:`KlineStream.events` is an async iterator of :class:`StreamEvent` values — connection changes are events too,
so the engine records them and never has to catch transport exceptions. It reconnects after **any** close
(normal close included), waiting ``next(backoff)`` seconds between attempts; the backoff generator is made anew
once a connection stayed up ``stable_after_s``.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from engine.errors import ProtocolError
from engine.klines import parse_stream_kline
from engine.models import Candle


@dataclass(frozen=True, slots=True)
class Connected:
    url: str


@dataclass(frozen=True, slots=True)
class Disconnected:
    """``code``/``reason`` from the close frame when there was one; ``error`` for a failed connect or dropped socket."""

    code: int | None
    reason: str
    error: str
    retry_in_s: float


@dataclass(frozen=True, slots=True)
class KlineEvent:
    candle: Candle
    event_time_ms: int


@dataclass(frozen=True, slots=True)
class BadMessage:
    """A message that broke the documented format (malformed JSON, invalid price); it is dropped and counted."""

    detail: str


StreamEvent = Connected | Disconnected | KlineEvent | BadMessage


def exponential_backoff(
    *, base_s: float = 1.0, cap_s: float = 64.0, jitter: float = 0.25, rng: random.Random | None = None
) -> Iterator[float]:
    """Delays base·2^attempt seconds (attempt = 0, 1, …), capped at ``cap_s``, each scaled by a uniform factor in
    [1 − jitter, 1 + jitter] (``../shared/SPEC.md`` §3.5: 2^n s capped at 64 s, ±25 %)."""
    rng = rng or random.Random()
    attempt = 0
    while True:
        delay = min(cap_s, base_s * 2**attempt)
        yield delay * rng.uniform(1 - jitter, 1 + jitter)
        attempt += 1


def combined_stream_url(ws_url: str, symbols: tuple[str, ...], interval: str) -> str:
    streams = "/".join(f"{s.lower()}@kline_{interval}" for s in symbols)
    return f"{ws_url.rstrip('/')}/stream?streams={streams}"


class KlineStream:
    """Kline events for ``symbols`` from a Binance-compatible WebSocket base URL (e.g. ``wss://data-stream.binance.vision``)."""

    def __init__(
        self,
        ws_url: str,
        symbols: tuple[str, ...],
        interval: str,
        *,
        backoff: Callable[[], Iterator[float]] = exponential_backoff,
        stable_after_s: float = 60.0,
        open_timeout_s: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = combined_stream_url(ws_url, symbols, interval)
        self._backoff = backoff
        self._stable_after_s = stable_after_s
        self._open_timeout_s = open_timeout_s
        self._sleep = sleep
        self._clock = clock

    async def events(self) -> AsyncIterator[StreamEvent]:
        """Yield events forever (until the consumer stops iterating)."""
        delays = self._backoff()
        while True:
            connected_at: float | None = None
            code, reason, error = None, "", ""
            try:
                async with connect(self.url, open_timeout=self._open_timeout_s, ping_interval=20, ping_timeout=20) as ws:
                    connected_at = self._clock()
                    yield Connected(self.url)
                    async for raw in ws:
                        yield _decode(raw)
                    code, reason = ws.close_code, ws.close_reason or ""
            except ConnectionClosed as exc:
                frame = exc.rcvd
                code, reason, error = (frame.code if frame else None), (frame.reason if frame else ""), repr(exc)
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
                error = repr(exc)
            if connected_at is not None and self._clock() - connected_at >= self._stable_after_s:
                delays = self._backoff()
            delay = next(delays)
            yield Disconnected(code=code, reason=reason, error=error, retry_in_s=delay)
            await self._sleep(delay)


def _decode(raw: str | bytes) -> KlineEvent | BadMessage:
    try:
        message = json.loads(raw)
        data = message["data"] if isinstance(message, dict) and "data" in message else message
        candle, event_time = parse_stream_kline(data)
    except (json.JSONDecodeError, ProtocolError, TypeError, KeyError) as exc:
        return BadMessage(f"{exc}: {str(raw)[:120]}")
    return KlineEvent(candle, event_time)
