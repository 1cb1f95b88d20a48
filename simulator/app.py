"""The simulator's ASGI app: Binance spot market-data REST endpoints and kline WebSocket streams over a :class:`Market`.

REST (Binance spot REST docs, "General API Information", "LIMITS", "Market Data endpoints")::

    GET /api/v3/ping           weight 1   {}
    GET /api/v3/time           weight 1   {"serverTime": <market now, Unix ms>}
    GET /api/v3/exchangeInfo   weight 20  [symbol | symbols='["BTCUSDT","ETHUSDT"]']
    GET /api/v3/klines         weight 2   symbol, interval=1m, [startTime, endTime, limit=500 (1..1000)]
    GET /api/v3/ticker/price   weight 2 with symbol, 4 without (or with symbols)
    GET /api/v3/depth          weight 5 / 25 / 50 / 250 for limit ≤ 100 / 500 / 1000 / 5000; symbol, [limit=100]

Every REST response, errors included, carries ``X-MBX-USED-WEIGHT-1M``: the client IP's weight used this minute,
this request included (the weight is counted before anything else, so refused requests use weight too). Above the
limit the answer is HTTP 429 with ``Retry-After`` (seconds) and ``{"code": -1003, ...}``. A bad request is HTTP 400
with a Binance error body ``{"code": <negative int>, "msg": ...}``.

WebSocket (Binance WebSocket Streams docs, "General WSS information", "Live Subscribing/Unsubscribing to streams",
"WebSocket Limits", "Kline/Candlestick Streams"): raw streams at ``/ws`` and ``/ws/<stream>`` (each message is the
event itself), combined streams at ``/stream?streams=<a>/<b>`` (each message is
``{"stream": <name>, "data": <event>}``).
Stream names are ``<symbol lowercase>@kline_1m``; an unknown one in the URL refuses the handshake with HTTP 400.
``SUBSCRIBE`` / ``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS`` requests are answered ``{"result": ..., "id": ...}`` or
``{"error": {"code": 2|3, "msg": ...}, "id": ...}``. At most 1024 streams per connection; a connection that sends
more than 5 messages within a second is closed (code 1008). Pings are the server's job (see
:class:`simulator.server.SimulatorServer`).

Streaming: a connection ticks every ``update_interval_ms`` of wall time. On each tick, per stream, it sends every
candle that closed since the last tick, in order (``k.x`` true, ``E`` = close time + 1 ms, the moment it closed),
then the candle in progress (``k.x`` false, ``E`` = market now) if it changed. A stream starts with the candle in
progress when it is subscribed: no history on connect, clients backfill over REST. Events of different streams
are interleaved in market-time order. A stream that has fallen behind (very high replay speeds) sends at most
:data:`MAX_CLOSED_CANDLES_PER_TICK` closed candles per tick and skips the in-progress one until it has caught up.
"""

from __future__ import annotations

import json
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import anyio
import anyio.lowlevel
from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from simulator.dataset import Dataset
from simulator.kline import INTERVAL, INTERVAL_MS, Candle, fmt8, rest_row, stream_event
from simulator.market import Market
from simulator.replay import candle_at
from simulator.symbols import rate_limits

KLINES_DEFAULT_LIMIT = 500
KLINES_MAX_LIMIT = 1000
DEPTH_DEFAULT_LIMIT = 100
DEPTH_MAX_LIMIT = 5000
DEPTH_LEVEL_NOTIONAL = Decimal(1000)
"""Quote-asset value of the synthetic book's best level; level *k* (0-based) holds (k + 1) times as much."""
MAX_STREAMS_PER_CONNECTION = 1024
MAX_INCOMING_MESSAGES_PER_S = 5
MAX_CLOSED_CANDLES_PER_TICK = 250

_DEPTH_WEIGHTS = ((100, 5), (500, 25), (1000, 50), (DEPTH_MAX_LIMIT, 250))
_INTEGER = re.compile(r"-?[0-9]{1,20}")
_MAX_REQUEST_ID_CHARS = 36


