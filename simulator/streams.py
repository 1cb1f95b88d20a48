"""The simulator's Binance kline WebSocket streams over a :class:`Market`.

WebSocket (Binance WebSocket Streams docs, "General WSS information", "Live Subscribing/Unsubscribing to streams",
"Setting Properties", "Retrieving Properties", "WebSocket Limits", "Kline/Candlestick Streams"): raw streams at
``/ws`` and ``/ws/<stream>[/<stream>…]`` (each message is the event itself), combined streams at
``/stream?streams=<a>/<b>`` (each message is ``{"stream": <name>, "data": <event>}``). Every such URL accepts the
handshake, as Binance's does: clients such as ccxt open ``/ws/<a number>`` and then send ``SUBSCRIBE``. Names in the
URL that are not a stream served here are not subscribed (nothing comes for them).

Streams are ``<symbol lowercase>@kline_<interval>`` for every interval of :mod:`simulator.intervals`, and
``<symbol>@kline_<interval>@+08:00`` for klines aligned in UTC+8 ("Kline/Candlestick Streams with timezone offset";
in a ``/stream?streams=`` query string the ``+`` is sent as ``%2B``, else it reads as a space). ``SUBSCRIBE`` /
``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS`` / ``SET_PROPERTY ["combined", <bool>]`` / ``GET_PROPERTY ["combined"]``
are answered ``{"result": ..., "id": ...}`` or ``{"error": {"code": 0|1|2|3, "msg": ...}, "id": ...}`` with the
documented messages ("Error Messages"); a ``SUBSCRIBE`` naming a stream not served here is refused (code 2) so that
the client learns it. ``combined`` starts false on ``/ws`` and true on ``/stream`` and switches the payload of the
whole connection. The URL parameter ``timeUnit=MICROSECOND`` (or ``microsecond``) sends times in µs
(:mod:`simulator.time_unit`); another value refuses the handshake (HTTP 400, -1194). At most 1024 streams per
connection; a connection that sends more than 5 messages within a second is closed (code 1008). Pings are the
server's job (see :class:`simulator.server.SimulatorServer`).

Streaming: a connection ticks every ``interval_s`` seconds of wall time (``update_interval_ms`` of
:func:`simulator.app.create_app`). On each tick, per stream, it sends every kline that closed since the last tick,
in order (``k.x`` true, ``E`` = close time + 1 ms, the moment it closed), then the kline in progress (``k.x``
false, ``E`` = market now) if it changed; klines of longer intervals are aggregated from the 1m candles exactly as
REST serves them (:mod:`simulator.interval_klines`), the one in progress included. A stream starts with the kline in
progress when it is subscribed: no history on connect, clients backfill over REST. Events of different streams are
interleaved in market-time order. A stream that has fallen behind (very high replay speeds) sends at most
:data:`MAX_CLOSED_CANDLES_PER_TICK` closed klines per tick and skips the one in progress until it has caught up.

Faults (:mod:`simulator.faults`) are read on every tick: a connection older than ``ws_drop_every_s`` is dropped
(the TCP connection closes without a close frame), one older than ``ws_close_every_s`` is closed with code 1000,
``ws_stall`` drops the tick's messages (a stalled feed loses them; requests are still answered). Otherwise, per
closed kline, a duplicate or an older closed kline may follow it, per event the close may become one of
:data:`BAD_PRICES`, and per message the text may be cut in half (malformed JSON).
"""

from __future__ import annotations

import json
import re
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
from simulator.interval_klines import merge
from simulator.intervals import MINUTE_MS, STREAM_TIME_ZONE, KlineInterval, UnknownIntervalError
from simulator.kline import Kline, stream_event
from simulator.market import Market
from simulator.replay import candle_at
from simulator.time_unit import InvalidTimeUnitError, TimeUnit

MAX_STREAMS_PER_CONNECTION = 1024
MAX_INCOMING_MESSAGES_PER_S = 5
MAX_CLOSED_CANDLES_PER_TICK = 250
BAD_PRICES = ("0", "-1", "NaN", "abc")
OUT_OF_ORDER_MAX_CANDLES_BACK = 5
METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")

_MAX_REQUEST_ID_CHARS = 36
_KLINE_STREAM = re.compile(r"(?P<symbol>[a-z0-9]+)@kline_(?P<interval>[0-9]+[a-zA-Z])(?P<zone>@\+08:00)?")
_COMBINED = "combined"


def routes(market: Market, *, faults: Faults, interval_s: float) -> list[WebSocketRoute]:
    """The WebSocket routes over ``market`` (protocol in the module docstring); each connection ticks every
    ``interval_s`` seconds of wall time and applies ``faults``."""
    streams = _StreamEndpoints(market, faults=faults, interval_s=interval_s)
    return [
        WebSocketRoute("/ws", streams.raw),
        WebSocketRoute("/ws/{streams:path}", streams.raw),
        WebSocketRoute("/stream", streams.combined),
    ]


