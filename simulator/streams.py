"""The simulator's Binance kline WebSocket streams over a :class:`Market`.

WebSocket (Binance WebSocket Streams docs, "General WSS information", "Live Subscribing/Unsubscribing to streams",
"WebSocket Limits", "Kline/Candlestick Streams"): raw streams at ``/ws`` and ``/ws/<stream>`` (each message is the
event itself), combined streams at ``/stream?streams=<a>/<b>`` (each message is
``{"stream": <name>, "data": <event>}``).
Stream names are ``<symbol lowercase>@kline_1m``; an unknown one in the URL refuses the handshake with HTTP 400.
``SUBSCRIBE`` / ``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS`` requests are answered ``{"result": ..., "id": ...}`` or
``{"error": {"code": 2|3, "msg": ...}, "id": ...}``. At most 1024 streams per connection; a connection that sends
more than 5 messages within a second is closed (code 1008). Pings are the server's job (see
:class:`simulator.server.SimulatorServer`).

Streaming: a connection ticks every ``interval_s`` seconds of wall time (``update_interval_ms`` of
:func:`simulator.app.create_app`). On each tick, per stream, it sends every candle that closed since the last tick,
in order (``k.x`` true, ``E`` = close time + 1 ms, the moment it closed), then the candle in progress (``k.x``
false, ``E`` = market now) if it changed. A stream starts with the candle in progress when it is subscribed: no
history on connect, clients backfill over REST. Events of different streams are interleaved in market-time order.
A stream that has fallen behind (very high replay speeds) sends at most :data:`MAX_CLOSED_CANDLES_PER_TICK` closed
candles per tick and skips the in-progress one until it has caught up.

Faults (:mod:`simulator.faults`) are read on every tick: a connection older than ``ws_drop_every_s`` is dropped
(the TCP connection closes without a close frame), one older than ``ws_close_every_s`` is closed with code 1000,
``ws_stall`` drops the tick's messages (a stalled feed loses them; requests are still answered). Otherwise, per
closed kline, a duplicate or an older closed kline may follow it, per event the close may become one of
:data:`BAD_PRICES`, and per message the text may be cut in half (malformed JSON).
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.lowlevel
from starlette.responses import JSONResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from simulator.dataset import Dataset
from simulator.faults import Faults
from simulator.kline import INTERVAL, INTERVAL_MS, Candle, stream_event
from simulator.market import Market
from simulator.replay import candle_at

MAX_STREAMS_PER_CONNECTION = 1024
MAX_INCOMING_MESSAGES_PER_S = 5
MAX_CLOSED_CANDLES_PER_TICK = 250
BAD_PRICES = ("0", "-1", "NaN", "abc")
OUT_OF_ORDER_MAX_CANDLES_BACK = 5

_MAX_REQUEST_ID_CHARS = 36


def routes(market: Market, *, faults: Faults, interval_s: float) -> list[WebSocketRoute]:
    """The WebSocket routes over ``market`` (protocol in the module docstring); each connection ticks every
    ``interval_s`` seconds of wall time and applies ``faults``."""
    streams = _StreamEndpoints(market, faults=faults, interval_s=interval_s)
    return [
        WebSocketRoute("/ws", streams.raw),
        WebSocketRoute("/ws/{stream}", streams.raw),
        WebSocketRoute("/stream", streams.combined),
    ]


class _RequestError(Exception):
    """A stream request refused with ``{"error": {"code": 2, "msg": <message>}, "id": ...}``."""


class _StreamCursor:
    """Replay position of one kline stream: the next candle to send as closed, the last partial sent, and the
    last closed events sent (what duplicates and out-of-order events repeat)."""

    __slots__ = ("_faults", "_market", "_recent_closed", "dataset", "last_partial", "name", "next_closed")

    def __init__(self, name: str, dataset: Dataset, *, market: Market, faults: Faults, now_ms: int) -> None:
        self.name = name
        self.dataset = dataset
        self.next_closed = dataset.index_after(now_ms - INTERVAL_MS)
        self.last_partial: Candle | None = None
        self._market = market
        self._faults = faults
        self._recent_closed: deque[dict[str, Any]] = deque(maxlen=OUT_OF_ORDER_MAX_CANDLES_BACK + 1)

    def due_events(self, now_ms: int) -> list[tuple[int, dict[str, Any]]]:
        """``(E, event)`` for the candles closed since the last call (at most :data:`MAX_CLOSED_CANDLES_PER_TICK`),
        each maybe followed by a duplicate or an older one, then the candle in progress if it changed and this
        stream has caught up."""
        dataset, symbol = self.dataset, self.dataset.symbol
        closed_end = dataset.index_after(now_ms - INTERVAL_MS)
        stop = min(closed_end, self.next_closed + MAX_CLOSED_CANDLES_PER_TICK)
        events = []
        for index in range(self.next_closed, stop):
            candle = self._market.candle(symbol, index)
            event_ms = candle.close_time_ms + 1
            event = stream_event(symbol, candle, closed=True, event_ms=event_ms)
            events.append((event_ms, event))
            events.extend((event_ms, repeat) for repeat in self._repeats(event))
        self.next_closed = stop
        if stop == closed_end and closed_end < dataset.index_after(now_ms):
            partial, _ = candle_at(self._market.candle(symbol, stop), now_ms)
            if partial != self.last_partial:
                self.last_partial = partial
                events.append((now_ms, stream_event(symbol, partial, closed=False, event_ms=now_ms)))
        return events

    def _repeats(self, closed_event: dict[str, Any]) -> list[dict[str, Any]]:
        """The faulty events to send right after ``closed_event``: itself again (``duplicate_rate``) and one of
        the 1 to :data:`OUT_OF_ORDER_MAX_CANDLES_BACK` closed events before it (``out_of_order_rate``)."""
        faults, settings = self._faults, self._faults.settings
        older = list(self._recent_closed)
        self._recent_closed.append(closed_event)
        repeats = []
        if faults.chance(settings.duplicate_rate):
            repeats.append(closed_event)
        if older and faults.chance(settings.out_of_order_rate):
            repeats.append(faults.pick(older))
        return repeats


class _Subscriptions:
    """One connection's kline streams, in subscription order, and its answers to method requests."""

    def __init__(self, market: Market, *, faults: Faults, combined: bool) -> None:
        self._market = market
        self._faults = faults
        self._combined = combined
        self._cursors: dict[str, _StreamCursor] = {}

    def dataset_of(self, name: str) -> Dataset:
        """The dataset a stream name refers to; raises :class:`_RequestError` for anything but
        ``<known symbol lowercase>@kline_1m``."""
        symbol, _, kind = name.partition("@")
        if kind != f"kline_{INTERVAL}" or symbol != symbol.lower() or symbol.upper() not in self._market.symbols:
            known = ", ".join(f"{s.lower()}@kline_{INTERVAL}" for s in self._market.symbols)
            raise _RequestError(f"Invalid request: unknown stream {name!r}; streams here are {known}")
        return self._market.dataset(symbol.upper())

    def subscribe(self, names: list[str]) -> None:
        """Add streams (already subscribed ones keep their position); raises :class:`_RequestError` for an
        unknown name or beyond :data:`MAX_STREAMS_PER_CONNECTION`, leaving the subscriptions unchanged."""
        datasets = {name: self.dataset_of(name) for name in names}
        if len(self._cursors.keys() | datasets.keys()) > MAX_STREAMS_PER_CONNECTION:
            raise _RequestError(f"Invalid request: too many streams (at most {MAX_STREAMS_PER_CONNECTION})")
        now_ms = self._market.now_ms()
        for name, dataset in datasets.items():
            if name not in self._cursors:
                self._cursors[name] = _StreamCursor(
                    name, dataset, market=self._market, faults=self._faults, now_ms=now_ms
                )

    def handle(self, text: str) -> dict[str, Any]:
        """The reply to one method request (JSON text), after applying it."""
        try:
            request = json.loads(text)
        except ValueError as exc:
            return _error_reply(3, f"Invalid JSON: {exc}", request_id=None)
        if not isinstance(request, dict):
            return _error_reply(2, "Invalid request: expected a JSON object", request_id=None)
        request_id = request.get("id")
        if not _is_request_id(request_id):
            return _error_reply(2, "Invalid request: request ID must be an unsigned integer", request_id=None)
        try:
            result = self._apply(request.get("method"), request.get("params"))
        except _RequestError as exc:
            return _error_reply(2, str(exc), request_id=request_id)
        return {"result": result, "id": request_id}

    def due_messages(self) -> list[str]:
        """The messages to send now, in market-time order, with the faults' bad prices and malformed texts (see
        the module docstring)."""
        faults, settings = self._faults, self._faults.settings
        now_ms = self._market.now_ms()
        events = [
            (event_ms, cursor.name, event)
            for cursor in self._cursors.values()
            for event_ms, event in cursor.due_events(now_ms)
        ]
        events.sort(key=lambda item: item[0])
        messages = []
        for _, name, event in events:
            if faults.chance(settings.bad_price_rate):
                event = {**event, "k": {**event["k"], "c": faults.pick(BAD_PRICES)}}
            text = json.dumps({"stream": name, "data": event} if self._combined else event, separators=(",", ":"))
            if faults.chance(settings.ws_malformed_rate):
                text = text[: len(text) // 2]
            messages.append(text)
        return messages

    def _apply(self, method: Any, names: Any) -> list[str] | None:
        if method == "LIST_SUBSCRIPTIONS":
            return list(self._cursors)
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE"):
            detail = "missing field `method`" if method is None else f"unknown variant `{method}`"
            raise _RequestError(
                f"Invalid request: {detail}, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`"
            )
        if not (isinstance(names, list) and names and all(isinstance(name, str) for name in names)):
            raise _RequestError("Invalid request: params must be a non-empty list of stream names")
        if method == "SUBSCRIBE":
            self.subscribe(names)
        else:
            for name in names:
                self.dataset_of(name)
            for name in names:
                self._cursors.pop(name, None)
        return None


def _is_request_id(value: Any) -> bool:
    """Binance accepts an unsigned integer, a string of at most 36 characters, or null."""
    if isinstance(value, bool):
        return False
    return (
        value is None
        or (isinstance(value, int) and value >= 0)
        or (isinstance(value, str) and len(value) <= _MAX_REQUEST_ID_CHARS)
    )


def _error_reply(code: int, msg: str, *, request_id: int | str | None) -> dict[str, Any]:
    return {"error": {"code": code, "msg": msg}, "id": request_id}


class _StreamEndpoints:
    """The WebSocket routes: open a connection with its URL's streams, then serve requests and stream ticks."""

    def __init__(self, market: Market, *, faults: Faults, interval_s: float) -> None:
        self._market = market
        self._faults = faults
        self._interval_s = interval_s

    async def raw(self, websocket: WebSocket) -> None:
        stream = websocket.path_params.get("stream")
        await self._serve(websocket, [stream] if stream else [], combined=False)

    async def combined(self, websocket: WebSocket) -> None:
        names = [name for name in websocket.query_params.get("streams", "").split("/") if name]
        await self._serve(websocket, names, combined=True)

    async def _serve(self, websocket: WebSocket, names: list[str], *, combined: bool) -> None:
        subscriptions = _Subscriptions(self._market, faults=self._faults, combined=combined)
        try:
            subscriptions.subscribe(names)
        except _RequestError as exc:
            await websocket.send_denial_response(JSONResponse({"code": 2, "msg": str(exc)}, status_code=400))
            return
        await websocket.accept()
        async with anyio.create_task_group() as tasks:

            async def until_disconnect(job: Callable[[WebSocket, _Subscriptions], Awaitable[None]]) -> None:
                try:
                    await job(websocket, subscriptions)
                except WebSocketDisconnect:
                    pass
                finally:
                    tasks.cancel_scope.cancel()

            tasks.start_soon(until_disconnect, self._stream)
            tasks.start_soon(until_disconnect, _answer_requests)

    async def _stream(self, websocket: WebSocket, subscriptions: _Subscriptions) -> None:
        """Send the due messages every tick; return to drop the connection (the app then ends without a close
        frame, and uvicorn closes the TCP connection), or close it with 1000, as the faults say."""
        faults = self._faults
        opened_s = faults.now_s()
        while True:
            await anyio.sleep(self._interval_s)
            settings = faults.settings
            age_s = faults.now_s() - opened_s
            if settings.ws_drop_every_s and age_s >= settings.ws_drop_every_s:
                return
            if settings.ws_close_every_s and age_s >= settings.ws_close_every_s:
                await websocket.close(code=1000, reason="Scheduled close")
                return
            due = subscriptions.due_messages()
            if settings.ws_stall:
                continue
            for message in due:
                await websocket.send_text(message)
                await anyio.lowlevel.checkpoint()


async def _answer_requests(websocket: WebSocket, subscriptions: _Subscriptions) -> None:
    """Reply to method requests until the client leaves; close with 1008 past the incoming-message rate limit."""
    arrivals: deque[float] = deque(maxlen=MAX_INCOMING_MESSAGES_PER_S)
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        now_s = time.monotonic()
        if len(arrivals) == arrivals.maxlen and now_s - arrivals[0] < 1.0:
            await websocket.close(code=1008, reason="Too many requests")
            return
        arrivals.append(now_s)
        text = message.get("text")
        if text is None:
            text = message.get("bytes", b"").decode("utf-8", errors="replace")
        await websocket.send_text(json.dumps(subscriptions.handle(text), separators=(",", ":")))
