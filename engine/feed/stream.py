"""Kline market stream over WebSocket, with a reconnect loop (``../shared/SPEC.md`` §3.5).

Protocol (Binance WebSocket Streams docs): combined stream ``/stream?streams=<a>/<b>`` whose messages are
``{"stream": "<name>", "data": <event>}``; stream names ``<symbol lowercase>@kline_<interval>``; kline updates are
pushed every 2000 ms (1000 ms for ``1s``) — "Kline/Candlestick Streams", *Update Speed*. The server pings every
20 s and the ``websockets`` library answers; we ping too, every :data:`PING_INTERVAL_S`. Streams can be added and
removed on a live connection with ``SUBSCRIBE`` / ``UNSUBSCRIBE`` requests answered ``{"result": null, "id": n}``
("Live Subscribing/Unsubscribing to streams"); requests go through :class:`~engine.guards.ws_limiter.WsMessageLimiter`
(Binance closes a connection that sends more than 5 messages a second, pings and pongs included).

:meth:`KlineStream.events` is an async iterator of :class:`StreamEvent` values — connection changes are events too,
so the engine records them and never has to catch transport exceptions while it is retrying::

    Connected ─► KlineEvent | BadMessage | Reply … ─► Disconnected(retry_in_s) ─► (wait) ─► Connected …
    failed connect attempt:                            Disconnected(connected_for_s=None)
    attempts exhausted (max_attempts):                 Disconnected(retry_in_s=None), then TransportError

It reconnects after **any** close (normal close included) and after :attr:`KlineStream.stale_after_s` without a
message (a dead stream), waiting ``next(backoff)`` seconds between attempts; the backoff generator (the shared one,
:mod:`engine.guards.backoff`) is made anew once a connection stayed up ``stable_after_s``. :func:`classify` decides,
like ``websockets``' ``process_exception``, whether a failure is worth another attempt: a handshake refused with
HTTP 401, 403 or 404 will be refused again, so it is **fatal** — a final ``Disconnected(retry_in_s=None, fatal=True)``
then :class:`~engine.errors.StreamRefused` — and shown rather than retried forever. Candles are passed on as received:
the consumer's sequencer (:mod:`engine.feed.sequencer`) orders them, drops duplicates and finds the gaps.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Literal

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException
from websockets.uri import parse_uri

from engine.errors import ConfigError, StreamRefused, TransportError
from engine.feed.stream_events import Connected, Disconnected, StreamEvent, StreamStatus, decode
from engine.guards.backoff import Backoff
from engine.guards.ws_limiter import WsMessageLimiter

PING_INTERVAL_S = 20.0
"""Our own keepalive pings; a pong missing for as long closes the connection (and we reconnect)."""
KLINE_UPDATE_S = 2.0
"""Binance WebSocket Streams docs, "Kline/Candlestick Streams": Update Speed 2000 ms (intervals other than 1s)."""
DEFAULT_STALE_AFTER_S = 3 * KLINE_UPDATE_S
RECONNECT_BACKOFF = Backoff(base_s=1.0, cap_s=64.0, jitter=0.25)
"""``../shared/SPEC.md`` §3.5: 2^n s capped at 64 s, ±25 %."""
CLOSE_TIMEOUT_S = 0.5
"""How long closing waits for the server's close frame (on shutdown) before dropping the connection."""
FATAL_HANDSHAKE_STATUSES = frozenset({401, 403, 404})
"""A handshake refused with these will be refused again: retrying cannot help (wrong URL or no access)."""


def classify(exc: BaseException) -> Literal["retry", "fatal"]:
    """Whether a failed connect or a dropped connection is worth another attempt.

    ``fatal`` for a handshake answered 401, 403 or 404 (:data:`FATAL_HANDSHAKE_STATUSES`: no access, or no such
    endpoint) and for an invalid URI; ``retry`` for everything else (refused or reset connections, timeouts, 5xx,
    close frames of any code, a stale stream).
    """
    if isinstance(exc, InvalidStatus) and exc.response.status_code in FATAL_HANDSHAKE_STATUSES:
        return "fatal"
    if isinstance(exc, InvalidURI):
        return "fatal"
    return "retry"


def combined_stream_url(ws_url: str, symbols: tuple[str, ...], interval: str) -> str:
    return f"{ws_url.rstrip('/')}/stream?streams={'/'.join(kline_stream_names(symbols, interval))}"