class _RequestError(Exception):
    """A request refused with ``{"error": {"code": code, "msg": <message>}, "id": ...}`` (code 2 unless said)."""

    def __init__(self, msg: str, *, code: int = 2) -> None:
        super().__init__(msg)
        self.code = code


class _StreamCursor:
    """Replay position of one kline stream: the first minute of the first kline not yet sent as closed, the last
    partial sent, the closed minutes of the current kline merged so far, and the last closed events sent (what
    duplicates and out-of-order events repeat)."""

    __slots__ = (
        "_faults",
        "_market",
        "_merged",
        "_recent_closed",
        "_unit",
        "dataset",
        "interval",
        "last_partial",
        "name",
        "next_closed",
    )

    def __init__(
        self,
        name: str,
        dataset: Dataset,
        interval: KlineInterval,
        *,
        market: Market,
        faults: Faults,
        unit: TimeUnit,
        now_ms: int,
    ) -> None:
        self.name = name
        self.dataset = dataset
        self.interval = interval
        self.next_closed = dataset.index_at_or_after(interval.open_time_ms(now_ms))
        self.last_partial: Kline | None = None
        self._market = market
        self._faults = faults
        self._unit = unit
        self._merged: tuple[int, int, Kline] | None = None
        """(first minute index, index after the last, those closed minutes merged): reused as minutes close."""
        self._recent_closed: deque[dict[str, Any]] = deque(maxlen=OUT_OF_ORDER_MAX_CANDLES_BACK + 1)

    def due_events(self, now_ms: int) -> list[tuple[int, dict[str, Any]]]:
        """``(E, event)`` for the klines closed since the last call (at most :data:`MAX_CLOSED_CANDLES_PER_TICK`),
        each maybe followed by a duplicate or an older one, then the kline in progress if it changed and this
        stream has caught up."""
        dataset, interval, symbol = self.dataset, self.interval, self.dataset.symbol
        times = dataset.open_time_ms
        opened = dataset.index_after(now_ms)
        events = []
        for _ in range(MAX_CLOSED_CANDLES_PER_TICK):
            if self.next_closed >= opened:
                break
            open_ms = interval.open_time_ms(times[self.next_closed])
            next_open_ms = interval.next_open_ms(open_ms)
            if now_ms < next_open_ms:
                break
            after = dataset.index_at_or_after(next_open_ms)
            kline = self._closed_minutes(self.next_closed, after, open_ms=open_ms, next_open_ms=next_open_ms)
            event = stream_event(
                symbol, kline, interval=interval.name, closed=True, event_ms=next_open_ms, unit=self._unit
            )
            events.append((next_open_ms, event))
            events.extend((next_open_ms, repeat) for repeat in self._repeats(event))
            self.next_closed = after
        if self.next_closed < opened:
            open_ms = interval.open_time_ms(times[self.next_closed])
            next_open_ms = interval.next_open_ms(open_ms)
            if now_ms < next_open_ms:
                partial = self._in_progress(open_ms=open_ms, next_open_ms=next_open_ms, opened=opened, now_ms=now_ms)
                if partial != self.last_partial:
                    self.last_partial = partial
                    event = stream_event(
                        symbol, partial, interval=interval.name, closed=False, event_ms=now_ms, unit=self._unit
                    )
                    events.append((now_ms, event))
        return events

    def _closed_minutes(self, first: int, after: int, *, open_ms: int, next_open_ms: int) -> Kline:
        """The closed minutes ``first`` … ``after`` − 1 merged into the kline opening at ``open_ms``, reusing what was
        merged of them before."""
        merged = self._merged
        if merged is not None and merged[0] == first and merged[1] <= after:
            parts, start = [merged[2]], merged[1]
        else:
            parts, start = [], first
        symbol = self.dataset.symbol
        parts += [Kline.of(self._market.candle(symbol, index)) for index in range(start, after)]
        kline = merge(parts, open_time_ms=open_ms, close_time_ms=next_open_ms - 1)
        self._merged = (first, after, kline)
        return kline

    def _in_progress(self, *, open_ms: int, next_open_ms: int, opened: int, now_ms: int) -> Kline:
        """The kline in progress: its closed minutes merged, plus the minute in progress as its partial."""
        closed = self.dataset.index_after(now_ms - MINUTE_MS)
        parts = []
        if closed > self.next_closed:
            parts.append(self._closed_minutes(self.next_closed, closed, open_ms=open_ms, next_open_ms=next_open_ms))
        if opened > closed:
            partial, _ = candle_at(self._market.candle(self.dataset.symbol, opened - 1), now_ms)
            parts.append(Kline.of(partial))
        return merge(parts, open_time_ms=open_ms, close_time_ms=next_open_ms - 1)

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
    """One connection's kline streams, in subscription order, its ``combined`` property and time unit, and its
    answers to method requests."""

    def __init__(self, market: Market, *, faults: Faults, combined: bool, unit: TimeUnit) -> None:
        self._market = market
        self._faults = faults
        self._combined = combined
        self._unit = unit
        self._cursors: dict[str, _StreamCursor] = {}

    def stream_of(self, name: str) -> tuple[Dataset, KlineInterval]:
        """The dataset and interval a stream name refers to; raises :class:`_RequestError` for anything but
        ``<known symbol lowercase>@kline_<interval>[@+08:00]``."""
        match = _KLINE_STREAM.fullmatch(name)
        symbol = match["symbol"].upper() if match else ""
        try:
            if match is None or symbol not in self._market.symbols:
                raise UnknownIntervalError(name)
            interval = KlineInterval.parse(match["interval"], time_zone=STREAM_TIME_ZONE if match["zone"] else None)
        except UnknownIntervalError:
            known = ", ".join(f"{s.lower()}@kline_<interval>[@{STREAM_TIME_ZONE}]" for s in self._market.symbols)
            raise _RequestError(f"Invalid request: unknown stream {name!r}; streams here are {known}") from None
        return self._market.dataset(symbol), interval

    def subscribe(self, names: list[str]) -> None:
        """Add streams (already subscribed ones keep their position); raises :class:`_RequestError` for an
        unknown name or beyond :data:`MAX_STREAMS_PER_CONNECTION`, leaving the subscriptions unchanged."""
        streams = {name: self.stream_of(name) for name in names}
        if len(self._cursors.keys() | streams.keys()) > MAX_STREAMS_PER_CONNECTION:
            raise _RequestError(f"Invalid request: too many streams (at most {MAX_STREAMS_PER_CONNECTION})")
        now_ms = self._market.now_ms()
        for name, (dataset, interval) in streams.items():
            if name not in self._cursors:
                self._cursors[name] = _StreamCursor(
                    name, dataset, interval, market=self._market, faults=self._faults, unit=self._unit, now_ms=now_ms
                )

    def subscribe_served(self, names: list[str]) -> None:
        """Subscribe the names of a connection URL that are streams served here, ignoring the others; raises
        :class:`_RequestError` beyond :data:`MAX_STREAMS_PER_CONNECTION`."""
        served = []
        for name in names:
            try:
                self.stream_of(name)
            except _RequestError:
                continue
            served.append(name)
        self.subscribe(served)

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
            return _error_reply(exc.code, str(exc), request_id=request_id)
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

    def _apply(self, method: Any, params: Any) -> list[str] | bool | None:
        if method == "LIST_SUBSCRIPTIONS":
            return list(self._cursors)
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            return self._property(method, params)
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE"):
            detail = "missing field `method`" if method is None else f"unknown variant `{method}`"
            raise _RequestError(f"Invalid request: {detail}, expected one of {', '.join(f'`{m}`' for m in METHODS)}")
        if not (isinstance(params, list) and params and all(isinstance(name, str) for name in params)):
            raise _RequestError("Invalid request: params must be a non-empty list of stream names")
        if method == "SUBSCRIBE":
            self.subscribe(params)
        else:
            for name in params:
                self.stream_of(name)
            for name in params:
                self._cursors.pop(name, None)
        return None

    def _property(self, method: str, params: Any) -> bool | None:
        """``SET_PROPERTY ["combined", <bool>]`` (result null) or ``GET_PROPERTY ["combined"]`` (result the value),
        refused with the codes and messages of Binance's "Error Messages" table."""
        if not (isinstance(params, list) and params and isinstance(params[0], str)):
            raise _RequestError("Invalid request: property name must be a string")
        if len(params) > (2 if method == "SET_PROPERTY" else 1):
            raise _RequestError("Invalid request: too many parameters")
        if params[0] != _COMBINED:
            raise _RequestError("Unknown property", code=0)
        if method == "GET_PROPERTY":
            return self._combined
        if len(params) < 2 or not isinstance(params[1], bool):
            raise _RequestError("Invalid value type: expected Boolean", code=1)
        self._combined = params[1]
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
        names = [name for name in websocket.path_params.get("streams", "").split("/") if name]
        await self._serve(websocket, names, combined=False)

    async def combined(self, websocket: WebSocket) -> None:
        names = [name for name in websocket.query_params.get("streams", "").split("/") if name]
        await self._serve(websocket, names, combined=True)

    async def _serve(self, websocket: WebSocket, names: list[str], *, combined: bool) -> None:
        try:
            unit = TimeUnit.parse(websocket.query_params.get("timeUnit"))
        except InvalidTimeUnitError:
            msg = "Invalid value for time unit; expected either MICROSECOND or MILLISECOND."
            await websocket.send_denial_response(JSONResponse({"code": -1194, "msg": msg}, status_code=400))
            return
        subscriptions = _Subscriptions(self._market, faults=self._faults, combined=combined, unit=unit)
        try:
            subscriptions.subscribe_served(names)
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
