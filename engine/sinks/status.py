"""The engine's status: a frozen snapshot replaced as a whole, read by the dashboard and the CLI from any thread."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EngineState(StrEnum):
    STARTING = "STARTING"  # exchange rules not loaded yet
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    STOPPED = "STOPPED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class GapStatus:
    """An open gap in a symbol's closed-candle series.

    ``first_ms``/``last_ms``: open times of the first and last missing candle (Unix ms, market time); ``candles``
    how many; ``kind`` ``warmup`` or ``gap``; ``opened_at_s`` wall time found (Unix seconds); ``attempts`` failed
    backfill requests; ``last_error`` the latest failure; ``fetched`` all its candles arrived (waiting to be
    processed behind an earlier gap).
    """

    symbol: str
    first_ms: int
    last_ms: int
    candles: int
    kind: str
    opened_at_s: float
    attempts: int
    last_error: str
    fetched: bool


@dataclass(frozen=True, slots=True)
class EngineStatus:
    """What the engine reports about itself; replaced as a whole, never mutated.

    ``last_candle_ms``: open time (Unix ms, market time) of the last closed candle processed.
    ``market_time_ms``: latest market time seen (event time of the last stream message, or of the last mark).
    ``data_lag_s``: wall seconds since the last market message arrived (``None`` before the first).
    ``breaker_state``: the portfolio breaker (ACTIVE, WARNING, TRIPPED, DISABLED).
    ``bad_messages``, ``risk_denials``, ``backfilled_candles``, ``dropped_candles``: counts since the engine started.
    ``gaps``: the open gaps; ``held_candles``: closed candles waiting behind them.
    ``rules_loaded``: the venue's exchange rules arrived (entries need them).
    ``error``: the latest problem worth showing; ``config_error``: the engine stopped because of the configuration
    (an unlisted symbol, a refused stream URL).
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
    dropped_candles: int = 0
    gaps: tuple[GapStatus, ...] = ()
    held_candles: int = 0
    rules_loaded: bool = False
    config_error: bool = False