def kline_stream_names(symbols: Iterable[str], interval: str) -> tuple[str, ...]:
    """``<symbol lowercase>@kline_<interval>`` for each symbol (Binance WebSocket Streams docs)."""
    return tuple(f"{s.lower()}@kline_{interval}" for s in symbols)


class KlineStream:
    """Kline events for ``symbols`` from a Binance-compatible WebSocket base URL (e.g. ``wss://data-stream.binance.vision``).

    Args:
        ws_url: base URL; the client connects to its combined-stream URL (:attr:`url`).
        symbols: symbols whose ``@kline_<interval>`` streams are in the URL.
        interval: kline interval, e.g. ``"1m"``.
        backoff: makes the generator of reconnect delays in seconds; called again after a stable connection
            (default: :data:`RECONNECT_BACKOFF`; tests pass zeros).
        stable_after_s: a connection up at least this long resets the backoff and the attempt count.
        stale_after_s: no message for this long closes the connection as dead; ``None`` disables the check.
            Default 3 × the 2 s kline update period.
        max_attempts: reconnect attempts in a row (without a stable connection) before giving up; ``None`` for
            no limit, 0 to never reconnect.
        open_timeout_s: timeout of the opening handshake.
        sleep: awaited with each reconnect delay and rate-limit wait (tests pass a recorder).
        clock: monotonic seconds, for connection durations and :meth:`status`.

    Raises:
        ConfigError: ``ws_url`` is not a ws:// or wss:// URL.
    """

    def __init__(
        self,
        ws_url: str,
        symbols: tuple[str, ...],
        interval: str,
        *,
        backoff: Callable[[], Iterator[float]] = RECONNECT_BACKOFF.delays,
        stable_after_s: float = 60.0,
        stale_after_s: float | None = DEFAULT_STALE_AFTER_S,
        max_attempts: int | None = None,
        open_timeout_s: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = combined_stream_url(ws_url, symbols, interval)
        try:
            parse_uri(self.url)
        except InvalidURI as exc:
            raise ConfigError(f"venue.ws_url: not a WebSocket URL: {ws_url!r}") from exc
        self.stale_after_s = stale_after_s
        self._url_streams = kline_stream_names(symbols, interval)
        self._streams: dict[str, None] = dict.fromkeys(self._url_streams)
        self._backoff = backoff
        self._stable_after_s = stable_after_s
        self._max_attempts = max_attempts
        self._open_timeout_s = open_timeout_s
        self._sleep = sleep
        self._clock = clock
        self._limiter = WsMessageLimiter(clock=clock, sleep=sleep)
        self._ws: ClientConnection | None = None
        self._next_id = 1
        self._connects = self._disconnects = self._reconnect_attempts = self._stale = self._messages = 0
        self._last_code: int | None = None
        self._last_reason = self._last_error = ""
        self._disconnected_s = 0.0
        self._down_since: float | None = None

    # ------------------------------------------------------------------ subscriptions
    @property
    def subscriptions(self) -> tuple[str, ...]:
        """The stream names this client wants, in subscription order; restored after every reconnect."""
        return tuple(self._streams)

    async def subscribe(self, streams: Iterable[str]) -> int | None:
        """Add streams (e.g. ``"ethusdt@kline_1m"``). Sent at once as a ``SUBSCRIBE`` request when connected
        (its :class:`Reply` arrives in :meth:`events`), else on the next connect. Returns the request id, or
        ``None`` when nothing was sent now."""
        names = [s for s in streams if s not in self._streams]
        self._streams.update(dict.fromkeys(names))
        return await self._request("SUBSCRIBE", names)

    async def unsubscribe(self, streams: Iterable[str]) -> int | None:
        """Remove streams; like :meth:`subscribe` with an ``UNSUBSCRIBE`` request."""
        names = [s for s in streams if s in self._streams]
        for name in names:
            del self._streams[name]
        return await self._request("UNSUBSCRIBE", names)

    async def _request(self, method: str, names: list[str]) -> int | None:
        ws = self._ws
        if not names or ws is None:
            return None
        try:
            return await self._send(ws, method, names)
        except ConnectionClosed:
            return None  # restored from ``_streams`` on the next connect

    async def _send(self, ws: ClientConnection, method: str, names: list[str]) -> int:
        await self._limiter.acquire()
        request_id, self._next_id = self._next_id, self._next_id + 1
        await ws.send(json.dumps({"method": method, "params": names, "id": request_id}))
        return request_id

    async def _restore_subscriptions(self, ws: ClientConnection) -> None:
        """Bring a fresh connection (subscribed to the URL's streams) to :attr:`subscriptions`: one request each way."""
        added = [s for s in self._streams if s not in self._url_streams]
        removed = [s for s in self._url_streams if s not in self._streams]
        if added:
            await self._send(ws, "SUBSCRIBE", added)
        if removed:
            await self._send(ws, "UNSUBSCRIBE", removed)

    # ------------------------------------------------------------------ telemetry
    def status(self) -> StreamStatus:
        """A frozen snapshot of the counters (see :class:`StreamStatus`)."""
        outage = 0.0 if self._down_since is None else self._clock() - self._down_since
        return StreamStatus(
            connected=self._ws is not None,
            url=self.url,
            connects=self._connects,
            disconnects=self._disconnects,
            reconnect_attempts=self._reconnect_attempts,
            stale_disconnects=self._stale,
            messages=self._messages,
            last_close_code=self._last_code,
            last_close_reason=self._last_reason,
            last_error=self._last_error,
            disconnected_s=self._disconnected_s + outage,
            subscriptions=self.subscriptions,
            limiter=self._limiter.status(),
        )

    # ------------------------------------------------------------------ the loop
    async def events(self) -> AsyncIterator[StreamEvent]:
        """Yield events until the consumer stops iterating (one consumer at a time).

        Raises:
            TransportError: ``max_attempts`` reconnect attempts in a row failed (after the final
                :class:`Disconnected`, whose ``retry_in_s`` is ``None``).
            StreamRefused: the handshake was refused for good (see :func:`classify`), after a final
                :class:`Disconnected` with ``fatal`` set.
        """
        delays = self._backoff()
        attempt = 0
        self._down_since = self._clock()
        try:
            while True:
                if attempt:
                    self._reconnect_attempts += 1
                connected_at: float | None = None
                code, reason, error = None, "", ""
                fatal = False
                try:
                    async with connect(
                        self.url,
                        open_timeout=self._open_timeout_s,
                        ping_interval=PING_INTERVAL_S,
                        ping_timeout=PING_INTERVAL_S,
                        close_timeout=CLOSE_TIMEOUT_S,
                    ) as ws:
                        await self._restore_subscriptions(ws)
                        connected_at = self._on_connected(ws)
                        yield Connected(self.url, attempt)
                        while True:
                            try:
                                # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation
                                # that lands as the message arrives, and the engine would then never stop.
                                async with asyncio.timeout(self.stale_after_s):
                                    raw = await ws.recv()
                            except TimeoutError:
                                reason, error = "stale", f"no message for {self.stale_after_s} s"
                                ws.transport.abort()
                                break
                            self._messages += 1
                            yield decode(raw)
                except ConnectionClosed as exc:
                    frame = exc.rcvd
                    code, reason = (frame.code, frame.reason) if frame else (None, "")
                    error = "" if frame and code in (1000, 1001) else repr(exc)
                except (OSError, TimeoutError, WebSocketException) as exc:
                    error = repr(exc)
                    fatal = classify(exc) == "fatal"
                connected_for_s = None if connected_at is None else self._clock() - connected_at
                self._on_closed(code, reason, error)
                if fatal:
                    yield Disconnected(code, reason, error, None, attempt + 1, connected_for_s, fatal=True)
                    raise StreamRefused(f"market stream refused: {error}; check venue.ws_url and access", endpoint=self.url)
                if connected_for_s is not None and connected_for_s >= self._stable_after_s:
                    delays, attempt = self._backoff(), 0
                attempt += 1
                if self._max_attempts is not None and attempt > self._max_attempts:
                    yield Disconnected(code, reason, error, None, attempt, connected_for_s)
                    raise TransportError(
                        f"market stream: gave up after {attempt - 1} reconnect attempts "
                        f"(last close code {code} {reason!r} {error})",
                        endpoint=self.url,
                    )
                delay = next(delays)
                yield Disconnected(code, reason, error, delay, attempt, connected_for_s)
                await self._sleep(delay)
        finally:
            self._ws = None  # the consumer stopped iterating: not a venue disconnect, not counted

    def _on_connected(self, ws: ClientConnection) -> float:
        now = self._clock()
        self._ws = ws
        self._connects += 1
        if self._down_since is not None:
            self._disconnected_s += now - self._down_since
            self._down_since = None
        return now

    def _on_closed(self, code: int | None, reason: str, error: str) -> None:
        if self._ws is not None:
            self._disconnects += 1
            self._ws = None
            self._down_since = self._clock()
        if reason == "stale":
            self._stale += 1
        self._last_code, self._last_reason, self._last_error = code, reason, error