def create_app(market: Market, *, update_interval_ms: int = 250) -> Starlette:
    """The Binance-compatible app serving ``market`` (routes and protocol in the module docstring).

    Args:
        market: the replayed exchange; its clock is the server time, its ``weights`` the REQUEST_WEIGHT tally.
        update_interval_ms: wall-clock milliseconds between two stream ticks of a WebSocket connection.

    Raises:
        ValueError: ``update_interval_ms`` is not positive.
    """
    if update_interval_ms <= 0:
        raise ValueError(f"update_interval_ms must be positive, got {update_interval_ms}")
    rest = _RestApi(market)
    streams = _StreamEndpoints(market, interval_s=update_interval_ms / 1000)
    return Starlette(
        routes=[
            Route("/api/v3/ping", rest.endpoint(lambda _: 1, rest.ping)),
            Route("/api/v3/time", rest.endpoint(lambda _: 1, rest.time)),
            Route("/api/v3/exchangeInfo", rest.endpoint(lambda _: 20, rest.exchange_info)),
            Route("/api/v3/klines", rest.endpoint(lambda _: 2, rest.klines)),
            Route("/api/v3/ticker/price", rest.endpoint(_ticker_price_weight, rest.ticker_price)),
            Route("/api/v3/depth", rest.endpoint(_depth_weight, rest.depth)),
            WebSocketRoute("/ws", streams.raw),
            WebSocketRoute("/ws/{stream}", streams.raw),
            WebSocketRoute("/stream", streams.combined),
        ]
    )


# REST ------------------------------------------------------------------------------------------------------------


class _ApiError(Exception):
    """A refused REST request: HTTP 400 with the Binance error body ``{"code": code, "msg": msg}``.

    Codes: Binance spot "Error codes" (-1100 illegal characters, -1102 mandatory parameter, -1120 bad interval,
    -1121 invalid symbol, -1023 start after end, -1128 bad combination, -1130 invalid parameter value).
    """

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg


