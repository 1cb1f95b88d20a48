"""Async REST client for Binance spot market data (and the simulator, which speaks the same protocol).

Only public market-data endpoints (no API key). Weights: Binance spot REST docs, "General API Information"
and each endpoint's "Weight" (ping 1, time 1, exchangeInfo 20, klines 2, ticker/price 2 or 4, depth 5 to 250).
httpx errors are translated at this boundary into :mod:`engine.errors`; every request goes through the guards of
:mod:`engine.guards` (rate limiter, host ban, API breaker, retry).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from engine.core.models import Candle
from engine.errors import HTTPStatusError, ProtocolError, RequestTimeout, TransportError
from engine.feed.klines import parse_rest_kline
from engine.guards.api_breaker import ApiBreaker, ApiBreakerStatus
from engine.guards.host_ban import HostBan, HostBanStatus
from engine.guards.rate_limiter import RateLimiter, RateLimiterStatus
from engine.guards.retry import Retrier, RetryAttempt, RetryPolicy, classify, retry_after_s

KLINES_MAX_LIMIT = 1000
WEIGHTS = {
    "/api/v3/ping": 1,
    "/api/v3/time": 1,
    "/api/v3/exchangeInfo": 20,
    "/api/v3/klines": 2,
    "/api/v3/ticker/price": 2,
    "/api/v3/depth": 5,
}
"""Request weight per path with its usual parameters; :func:`request_weight` adjusts ticker/price and depth."""
_DEPTH_WEIGHTS = ((100, 5), (500, 25), (1000, 50), (5000, 250))
_DEPTH_DEFAULT_LIMIT = 100


def request_weight(path: str, params: dict[str, Any] | None = None) -> int:
    """REQUEST_WEIGHT of ``GET path`` with ``params`` (Binance spot REST docs, each endpoint's "Weight").

    ``/api/v3/ticker/price`` costs 2 for one ``symbol`` and 4 otherwise; ``/api/v3/depth`` costs 5/25/50/250 for
    ``limit`` ≤ 100/500/1000/5000 (default limit 100).

    Raises:
        ValueError: ``path`` has no known weight (add it to :data:`WEIGHTS`).
    """
    params = params or {}
    if path == "/api/v3/ticker/price" and "symbol" not in params:
        return 4
    if path == "/api/v3/depth":
        limit = int(params.get("limit", _DEPTH_DEFAULT_LIMIT))
        return next((weight for bound, weight in _DEPTH_WEIGHTS if limit <= bound), _DEPTH_WEIGHTS[-1][1])
    try:
        return WEIGHTS[path]
    except KeyError:
        raise ValueError(f"no request weight known for {path}; add it to WEIGHTS") from None


@dataclass(frozen=True)
class RestGuardStatus:
    """Snapshot of the guards of one :class:`BinanceRestClient`, for telemetry."""

    limiter: RateLimiterStatus
    breaker: ApiBreakerStatus
    ban: HostBanStatus


class BinanceRestClient:
    """GET JSON from a Binance-compatible REST base URL, behind the REST guards.

    Each attempt of :meth:`get`: host ban check → API breaker check → rate limiter (endpoint weight) → send →
    sync the limiter from ``X-MBX-USED-WEIGHT-1M`` → classify → record the breaker outcome (and a ban on 418) →
    retry or return/raise, reporting a :class:`~engine.guards.retry.RetryAttempt` to ``on_attempt``.

    Args:
        base_url: the REST base URL; its host and port name the guarded host.
        timeout_s: per-request timeout, seconds.
        transport: httpx transport (tests pass ``httpx.MockTransport``).
        limiter: REQUEST_WEIGHT bucket; ``None`` builds 6000 per minute. Share one between clients of one IP.
        retry: backoff settings; ``None`` means :class:`~engine.guards.retry.RetryPolicy` defaults.
        breaker: this host's API breaker; ``None`` builds one (5 failures, 60 s).
        on_attempt: called with every attempt's event.
        clock: monotonic clock of the guards, seconds.
        sleep: async sleep of the limiter and the retries, seconds.
        rng: jitter source of the retries.

    ``used_weight_1m`` is the last ``X-MBX-USED-WEIGHT-1M`` the server reported (request weight used by this IP
    in the current minute; Binance spot REST docs, "LIMITS").
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        breaker: ApiBreaker | None = None,
        on_attempt: Callable[[RetryAttempt], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport)
        url = self._client.base_url
        host = f"{url.host}:{url.port}" if url.port is not None else url.host
        self._limiter = limiter if limiter is not None else RateLimiter(clock=clock, sleep=sleep)
        self._breaker = breaker if breaker is not None else ApiBreaker(host=host, clock=clock)
        self._ban = HostBan(host, clock=clock)
        self._retrier = Retrier(retry, sleep=sleep, clock=clock, rng=rng, on_attempt=on_attempt)

    @property
    def used_weight_1m(self) -> int | None:
        return self._limiter.status().server_used_weight

    def guard_status(self) -> RestGuardStatus:
        """Snapshot of the rate limiter, API breaker and host ban."""
        return RestGuardStatus(limiter=self._limiter.status(), breaker=self._breaker.status(), ban=self._ban.status())

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(self, path: str, params: dict[str, Any] | None = None, *, max_sleep_s: float | None = None) -> Any:
        """GET ``path`` and decode its JSON, retrying per the retry policy. With ``max_sleep_s``, a retry that would
        sleep longer (e.g. a 429's ``Retry-After`` of a minute) is not made: the failure is raised at once (the
        attempt's outcome is ``deferred``) and the caller reschedules.

        Raises:
            ValueError: ``path`` has no known request weight.
            HostBanned: the host banned this IP (418) and the ban has not ended; nothing sent.
            ApiBreakerOpen: the host's API breaker rejects calls; nothing sent.
            RateLimitExceeded: the request weight would need a wait longer than the limiter's ``max_wait_s``.
            TransportError: no HTTP answer (connection error; :class:`RequestTimeout` for a timeout), retries spent.
            HTTPStatusError: a non-2xx answer, with Binance's ``code``/``msg`` when the body has them (retries spent
                for 429/5xx; at once for other statuses).
            ProtocolError: a 2xx answer that is not JSON.
        """
        weight = request_weight(path, params)

        async def prepare() -> None:
            self._ban.check(path)
            self._breaker.before_call(path)
            await self._limiter.acquire(weight, endpoint=path)

        async def send() -> httpx.Response:
            try:
                response = await self._client.get(path, params=params)
            except httpx.TimeoutException as exc:
                self._breaker.record_failure()
                raise RequestTimeout(f"GET {path}: {exc!r}", endpoint=path) from exc
            except httpx.TransportError as exc:
                self._breaker.record_failure()
                raise TransportError(f"GET {path}: {exc!r}", endpoint=path) from exc
            header = response.headers.get("X-MBX-USED-WEIGHT-1M")
            if header is not None and header.isdigit():
                self._limiter.sync_used_weight(int(header))
            if response.status_code < 400:
                self._breaker.record_success()
                return response
            error = _status_error(path, response)
            decision = classify(error)
            if decision.outcome == "retry":
                self._breaker.record_failure()
            else:
                self._breaker.record_success()
            if decision.outcome == "banned":
                self._ban.ban(error.retry_after_s)
            elif error.status == 429 and error.retry_after_s:
                self._limiter.hold(error.retry_after_s)
            raise error

        response = await self._retrier.call(path, send, prepare=prepare, max_sleep_s=max_sleep_s)
        try:
            return response.json()
        except json.JSONDecodeError as exc:
            raise ProtocolError(f"GET {path}: malformed JSON", endpoint=path) from exc

    async def server_time_ms(self, *, max_sleep_s: float | None = None) -> int:
        """``GET /api/v3/time`` → ``serverTime`` (Unix ms)."""
        payload = await self.get("/api/v3/time", max_sleep_s=max_sleep_s)
        try:
            return int(payload["serverTime"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"/api/v3/time payload: {payload!r}", endpoint="/api/v3/time") from exc

    async def exchange_info(self, symbols: tuple[str, ...], *, max_sleep_s: float | None = None) -> dict[str, Any]:
        """``GET /api/v3/exchangeInfo`` for ``symbols`` (raw payload). Binance answers HTTP 400 with code -1121
        ("Invalid symbol.") when one of them is not listed (Binance spot REST docs, "Error codes")."""
        params = {"symbols": json.dumps(list(symbols), separators=(",", ":"))}
        return await self.get("/api/v3/exchangeInfo", params, max_sleep_s=max_sleep_s)

    async def klines(
        self,
        symbol: str,
        interval: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 500,
        server_time_ms: int,
        max_sleep_s: float | None = None,
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
        rows = await self.get("/api/v3/klines", params, max_sleep_s=max_sleep_s)
        if not isinstance(rows, list):
            raise ProtocolError(f"/api/v3/klines returned {type(rows).__name__}, expected a list", endpoint="/api/v3/klines")
        return [parse_rest_kline(symbol, row, server_time_ms=server_time_ms) for row in rows]


def _status_error(path: str, response: httpx.Response) -> HTTPStatusError:
    code, msg = _error_body(response)
    return HTTPStatusError(
        f"GET {path}: HTTP {response.status_code} {msg}".strip(),
        endpoint=path,
        status=response.status_code,
        code=code,
        msg=msg,
        retry_after_s=retry_after_s(response),
    )


def _error_body(response: httpx.Response) -> tuple[int | None, str]:
    try:
        body = response.json()
    except json.JSONDecodeError:
        return None, response.text[:200]
    if isinstance(body, dict):
        code = body.get("code")
        return (code if isinstance(code, int) else None), str(body.get("msg", ""))
    return None, str(body)[:200]
