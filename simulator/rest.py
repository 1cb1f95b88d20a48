"""The simulator's Binance spot market-data REST endpoints over a :class:`Market`, with request-weight accounting.

REST (Binance spot REST docs, "General API Information", "LIMITS", "Market Data endpoints")::

    GET /api/v3/ping               weight 1   {}
    GET /api/v3/time               weight 1   {"serverTime": <market now>}
    GET /api/v3/exchangeInfo       weight 20  [symbol | symbols='["BTCUSDT","ETHUSDT"]']
    GET /api/v3/klines             weight 2   symbol, interval, [startTime, endTime, timeZone, limit=500 (1..1000)]
    GET /api/v3/uiKlines           weight 2   as klines
    GET /api/v3/avgPrice           weight 2   symbol
    GET /api/v3/depth              weight 5 / 25 / 50 / 250 for limit ≤ 100 / 500 / 1000 / 5000; symbol, [limit=100]
    GET /api/v3/ticker/price       weight 2 with symbol, 4 without (or with symbols)
    GET /api/v3/ticker/bookTicker  weight 2 with symbol, 4 without (or with symbols)
    GET /api/v3/ticker/24hr        weight 2 with symbol; with symbols 2 / 40 / 80 for 1–20 / 21–100 / more; 80 without
                                   [symbol | symbols], [type=FULL | MINI]

Klines of every interval from ``1m`` to ``1M`` are aggregated from the 1m data (:mod:`simulator.interval_klines`,
intervals and ``timeZone`` in :mod:`simulator.intervals`); ``uiKlines`` answers the same rows (Binance: "modified
kline data, optimized for presentation"; the simulator has nothing to modify). The tickers are described in
:mod:`simulator.tickers`, the synthetic book of ``depth`` in :mod:`simulator.book`.

Every REST response, errors included, carries ``X-MBX-USED-WEIGHT-1M``: the client IP's weight used this minute,
this request included (the weight is counted before anything else, so refused requests use weight too). Above the
limit the answer is HTTP 429 with ``Retry-After`` (seconds) and ``{"code": -1003, ...}``. A bad request is HTTP 400
with a Binance error body ``{"code": <negative int>, "msg": ...}``; a path or method the simulator does not serve is
HTTP 404 with ``{"code": -1020, "msg": "This operation is not supported."}`` and weight 1 (Binance's docs do not say
what it answers for a path it does not have; this keeps a client's JSON error handling on the documented path).

Times in answers (``serverTime``, kline open and close times, ticker and ``avgPrice`` times) are Unix ms, or µs when
the request carries ``X-MBX-TIME-UNIT: MICROSECOND``; ``startTime`` / ``endTime`` may be sent in either
(:mod:`simulator.time_unit`).

Faults (:mod:`simulator.faults`) act after the weight is counted, so their answers carry the weight header too, in
this order: the response delay, an IP ban (HTTP 418 with ``Retry-After`` and "IP banned until <Unix ms>"), a 429
storm, the real weight limit (429), then a 5xx (``{"code": -1001, ...}``). Every 429 is reported to the faults,
which ban an IP that keeps ignoring them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from simulator import interval_klines, tickers
from simulator.book import book
from simulator.faults import Faults
from simulator.intervals import InvalidTimeZoneError, KlineInterval, UnknownIntervalError
from simulator.kline import fmt8, rest_row
from simulator.market import Market
from simulator.symbols import rate_limits
from simulator.time_unit import InvalidTimeUnitError, TimeUnit, timestamp_param_ms

KLINES_DEFAULT_LIMIT = 500
KLINES_MAX_LIMIT = 1000
DEPTH_DEFAULT_LIMIT = 100
DEPTH_MAX_LIMIT = 5000
SERVER_ERROR_STATUSES = (500, 502, 503, 504)
HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]

_DEPTH_WEIGHTS = ((100, 5), (500, 25), (1000, 50), (DEPTH_MAX_LIMIT, 250))
_TICKER_24HR_WEIGHTS = ((20, 2), (100, 40))
_TICKER_24HR_ALL_WEIGHT = 80
_INTEGER = re.compile(r"-?[0-9]{1,20}")
_SYMBOL = re.compile(r"[A-Z0-9-_.]{1,20}")
_SYMBOL_RANGE = "^[A-Z0-9-_.]{1,20}$"
_SYMBOLS_RANGE = '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$'

Answer = Callable[[QueryParams, TimeUnit], Any]
"""A REST answer: the query parameters and the time unit asked for → the JSON body; raises :class:`_ApiError`."""


def routes(market: Market, *, faults: Faults) -> list[Route]:
    """The REST routes over ``market`` (paths and weights in the module docstring), then a route that answers every
    other path and method with 404; ``market.weights`` is the REQUEST_WEIGHT tally, its clock the server time;
    ``faults`` are consulted on every request."""
    rest = _RestApi(market, faults=faults)
    return [
        Route("/api/v3/ping", rest.endpoint(lambda _: 1, rest.ping)),
        Route("/api/v3/time", rest.endpoint(lambda _: 1, rest.time)),
        Route("/api/v3/exchangeInfo", rest.endpoint(lambda _: 20, rest.exchange_info)),
        Route("/api/v3/klines", rest.endpoint(lambda _: 2, rest.klines)),
        Route("/api/v3/uiKlines", rest.endpoint(lambda _: 2, rest.klines)),
        Route("/api/v3/avgPrice", rest.endpoint(lambda _: 2, rest.avg_price)),
        Route("/api/v3/depth", rest.endpoint(_depth_weight, rest.depth)),
        Route("/api/v3/ticker/price", rest.endpoint(_one_or_all_weight, rest.ticker_price)),
        Route("/api/v3/ticker/bookTicker", rest.endpoint(_one_or_all_weight, rest.book_ticker)),
        Route("/api/v3/ticker/24hr", rest.endpoint(_ticker_24hr_weight, rest.ticker_24hr)),
    ]


def fallback_route(market: Market, *, faults: Faults) -> Route:
    """The route for every path and method no other route serves: weight 1, HTTP 404, Binance's -1020 body (module
    docstring). It must come after every other route of the app."""
    rest = _RestApi(market, faults=faults)
    return Route("/{path:path}", rest.endpoint(lambda _: 1, rest.not_supported), methods=HTTP_METHODS)


class _ApiError(Exception):
    """A refused REST request: HTTP ``status`` (400 unless said) with the Binance error body ``{"code", "msg"}``.

    Codes: Binance spot "Error codes" (-1020 unsupported operation, -1023 start after end, -1100 illegal characters,
    -1102 mandatory parameter, -1120 bad interval, -1121 invalid symbol, -1128 bad combination, -1130 invalid
    parameter value, -1139 invalid ticker type, -1194 invalid time unit).
    """

    def __init__(self, code: int, msg: str, *, status: int = 400) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status


class _RestApi:
    """The REST answers: each takes the query parameters and the time unit and returns the JSON body, or raises
    :class:`_ApiError`."""

    def __init__(self, market: Market, *, faults: Faults) -> None:
        self._market = market
        self._faults = faults

    def endpoint(
        self, weight_of: Callable[[QueryParams], int], answer: Answer
    ) -> Callable[[Request], Awaitable[JSONResponse]]:
        """Wrap ``answer`` with Binance's weight accounting and the faults: count ``weight_of(params)``, apply the
        faults, refuse with 429 above the limit, read ``X-MBX-TIME-UNIT``, map :class:`_ApiError` to its response,
        and stamp ``X-MBX-USED-WEIGHT-1M`` on every answer."""
        weights = self._market.weights
        faults = self._faults

        async def endpoint(request: Request) -> JSONResponse:
            ip = request.client.host if request.client else "unknown"
            settings = faults.settings
            used = weights.add(
                ip, weight_of(request.query_params), background_weight_per_s=settings.background_weight_per_s
            )
            headers = {"X-MBX-USED-WEIGHT-1M": str(used)}
            if settings.rest_delay_ms:
                await anyio.sleep(settings.rest_delay_ms / 1000)
            ban_s = faults.ban_remaining_s()
            if ban_s:
                headers["Retry-After"] = str(ban_s)
                msg = (
                    f"Way too much request weight used; IP banned until {faults.ban_ends_ms()}. "
                    "Please use WebSocket Streams for live updates to avoid bans."
                )
                return JSONResponse({"code": -1003, "msg": msg}, status_code=418, headers=headers)
            if settings.rest_429_storm or weights.is_over_limit(used):
                retry_after_s = weights.retry_after_s()
                faults.note_429(ip, retry_after_s=retry_after_s)
                headers["Retry-After"] = str(retry_after_s)
                msg = (
                    f"Too much request weight used; current limit is {weights.limit_per_minute} request weight "
                    "per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."
                )
                return JSONResponse({"code": -1003, "msg": msg}, status_code=429, headers=headers)
            if faults.chance(settings.rest_5xx_rate):
                msg = "Internal error; unable to process your request. Please try again."
                status = faults.pick(SERVER_ERROR_STATUSES)
                return JSONResponse({"code": -1001, "msg": msg}, status_code=status, headers=headers)
            try:
                body = answer(request.query_params, _time_unit(request.headers.get("X-MBX-TIME-UNIT")))
            except _ApiError as exc:
                return JSONResponse({"code": exc.code, "msg": exc.msg}, status_code=exc.status, headers=headers)
            return JSONResponse(body, headers=headers)

        return endpoint

    def ping(self, _: QueryParams, __: TimeUnit) -> dict[str, Any]:
        return {}

    def time(self, _: QueryParams, unit: TimeUnit) -> dict[str, Any]:
        return {"serverTime": unit.stamp(self._market.now_ms())}

    def exchange_info(self, params: QueryParams, unit: TimeUnit) -> dict[str, Any]:
        symbols = self._requested_symbols(params) or self._market.symbols
        return {
            "timezone": "UTC",
            "serverTime": unit.stamp(self._market.now_ms()),
            "rateLimits": rate_limits(self._market.weights.limit_per_minute),
            "exchangeFilters": [],
            "symbols": [self._market.rules(symbol).to_exchange_info() for symbol in symbols],
        }

    def klines(self, params: QueryParams, unit: TimeUnit) -> list[list[Any]]:
        symbol = self._symbol(params)
        name = _required(params, "interval")
        try:
            interval = KlineInterval.parse(name, time_zone=params.get("timeZone"))
        except UnknownIntervalError:
            raise _ApiError(-1120, "Invalid interval.") from None
        except InvalidTimeZoneError:
            raise _ApiError(-1130, "Data sent for parameter 'timeZone' is not valid.") from None
        start_ms = _optional_time(params, "startTime", round_up=True)
        end_ms = _optional_time(params, "endTime", round_up=False)
        limit = _limit(params, default=KLINES_DEFAULT_LIMIT, maximum=KLINES_MAX_LIMIT)
        if start_ms is not None and end_ms is not None and start_ms > end_ms:
            raise _ApiError(-1023, "Start time is greater than end time.")
        rows = interval_klines.klines(self._market, symbol, interval, start_ms=start_ms, end_ms=end_ms, limit=limit)
        return [rest_row(kline, unit=unit) for kline in rows]

    def avg_price(self, params: QueryParams, unit: TimeUnit) -> dict[str, Any]:
        return tickers.avg_price(self._market, self._symbol(params), unit=unit)

    def ticker_price(self, params: QueryParams, _: TimeUnit) -> dict[str, str] | list[dict[str, str]]:
        prices = [
            {"symbol": symbol, "price": fmt8(self._market.last_price(symbol))}
            for symbol in self._requested_symbols(params) or self._market.symbols
        ]
        return prices[0] if "symbol" in params else prices

    def book_ticker(self, params: QueryParams, _: TimeUnit) -> dict[str, str] | list[dict[str, str]]:
        books = [
            tickers.book_ticker(self._market, symbol)
            for symbol in self._requested_symbols(params) or self._market.symbols
        ]
        return books[0] if "symbol" in params else books

    def ticker_24hr(self, params: QueryParams, unit: TimeUnit) -> dict[str, Any] | list[dict[str, Any]]:
        kind = params.get("type", "FULL")
        if kind not in ("FULL", "MINI"):
            raise _ApiError(-1139, "Invalid ticker type.")
        stats = [
            tickers.ticker_24hr(self._market, symbol, mini=kind == "MINI", unit=unit)
            for symbol in self._requested_symbols(params) or self._market.symbols
        ]
        return stats[0] if "symbol" in params else stats

    def depth(self, params: QueryParams, _: TimeUnit) -> dict[str, Any]:
        """The synthetic book (:mod:`simulator.book`), at most ``limit`` levels a side (5000 above that)."""
        symbol = self._symbol(params)
        limit = min(_limit(params, default=DEPTH_DEFAULT_LIMIT, maximum=None), DEPTH_MAX_LIMIT)
        bids, asks = book(self._market, symbol, levels=limit)
        return {
            "lastUpdateId": self._market.now_ms(),
            "bids": [[fmt8(price), fmt8(qty)] for price, qty in bids],
            "asks": [[fmt8(price), fmt8(qty)] for price, qty in asks],
        }

    def not_supported(self, _: QueryParams, __: TimeUnit) -> Any:
        raise _ApiError(-1020, "This operation is not supported.", status=404)

    def _symbol(self, params: QueryParams) -> str:
        """The mandatory ``symbol``: legal characters (-1100) and traded here (-1121)."""
        symbol = _required(params, "symbol")
        if not _SYMBOL.fullmatch(symbol):
            raise _ApiError(-1100, f"Illegal characters found in parameter 'symbol'; legal range is '{_SYMBOL_RANGE}'.")
        self._check_symbol(symbol)
        return symbol

    def _check_symbol(self, symbol: str) -> None:
        if symbol not in self._market.symbols:
            raise _ApiError(-1121, "Invalid symbol.")

    def _requested_symbols(self, params: QueryParams) -> tuple[str, ...] | None:
        """The ``symbol`` or ``symbols`` parameter as a tuple of known symbols, or ``None`` when neither was sent."""
        if "symbol" in params and "symbols" in params:
            raise _ApiError(-1128, "Combination of optional parameters invalid.")
        if "symbol" in params:
            return (self._symbol(params),)
        if "symbols" not in params:
            return None
        symbols = _symbol_list(params["symbols"])
        for symbol in symbols:
            self._check_symbol(symbol)
        return symbols


def _time_unit(text: str | None) -> TimeUnit:
    try:
        return TimeUnit.parse(text)
    except InvalidTimeUnitError:
        raise _ApiError(-1194, "Invalid value for time unit; expected either MICROSECOND or MILLISECOND.") from None


def _one_or_all_weight(params: QueryParams) -> int:
    """``ticker/price`` and ``ticker/bookTicker``: 2 for one symbol, 4 for several or all."""
    return 2 if "symbol" in params else 4


def _ticker_24hr_weight(params: QueryParams) -> int:
    """2 for one symbol; for a ``symbols`` list by its length (a malformed list as one symbol); 80 for all."""
    if "symbol" in params:
        return 2
    if "symbols" not in params:
        return _TICKER_24HR_ALL_WEIGHT
    try:
        listed = json.loads(params["symbols"])
    except ValueError:
        listed = None
    count = len(listed) if isinstance(listed, list) else 1
    return next((weight for bound, weight in _TICKER_24HR_WEIGHTS if count <= bound), _TICKER_24HR_ALL_WEIGHT)


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


def _optional_time(params: QueryParams, name: str, *, round_up: bool) -> int | None:
    """A timestamp parameter in ms, sent in ms or µs (:func:`simulator.time_unit.timestamp_param_ms`)."""
    value = _optional_int(params, name)
    return None if value is None else timestamp_param_ms(value, round_up=round_up)


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
    if not (isinstance(symbols, list) and symbols and all(isinstance(s, str) and _SYMBOL.fullmatch(s) for s in symbols)):
        raise _ApiError(-1100, f"Illegal characters found in parameter 'symbols'; legal range is '{_SYMBOLS_RANGE}'.")
    return tuple(symbols)
