"""Async REST client for Binance spot market data (and the simulator, which speaks the same protocol).

Only public market-data endpoints (no API key). Weights: Binance spot REST docs, "General API Information"
and each endpoint's "Weight" (ping 1, time 1, exchangeInfo 20, klines 2).
httpx errors are translated at this boundary into :mod:`engine.errors`.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from engine.errors import HTTPStatusError, ProtocolError, TransportError
from engine.klines import parse_rest_kline
from engine.models import Candle

KLINES_MAX_LIMIT = 1000
WEIGHTS = {"/api/v3/ping": 1, "/api/v3/time": 1, "/api/v3/exchangeInfo": 20, "/api/v3/klines": 2}


class BinanceRestClient:
    """GET JSON from a Binance-compatible REST base URL.

    ``used_weight_1m`` is the last ``X-MBX-USED-WEIGHT-1M`` the server reported (request weight used by this IP
    in the current minute; Binance spot REST docs, "LIMITS").
    """

    def __init__(self, base_url: str, *, timeout_s: float = 10.0, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport)
        self.used_weight_1m: int | None = None

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``path`` and decode its JSON.

        Raises:
            TransportError: no HTTP answer (connection error, timeout).
            HTTPStatusError: a non-2xx answer, with Binance's ``code``/``msg`` when the body has them.
            ProtocolError: a 2xx answer that is not JSON.
        """
        try:
            response = await self._client.get(path, params=params)
        except httpx.TransportError as exc:
            raise TransportError(f"GET {path}: {exc!r}", endpoint=path) from exc
        header = response.headers.get("X-MBX-USED-WEIGHT-1M")
        if header is not None and header.isdigit():
            self.used_weight_1m = int(header)
        if response.status_code >= 400:
            code, msg = _error_body(response)
            raise HTTPStatusError(
                f"GET {path}: HTTP {response.status_code} {msg}".strip(), endpoint=path, status=response.status_code, code=code, msg=msg
            )
        try:
            return response.json()
        except json.JSONDecodeError as exc:
            raise ProtocolError(f"GET {path}: malformed JSON", endpoint=path) from exc

    async def server_time_ms(self) -> int:
        """``GET /api/v3/time`` → ``serverTime`` (Unix ms)."""
        payload = await self.get("/api/v3/time")
        try:
            return int(payload["serverTime"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"/api/v3/time payload: {payload!r}", endpoint="/api/v3/time") from exc

    async def exchange_info(self, symbols: tuple[str, ...]) -> dict[str, Any]:
        """``GET /api/v3/exchangeInfo`` for ``symbols`` (raw payload)."""
        return await self.get("/api/v3/exchangeInfo", {"symbols": json.dumps(list(symbols), separators=(",", ":"))})

    async def klines(
        self,
        symbol: str,
        interval: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 500,
        server_time_ms: int,
    ) -> list[Candle]:
        """One page of ``GET /api/v3/klines`` (at most ``limit`` ≤ 1000 rows, ascending open time).

        Rows whose close time is not before ``server_time_ms`` come back with ``closed=False``.

        Raises:
            ProtocolError: a row breaks the format or carries an invalid price.
        """
        params: dict[str, Any] = {"symbol": symbol, "interval": interval, "limit": min(limit, KLINES_MAX_LIMIT)}
        if start_ms is not None:
            params["startTime"] = start_ms
        if end_ms is not None:
            params["endTime"] = end_ms
        rows = await self.get("/api/v3/klines", params)
        if not isinstance(rows, list):
            raise ProtocolError(f"/api/v3/klines returned {type(rows).__name__}, expected a list", endpoint="/api/v3/klines")
        return [parse_rest_kline(symbol, row, server_time_ms=server_time_ms) for row in rows]


def _error_body(response: httpx.Response) -> tuple[int | None, str]:
    try:
        body = response.json()
    except json.JSONDecodeError:
        return None, response.text[:200]
    if isinstance(body, dict):
        code = body.get("code")
        return (code if isinstance(code, int) else None), str(body.get("msg", ""))
    return None, str(body)[:200]
