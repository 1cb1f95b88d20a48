"""Headline numbers of the Overview page as plain values (no Streamlit here, so they are unit-tested).

Each :class:`Kpi` maps one-to-one onto ``st.metric(label, value, delta, delta_color, delta_arrow=..., help=...)``.
Money is in the quote asset (USDT); percentages are in percent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeAlias

from engine.sinks.status import EngineState, EngineStatus

NO_VALUE = "—"

DeltaColor: TypeAlias = Literal[
    "normal", "inverse", "off", "red", "orange", "yellow", "green", "blue", "violet", "gray", "grey", "primary"
]
"""The ``delta_color`` values ``st.metric`` takes."""


@dataclass(frozen=True, slots=True)
class Kpi:
    """One metric tile: ``value`` and ``delta`` are display strings; ``delta`` None hides it.

    ``delta_color`` is one of ``st.metric``'s: ``normal`` (green up, red down) or a colour name.
    """

    label: str
    value: str
    delta: str | None = None
    delta_color: DeltaColor = "normal"
    delta_arrow: Literal["auto", "off"] = "auto"
    help: str | None = None


def overview_kpis(latest: Mapping[str, Any] | None, status: EngineStatus, *, starting_balance: float) -> list[Kpi]:
    """The Overview's metric tiles, in display order.

    Args:
        latest: the newest equity snapshot (``storage.queries.latest_equity``: a row of table
            ``equity``), or ``None`` before the first candle has been marked.
        status: the engine's current status.
        starting_balance: the paper account's opening cash (quote asset), the base of total P&L %.
    """
    return [
        *_portfolio_kpis(latest, starting_balance=starting_balance),
        engine_kpi(status),
        breaker_kpi(status),
        market_kpi(status),
    ]


def _portfolio_kpis(latest: Mapping[str, Any] | None, *, starting_balance: float) -> list[Kpi]:
    if latest is None:
        waiting = "Waiting for the first candle"
        return [
            Kpi("Equity (USDT)", NO_VALUE, help=waiting),
            Kpi("P&L today (USDT)", NO_VALUE, help=waiting),
            Kpi("Total P&L (USDT)", NO_VALUE, help=waiting),
            Kpi("Drawdown", NO_VALUE, help=waiting),
        ]
    equity = float(latest["equity"])
    today = equity - float(latest["day_start_equity"])
    realised, unrealised = float(latest["realised_pnl"]), float(latest["unrealised_pnl"])
    total = realised + unrealised
    return [
        Kpi(
            "Equity (USDT)",
            f"{equity:,.2f}",
            help=f"Cash + open positions at mark price, as of {_utc(latest['ts'])}",
        ),
        Kpi(
            "P&L today (USDT)",
            f"{today:+,.2f}",
            f"{float(latest['daily_pnl_pct']):+.2f} %",
            help=f"Since 00:00 UTC (market time); equity then {float(latest['day_start_equity']):,.2f} USDT",
        ),
        Kpi(
            "Total P&L (USDT)",
            f"{total:+,.2f}",
            f"{total / starting_balance * 100:+.2f} %",
            help=f"Realised {realised:+,.2f} + unrealised {unrealised:+,.2f} USDT, net of fees; "
            f"starting balance {starting_balance:,.2f} USDT",
        ),
        Kpi(
            "Drawdown",
            f"{float(latest['drawdown_pct']):.2f} %",
            help=f"Below peak equity {float(latest['peak_equity']):,.2f} USDT",
        ),
    ]


_STATE_COLOUR: dict[EngineState, DeltaColor] = {EngineState.RUNNING: "green", EngineState.PAUSED: "orange", EngineState.FAILED: "red"}


def engine_kpi(status: EngineStatus) -> Kpi:
    """Engine state (RUNNING, PAUSED, ...) with the number of candles processed, or the error."""
    detail = f"error: {status.error}" if status.error else f"{status.candles_processed:,} candles"
    colour = _STATE_COLOUR.get(status.state, "gray")
    return Kpi("Engine", status.state.value, detail, colour, "off", help=f"Venue {status.venue}")


_BREAKER_COLOUR: dict[str, DeltaColor] = {"ACTIVE": "green", "WARNING": "orange", "TRIPPED": "red"}
_BREAKER_DETAIL = {
    "ACTIVE": "entries allowed",
    "WARNING": "near the daily loss limit",
    "TRIPPED": "entries blocked until reset",
    "DISABLED": "not guarding",
}


def breaker_kpi(status: EngineStatus) -> Kpi:
    """The portfolio circuit breaker (ACTIVE, WARNING, TRIPPED, DISABLED) and what it means for new entries."""
    state = status.breaker_state
    return Kpi(
        "Breaker",
        state,
        _BREAKER_DETAIL.get(state, ""),
        _BREAKER_COLOUR.get(state, "gray"),
        "off",
        help="Portfolio circuit breaker: TRIPPED (daily loss or drawdown limit hit) blocks new entries until a person resets it",
    )


def market_kpi(status: EngineStatus) -> Kpi:
    """Market stream connection with the data lag (wall seconds since the last market message)."""
    lag = NO_VALUE if status.data_lag_s is None else f"{status.data_lag_s:.1f} s"
    return Kpi(
        "Market",
        "connected" if status.market_connected else "disconnected",
        f"lag {lag}",
        "green" if status.market_connected else "red",
        "off",
        help="Wall time since the last market message",
    )


def market_time_text(status: EngineStatus) -> str:
    """One line for under the tiles: market time and last closed candle, both UTC."""
    if status.market_time_ms is None:
        return "Market time: waiting for market data"
    text = f"Market time {_utc(status.market_time_ms)}"
    if status.last_candle_ms is not None:
        text += f" · last candle {_utc(status.last_candle_ms)}"
    return text


def _utc(value: Any) -> str:
    """Unix ms or a datetime/Timestamp, as ``YYYY-MM-DD HH:MM:SS UTC``."""
    moment = datetime.fromtimestamp(value / 1000, tz=UTC) if isinstance(value, int | float) else value
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
