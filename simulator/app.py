"""The simulator's ASGI app: Binance spot market-data REST endpoints and kline WebSocket streams over a :class:`Market`.

The REST routes, their weights, the 429 answer and the error bodies are in :mod:`simulator.rest` (Binance spot REST
docs); the ``/ws`` and ``/stream`` routes, subscriptions and the kline streaming loop in :mod:`simulator.streams`
(Binance WebSocket Streams docs).
"""

from __future__ import annotations

from starlette.applications import Starlette

from simulator import rest, streams
from simulator.market import Market


def create_app(market: Market, *, update_interval_ms: int = 250) -> Starlette:
    """The Binance-compatible app serving ``market`` (routes and protocol in :mod:`simulator.rest` and
    :mod:`simulator.streams`).

    Args:
        market: the replayed exchange; its clock is the server time, its ``weights`` the REQUEST_WEIGHT tally.
        update_interval_ms: wall-clock milliseconds between two stream ticks of a WebSocket connection.

    Raises:
        ValueError: ``update_interval_ms`` is not positive.
    """
    if update_interval_ms <= 0:
        raise ValueError(f"update_interval_ms must be positive, got {update_interval_ms}")
    return Starlette(routes=[*rest.routes(market), *streams.routes(market, interval_s=update_interval_ms / 1000)])
