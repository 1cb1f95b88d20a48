"""Headline numbers of the Overview page as plain values (no Streamlit here, so they are unit-tested).

Each :class:`Kpi` maps one-to-one onto ``st.metric(label, value, delta, delta_color, delta_arrow=..., help=...)``.
Money is in the quote asset (USDT); percentages are in percent.

Truthful after a breaker reset (``../shared/SPEC.md`` §5): "P&L today" is measured from the equity at 00:00 UTC of
the market day and the drawdown from the all-time peak (``storage.account_queries``); the breaker's re-based
baselines are shown as the breaker's own figures ("since reset"), in the help and in :func:`reset_note`.
A drawdown or a loss is a positive percentage everywhere on the dashboard.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeAlias

import pandas as pd

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


def overview_kpis(account: Mapping[str, Any] | None, status: EngineStatus, *, starting_balance: float) -> list[Kpi]:
    """The Overview's metric tiles, in display order.

    Args:
        account: ``storage.account_queries.account_figures``, or ``None`` before the first candle has been marked.
        status: the engine's current status.
        starting_balance: the paper account's opening cash (quote asset), the base of total P&L %.
    """
    return [
        *_portfolio_kpis(account, starting_balance=starting_balance),
        engine_kpi(status),
        breaker_kpi(status),
        market_kpi(status),
    ]


def pnl_today(account: Mapping[str, Any]) -> tuple[float, float]:
    """``(P&L, percent)`` since 00:00 UTC of the market day: equity minus the equity then (never re-based by a
    breaker reset), and that over the equity then × 100."""
    start = float(account["calendar_day_start_equity"])
    pnl = float(account["equity"]) - start
    return pnl, pnl / start * 100 if start else 0.0


def drawdown_pct(account: Mapping[str, Any]) -> float:
    """Percent below the all-time peak equity (≥ 0), whatever a breaker reset re-based."""
    peak = float(account["all_time_peak_equity"])
    return max(0.0, (peak - float(account["equity"])) / peak * 100) if peak else 0.0


def breaker_daily_loss_pct(account: Mapping[str, Any]) -> float:
    """The breaker's own daily loss (≥ 0): from its day-start baseline, which a reset re-bases."""
    start = float(account["day_start_equity"])
    return max(0.0, (start - float(account["equity"])) / start * 100) if start else 0.0


def reset_today(account: Mapping[str, Any]) -> bool:
    """A breaker reset happened on the newest row's market day (so the breaker's daily figure counts from it)."""
    reset = account["last_reset_ts"]
    return reset is not None and _day(reset) == _day(account["ts"])


def breaker_baselines(account: Mapping[str, Any] | None) -> tuple[str, str]:
    """What the breaker's two figures count from, as short subtitles: ``(daily loss, drawdown)``, e.g.
    ``("since reset 01:23 UTC", "since reset 01:23 UTC")`` on the day of a reset, ``("since 00:00 UTC",
    "since reset 2021-04-22")`` after it, ``("since 00:00 UTC", "below the all-time peak")`` without one."""
    if account is None or account["last_reset_ts"] is None:
        return "since 00:00 UTC", "below the all-time peak"
    at = account["last_reset_ts"]
    if reset_today(account):
        return f"since reset {at:%H:%M} UTC", f"since reset {at:%H:%M} UTC"
    return "since 00:00 UTC", f"since reset {at:%Y-%m-%d}"


def _portfolio_kpis(account: Mapping[str, Any] | None, *, starting_balance: float) -> list[Kpi]:
    if account is None:
        waiting = "Waiting for the first candle"
        return [
            Kpi("Equity (USDT)", NO_VALUE, help=waiting),
            Kpi("P&L today (USDT)", NO_VALUE, help=waiting),
            Kpi("Total P&L (USDT)", NO_VALUE, help=waiting),
            Kpi("Drawdown", NO_VALUE, help=waiting),
        ]
    equity = float(account["equity"])
    today, today_pct = pnl_today(account)
    realised, unrealised = float(account["realised_pnl"]), float(account["unrealised_pnl"])
    total = realised + unrealised
    today_help = (
        f"Since 00:00 UTC of the market day {account['ts']:%Y-%m-%d}; equity then "
        f"{float(account['calendar_day_start_equity']):,.2f} USDT"
    )
    drawdown_help = f"Below the all-time peak equity {float(account['all_time_peak_equity']):,.2f} USDT"
    if reset_today(account):
        today_help += (
            f". The breaker counts its daily loss from its reset at {account['last_reset_ts']:%H:%M} UTC "
            f"({float(account['day_start_equity']):,.2f} USDT): {breaker_daily_loss_pct(account):.2f} % now"
        )
    if account["last_reset_ts"] is not None:
        drawdown_help += (
            f". The breaker's own drawdown counts from its peak since the reset at "
            f"{_utc(account['last_reset_ts'])} ({float(account['peak_equity']):,.2f} USDT): "
            f"{float(account['drawdown_pct']):.2f} %"
        )
    return [
        Kpi(
            "Equity (USDT)",
            f"{equity:,.2f}",
            help=f"Cash + open positions at mark price, as of {_utc(account['ts'])} (market time)",
        ),
        Kpi("P&L today (USDT)", f"{today:+,.2f}", f"{today_pct:+.2f} %", help=today_help),
        Kpi(
            "Total P&L (USDT)",
            f"{total:+,.2f}",
            f"{total / starting_balance * 100:+.2f} %",
            help=f"Realised {realised:+,.2f} + unrealised {unrealised:+,.2f} USDT, net of fees; "
            f"starting balance {starting_balance:,.2f} USDT",
        ),
        Kpi("Drawdown", f"{drawdown_pct(account):.2f} %", help=drawdown_help),
    ]


def breaker_alert(state: str, history: pd.DataFrame) -> str | None:
    """One line for a TRIPPED or WARNING breaker: what tripped it (or warned) and when (market time), from its
    newest transition (``history``: ``storage.guard_queries.breaker_history``, newest first); ``None`` in other
    states."""
    if state not in ("TRIPPED", "WARNING"):
        return None
    verb = "tripped" if state == "TRIPPED" else "warning"
    if history.empty or history["state_to"].iloc[0] != state:
        return f"Breaker {verb}."
    last = history.iloc[0]
    text = f"Breaker {verb} at {_utc(last['ts'])} (market time): {last['reason']}."
    if state == "TRIPPED":
        text += " No new entries until a person resets it; stops and targets keep working."
    return text


def reset_note(account: Mapping[str, Any] | None) -> str | None:
    """A line for a market day that had a breaker reset: the breaker's re-based figures next to the tiles' calendar
    and all-time ones; ``None`` on other days."""
    if account is None or not reset_today(account):
        return None
    return (
        f"Breaker reset at {_utc(account['last_reset_ts'])} by {account['last_reset_actor']} "
        f"(\"{account['last_reset_reason']}\"): since then it counts its daily loss from "
        f"{float(account['day_start_equity']):,.2f} USDT ({breaker_daily_loss_pct(account):.2f} % now) and its "
        f"drawdown from {float(account['peak_equity']):,.2f} USDT ({float(account['drawdown_pct']):.2f} % now). "
        "The tiles keep the calendar day and the all-time peak."
    )


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


def _day(moment: datetime) -> tuple[int, int, int]:
    utc = moment.astimezone(UTC)
    return utc.year, utc.month, utc.day


def _utc(value: Any) -> str:
    """Unix ms or a datetime/Timestamp, as ``YYYY-MM-DD HH:MM:SS UTC``."""
    moment = datetime.fromtimestamp(value / 1000, tz=UTC) if isinstance(value, int | float) else value
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
