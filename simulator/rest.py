"""The simulator's Binance spot market-data REST endpoints over a :class:`Market`, with request-weight accounting.

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

Faults (:mod:`simulator.faults`) act after the weight is counted, so their answers carry the weight header too, in
this order: the response delay, an IP ban (HTTP 418 with ``Retry-After``), a 429 storm, the real weight limit (429),
then a 5xx (``{"code": -1001, ...}``). Every 429 is reported to the faults, which ban an IP that keeps ignoring them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import anyio
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from simulator.faults import Faults
from simulator.kline import INTERVAL, fmt8, rest_row
from simulator.market import Market
from simulator.symbols import rate_limits

KLINES_DEFAULT_LIMIT = 500
KLINES_MAX_LIMIT = 1000
DEPTH_DEFAULT_LIMIT = 100
DEPTH_MAX_LIMIT = 5000
DEPTH_LEVEL_NOTIONAL = Decimal(1000)
"""Quote-asset value of the synthetic book's best level; level *k* (0-based) holds (k + 1) times as much."""

SERVER_ERROR_STATUSES = (500, 502, 503, 504)

_DEPTH_WEIGHTS = ((100, 5), (500, 25), (1000, 50), (DEPTH_MAX_LIMIT, 250))
_INTEGER = re.compile(r"-?[0-9]{1,20}")


def routes(market: Market, *, faults: Faults) -> list[Route]:
    """The REST routes over ``market`` (paths and weights in the module docstring); its ``weights`` is the
    REQUEST_WEIGHT tally, its clock the server time; ``faults`` are consulted on every request."""
    rest = _RestApi(market, faults=faults)
    return [
        Route("/api/v3/ping", rest.endpoint(lambda _: 1, rest.ping)),
        Route("/api/v3/time", rest.endpoint(lambda _: 1, rest.time)),
        Route("/api/v3/exchangeInfo", rest.endpoint(lambda _: 20, rest.exchange_info)),
        Route("/api/v3/klines", rest.endpoint(lambda _: 2, rest.klines)),
        Route("/api/v3/ticker/price", rest.endpoint(_ticker_price_weight, rest.ticker_price)),
        Route("/api/v3/depth", rest.endpoint(_depth_weight, rest.depth)),
    ]


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

    def __init__(self, market: Market, *, faults: Faults) -> None:
        self._market = market
        self._faults = faults

    def endpoint(
        self, weight_of: Callable[[QueryParams], int], answer: Callable[[QueryParams], Any]
    ) -> Callable[[Request], Awaitable[JSONResponse]]:
        """Wrap ``answer`` with Binance's weight accounting and the faults: count ``weight_of(params)``, apply the
        faults, refuse with 429 above the limit, map :class:`_ApiError` to its response, and stamp
        ``X-MBX-USED-WEIGHT-1M`` on every answer."""
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
                    f"Way too much request weight used; IP banned for {ban_s} more seconds. "
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
