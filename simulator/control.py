"""The simulator's control API: switch faults and script price shocks at run time, over HTTP.

Paths live under ``/_sim``, which Binance never uses; they count no request weight and no fault applies to them::

    GET    /_sim/faults   200 <FaultSettings as JSON>
    POST   /_sim/faults   {"rest_429_storm": true, ...}  (any subset of the switches)  →  200 <new settings>
    DELETE /_sim/faults   every fault off, any ban lifted  →  200 <default settings>
    GET    /_sim/shock    200 [{"start_ms": ..., "pct": ..., "candles": ...}, ...]  (oldest first)
    POST   /_sim/shock    {"pct": 8, "candles": 5}  →  200 {"start_ms": <first shocked open>, "pct": 8, "candles": 5}

A body that is not a JSON object, an unknown switch or a value out of range answers 400 ``{"error": <message>}``
and changes nothing. Switch meanings: :mod:`simulator.faults`; shocks: :mod:`simulator.shock`.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, TypeGuard

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from simulator.faults import Faults
from simulator.market import Market


def routes(market: Market, *, faults: Faults) -> list[Route]:
    """The control routes (module docstring) over ``faults`` and ``market``'s price shocks."""

    async def get_faults(_: Request) -> JSONResponse:
        return JSONResponse(faults.settings.model_dump())

    async def post_faults(request: Request) -> JSONResponse:
        try:
            settings = faults.update(**await _json_object(request))
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(settings.model_dump())

    async def delete_faults(_: Request) -> JSONResponse:
        return JSONResponse(faults.reset().model_dump())

    async def get_shocks(_: Request) -> JSONResponse:
        return JSONResponse([asdict(shock) for shock in market.shocks])

    async def post_shock(request: Request) -> JSONResponse:
        try:
            body = await _json_object(request)
            pct, candles = body.get("pct"), body.get("candles")
            if set(body) != {"pct", "candles"} or not _is_number(pct) or not _is_int(candles):
                raise ValueError('expected {"pct": <number, percent>, "candles": <int ≥ 1>}')
            shock = market.shock(pct=float(pct), candles=candles)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(asdict(shock))

    return [
        Route("/_sim/faults", get_faults, methods=["GET"]),
        Route("/_sim/faults", post_faults, methods=["POST"]),
        Route("/_sim/faults", delete_faults, methods=["DELETE"]),
        Route("/_sim/shock", get_shocks, methods=["GET"]),
        Route("/_sim/shock", post_shock, methods=["POST"]),
    ]


async def _json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; raises ``ValueError`` otherwise."""
    try:
        body = json.loads(await request.body())
    except ValueError as exc:
        raise ValueError(f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