class _RestApi:
    """The REST answers: each takes the query parameters and returns the JSON body, or raises :class:`_ApiError`."""

    def __init__(self, market: Market) -> None:
        self._market = market

    def endpoint(
        self, weight_of: Callable[[QueryParams], int], answer: Callable[[QueryParams], Any]
    ) -> Callable[[Request], Awaitable[JSONResponse]]:
        """Wrap ``answer`` with Binance's weight accounting: count ``weight_of(params)``, refuse with 429 above
        the limit, map :class:`_ApiError` to its response, and stamp ``X-MBX-USED-WEIGHT-1M`` on every answer."""
        weights = self._market.weights

        async def endpoint(request: Request) -> JSONResponse:
            ip = request.client.host if request.client else "unknown"
            used = weights.add(ip, weight_of(request.query_params))
            headers = {"X-MBX-USED-WEIGHT-1M": str(used)}
            if weights.is_over_limit(used):
                headers["Retry-After"] = str(weights.retry_after_s())
                msg = (
                    f"Too much request weight used; current limit is {weights.limit_per_minute} request weight "
                    "per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."
                )
                return JSONResponse({"code": -1003, "msg": msg}, status_code=429, headers=headers)
            try:
                body = answer(request.query_params)
            except _ApiError as exc:
                return JSONResponse({"code": exc.code, "msg": exc.msg}, status_code=400, headers=headers)
            return JSONResponse(body, headers=headers)

        return endpoint

    def ping(self, _: QueryParams) -> dict[str, Any]:
        return {}

    def time(self, _: QueryParams) -> dict[str, Any]:
        return {"serverTime": self._market.now_ms()}

    def exchange_info(self, params: QueryParams) -> dict[str, Any]:
        symbols = self._requested_symbols(params) or self._market.symbols
        return {
            "timezone": "UTC",
            "serverTime": self._market.now_ms(),
            "rateLimits": rate_limits(self._market.weights.limit_per_minute),
            "exchangeFilters": [],
            "symbols": [self._market.rules(symbol).to_exchange_info() for symbol in symbols],
        }

    def klines(self, params: QueryParams) -> list[list[Any]]:
        symbol = _required(params, "symbol")
        interval = _required(params, "interval")
        self._check_symbol(symbol)
        if interval != INTERVAL:
            raise _ApiError(-1120, "Invalid interval.")
        start_ms = _optional_int(params, "startTime")
        end_ms = _optional_int(params, "endTime")
        limit = _limit(params, default=KLINES_DEFAULT_LIMIT, maximum=KLINES_MAX_LIMIT)
        if start_ms is not None and end_ms is not None and start_ms > end_ms:
            raise _ApiError(-1023, "Start time is greater than end time.")
        candles = self._market.klines(symbol, start_ms=start_ms, end_ms=end_ms, limit=limit)
        return [rest_row(candle) for candle in candles]

    def ticker_price(self, params: QueryParams) -> dict[str, str] | list[dict[str, str]]:
        prices = [self._price(symbol) for symbol in self._requested_symbols(params) or self._market.symbols]
        return prices[0] if "symbol" in params else prices

    def depth(self, params: QueryParams) -> dict[str, Any]:
        """A synthetic book one tick wide around the last price: the best bid is the last price floored to the
        tick, the best ask one tick above; levels are one tick apart and level *k* holds
        (k + 1) × :data:`DEPTH_LEVEL_NOTIONAL` quote worth of base asset, floored to the lot step."""
        symbol = _required(params, "symbol")
        self._check_symbol(symbol)
        limit = min(_limit(params, default=DEPTH_DEFAULT_LIMIT, maximum=None), DEPTH_MAX_LIMIT)
        rules = self._market.rules(symbol)
        tick = rules.tick_size
        best_bid = _floor_to(self._market.last_price(symbol), tick)
        bid_levels = min(limit, int(best_bid / tick))

        def level(price: Decimal, k: int) -> list[str]:
            return [fmt8(price), fmt8(_floor_to(DEPTH_LEVEL_NOTIONAL * (k + 1) / price, rules.step_size))]

        return {
            "lastUpdateId": self._market.now_ms(),
            "bids": [level(best_bid - k * tick, k) for k in range(bid_levels)],
            "asks": [level(best_bid + (k + 1) * tick, k) for k in range(limit)],
        }

    def _price(self, symbol: str) -> dict[str, str]:
        return {"symbol": symbol, "price": fmt8(self._market.last_price(symbol))}

    def _check_symbol(self, symbol: str) -> None:
        if symbol not in self._market.symbols:
            raise _ApiError(-1121, "Invalid symbol.")

    def _requested_symbols(self, params: QueryParams) -> tuple[str, ...] | None:
        """The ``symbol`` or ``symbols`` parameter as a tuple of known symbols, or ``None`` when neither was sent."""
        if "symbol" in params and "symbols" in params:
            raise _ApiError(-1128, "Combination of optional parameters invalid.")
        if "symbol" in params:
            symbols: tuple[str, ...] = (_required(params, "symbol"),)
        elif "symbols" in params:
            symbols = _symbol_list(params["symbols"])
        else:
            return None
        for symbol in symbols:
            self._check_symbol(symbol)
        return symbols


def _ticker_price_weight(params: QueryParams) -> int:
    return 2 if "symbol" in params else 4


def _depth_weight(params: QueryParams) -> int:
    text = params.get("limit", "")
    limit = int(text) if _INTEGER.fullmatch(text) else DEPTH_DEFAULT_LIMIT
    return next((weight for bound, weight in _DEPTH_WEIGHTS if limit <= bound), _DEPTH_WEIGHTS[-1][1])


