"""What :class:`~engine.feed.stream.KlineStream` yields, and how one message of the wire becomes one of them.

Messages (Binance WebSocket Streams docs): combined-stream payloads ``{"stream": "<name>", "data": <event>}`` (or the
raw event), ``kline`` events parsed by :mod:`engine.feed.klines`, and answers to requests, ``{"result": null,
"id": n}`` on success or ``{"error": {"code", "msg"}, "id"}`` ("Error Messages"). A message that breaks the format
is a :class:`BadMessage` (dropped and counted), never an exception.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.core.models import Candle
from engine.errors import ProtocolError
from engine.feed.klines import parse_stream_kline
from engine.guards.ws_limiter import WsLimiterStatus


@dataclass(frozen=True, slots=True)
class Connected:
    """The connection to ``url`` is open. ``attempt``: reconnect attempts since the last stable connection,
    this one included (0 = the first connection of :meth:`KlineStream.events`)."""

    url: str
    attempt: int


@dataclass(frozen=True, slots=True)
class Disconnected:
    """A connection closed, went stale or could not be opened.

    Attributes:
        code: close code from the server's close frame; ``None`` when there was none (dropped socket, failed
            connect, stale stream — RFC 6455 calls that 1006).
        reason: close reason from the frame, or ``"stale"`` when no message came for ``stale_after_s``.
        error: the exception (``repr``) for a failed connect or dropped socket; ``""`` after a clean close.
        retry_in_s: seconds until the next attempt; ``None`` when there is none: attempts are exhausted (the
            iterator then raises :class:`~engine.errors.TransportError`) or the failure is fatal.
        attempt: number of the attempt that follows, counted since the last stable connection (1 = first retry).
        connected_for_s: how long the connection was up; ``None`` when the attempt never connected.
    """

    code: int | None
    reason: str
    error: str
    retry_in_s: float | None
    attempt: int
    connected_for_s: float | None
    fatal: bool = False


@dataclass(frozen=True, slots=True)
class KlineEvent:
    """A kline update; ``candle.closed`` is the stream's ``k.x``, ``event_time_ms`` its ``E`` (Unix ms)."""

    candle: Candle
    event_time_ms: int


@dataclass(frozen=True, slots=True)
class BadMessage:
    """A message that broke the documented format (malformed JSON, invalid price); it is dropped and counted."""

    detail: str


@dataclass(frozen=True, slots=True)
class Reply:
    """The server's answer to a ``SUBSCRIBE``/``UNSUBSCRIBE`` request; ``error`` is ``""`` on success, else the
    server's ``code``/``msg`` (Binance WebSocket Streams docs, "Error Messages")."""

    request_id: int | str | None
    error: str


StreamEvent = Connected | Disconnected | KlineEvent | BadMessage | Reply


@dataclass(frozen=True, slots=True)
class StreamStatus:
    """Counters since :meth:`KlineStream.events` started (seconds from the stream's injected clock).

    ``disconnects`` counts open connections closed by the server, the network or staleness (not by the consumer
    leaving :meth:`KlineStream.events`); failed connect attempts are
    ``reconnect_attempts + 1 - connects`` (the first attempt is not a *re*connect).
    ``disconnected_s`` is the total time without an open connection, the current outage included.
    """

    connected: bool
    url: str
    connects: int
    disconnects: int
    reconnect_attempts: int
    stale_disconnects: int
    messages: int
    last_close_code: int | None
    last_close_reason: str
    last_error: str
    disconnected_s: float
    subscriptions: tuple[str, ...]
    limiter: WsLimiterStatus


def decode(raw: str | bytes) -> KlineEvent | BadMessage | Reply:
    try:
        message: Any = json.loads(raw)
        if isinstance(message, dict) and "id" in message and ("result" in message or "error" in message or "code" in message):
            return _reply(message)
        data = message["data"] if isinstance(message, dict) and "data" in message else message
        candle, event_time = parse_stream_kline(data)
    except (ValueError, ProtocolError, TypeError, KeyError) as exc:
        return BadMessage(f"{exc}: {str(raw)[:120]}")
    return KlineEvent(candle, event_time)


def _reply(message: dict[str, Any]) -> Reply:
    """``{"result": null, "id": n}`` is a success; errors come as ``{"error": {"code", "msg"}, "id"}`` or, in
    older documentation, ``{"code", "msg", "id"}``."""
    failure = message.get("error") or ({"code": message["code"], "msg": message.get("msg", "")} if "code" in message else None)
    if failure is None:
        return Reply(message["id"], "")
    if isinstance(failure, dict):
        return Reply(message["id"], f"code {failure.get('code')}: {failure.get('msg', '')}")
    return Reply(message["id"], str(failure))
