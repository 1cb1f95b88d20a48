"""Read-only snapshot of the running engine, for the dashboard and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EngineState(StrEnum):
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    STOPPED = "STOPPED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class EngineStatus:
    """What the engine reports about itself; replaced as a whole, never mutated.

    ``last_candle_ms``: open time (Unix ms, market time) of the last closed candle processed.
    ``market_time_ms``: latest market time seen (event time of the last stream message).
    ``data_lag_s``: wall seconds since the last market message arrived (``None`` before the first).
    ``breaker_state``: the portfolio breaker (ACTIVE, WARNING, TRIPPED, DISABLED).
    ``bad_messages``, ``risk_denials``, ``backfilled_candles``: counts since the engine started.
    """

    state: EngineState
    venue: str
    market_connected: bool = False
    last_candle_ms: int | None = None
    market_time_ms: int | None = None
    data_lag_s: float | None = None
    candles_processed: int = 0
    error: str | None = None
    breaker_state: str = "ACTIVE"
    bad_messages: int = 0
    risk_denials: int = 0
    backfilled_candles: int = 0