def _required(params: QueryParams, name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise _ApiError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
    return value


def _optional_int(params: QueryParams, name: str) -> int | None:
    text = params.get(name)
    if text is None:
        return None
    if not _INTEGER.fullmatch(text):
        raise _ApiError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '^-?[0-9]{{1,20}}$'.")
    return int(text)


def _limit(params: QueryParams, *, default: int, maximum: int | None) -> int:
    limit = _optional_int(params, "limit")
    if limit is None:
        return default
    if limit < 1 or (maximum is not None and limit > maximum):
        raise _ApiError(-1130, "Data sent for parameter 'limit' is not valid.")
    return limit


def _symbol_list(text: str) -> tuple[str, ...]:
    try:
        symbols = json.loads(text)
    except ValueError:
        symbols = None
    if not (isinstance(symbols, list) and symbols and all(isinstance(s, str) and s for s in symbols)):
        raise _ApiError(
            -1100,
            "Illegal characters found in parameter 'symbols'; legal range is "
            "'^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\\]$'.",
        )
    return tuple(symbols)


def _floor_to(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_FLOOR) * step


# WebSocket streams -----------------------------------------------------------------------------------------------


class _RequestError(Exception):
    """A stream request refused with ``{"error": {"code": 2, "msg": <message>}, "id": ...}``."""


class _StreamCursor:
    """Replay position of one kline stream: the next candle to send as closed, and the last partial sent."""

    __slots__ = ("name", "dataset", "next_closed", "last_partial")

    def __init__(self, name: str, dataset: Dataset, *, now_ms: int) -> None:
        self.name = name
        self.dataset = dataset
        self.next_closed = dataset.index_after(now_ms - INTERVAL_MS)
        self.last_partial: Candle | None = None

    def due_events(self, now_ms: int) -> list[tuple[int, dict[str, Any]]]:
        """``(E, event)`` for the candles closed since the last call (at most :data:`MAX_CLOSED_CANDLES_PER_TICK`),
        then the candle in progress if it changed and this stream has caught up."""
        dataset, symbol = self.dataset, self.dataset.symbol
        closed_end = dataset.index_after(now_ms - INTERVAL_MS)
        stop = min(closed_end, self.next_closed + MAX_CLOSED_CANDLES_PER_TICK)
        events = []
        for index in range(self.next_closed, stop):
            candle = dataset.candle(index)
            event_ms = candle.close_time_ms + 1
            events.append((event_ms, stream_event(symbol, candle, closed=True, event_ms=event_ms)))
        self.next_closed = stop
        if stop == closed_end and closed_end < dataset.index_after(now_ms):
            partial, _ = candle_at(dataset.candle(stop), now_ms)
            if partial != self.last_partial:
                self.last_partial = partial
                events.append((now_ms, stream_event(symbol, partial, closed=False, event_ms=now_ms)))
        return events


class _Subscriptions:
    """One connection's kline streams, in subscription order, and its answers to method requests."""

    def __init__(self, market: Market, *, combined: bool) -> None:
        self._market = market
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
            self._cursors.setdefault(name, _StreamCursor(name, dataset, now_ms=now_ms))

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
        """The messages to send now, in market-time order (see the module docstring)."""
        now_ms = self._market.now_ms()
        events = [
            (event_ms, cursor.name, event)
            for cursor in self._cursors.values()
            for event_ms, event in cursor.due_events(now_ms)
        ]
        events.sort(key=lambda item: item[0])
        return [
            json.dumps({"stream": name, "data": event} if self._combined else event, separators=(",", ":"))
            for _, name, event in events
        ]

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

    def __init__(self, market: Market, *, interval_s: float) -> None:
        self._market = market
        self._interval_s = interval_s

    async def raw(self, websocket: WebSocket) -> None:
        stream = websocket.path_params.get("stream")
        await self._serve(websocket, [stream] if stream else [], combined=False)

    async def combined(self, websocket: WebSocket) -> None:
        names = [name for name in websocket.query_params.get("streams", "").split("/") if name]
        await self._serve(websocket, names, combined=True)

    async def _serve(self, websocket: WebSocket, names: list[str], *, combined: bool) -> None:
        subscriptions = _Subscriptions(self._market, combined=combined)
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
        while True:
            await anyio.sleep(self._interval_s)
            for message in subscriptions.due_messages():
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
