"""The simulator's ASGI app: Binance spot market-data REST endpoints and kline WebSocket streams over a :class:`Market`.

The REST routes, their weights, the 429 answer and the error bodies are in :mod:`simulator.rest` (Binance spot REST
docs); the ``/ws`` and ``/stream`` routes, subscriptions and the kline streaming loop in :mod:`simulator.streams`
(Binance WebSocket Streams docs). Fault injection and price shocks are switched through :mod:`simulator.control`
(paths under ``/_sim``) or the :class:`~simulator.faults.Faults` object directly. Any other path or method is
answered by :func:`simulator.rest.fallback_route` (404 with a Binance error body).
"""

from __future__ import annotations

from starlette.applications import Starlette

from simulator import control, rest, streams
from simulator.faults import Faults
from simulator.market import Market


def create_app(market: Market, *, faults: Faults | None = None, update_interval_ms: int = 250) -> Starlette:
    """The Binance-compatible app serving ``market`` (routes and protocol in :mod:`simulator.rest` and
    :mod:`simulator.streams`).

    Args:
        market: the replayed exchange; its clock is the server time, its ``weights`` the REQUEST_WEIGHT tally.
        faults: the fault switches REST and streams obey (default: a new :class:`Faults`, all off).
        update_interval_ms: wall-clock milliseconds between two stream ticks of a WebSocket connection.

    Raises:
        ValueError: ``update_interval_ms`` is not positive.
    """
    if update_interval_ms <= 0:
        raise ValueError(f"update_interval_ms must be positive, got {update_interval_ms}")
    faults = faults if faults is not None else Faults()
    return Starlette(
        routes=[
            *rest.routes(market, faults=faults),
            *streams.routes(market, faults=faults, interval_s=update_interval_ms / 1000),
            *control.routes(market, faults=faults),
            rest.fallback_route(market, faults=faults),
        ]
    )
