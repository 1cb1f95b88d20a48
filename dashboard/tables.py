"""Pure builders of the dashboard's tables (no Streamlit, no database): query frames in, display tables out.

Each builder puts what matters first, names columns as a trader would, and says how each number is shown
(:class:`TableView`): money with 2 decimals, prices with the decimals of the symbol's tick, quantities with those of
its lot step, percentages with 2; times as ``YYYY-MM-DD HH:mm:ss``, market time unless the column says "wall".
The tick and the step are read from the values themselves: every fill, stop, target and mark is a multiple of the
tick, every quantity one of the step (:func:`decimals`). ``dashboard.show_table`` draws a view.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd

from dashboard.fault_names import human_detail
from engine.sinks.status import GapStatus

OPEN_GAP_COLUMNS = ("Symbol", "Missing from", "Missing to", "Candles", "Kind", "Open for", "Attempts", "Last error", "Fetched")

TIME_FORMAT = "YYYY-MM-DD HH:mm:ss"
"""momentJS format of every timestamp column."""
MONEY = "%,.2f"
SIGNED_MONEY = "%+,.2f"
PERCENT = "%.2f %%"
SIGNED_PERCENT = "%+.2f %%"

_BREAKER_EVENTS = {
    "BreakerTripped": "tripped",
    "BreakerReset": "reset",
    "WarningTriggered": "warning",
    "WarningCleared": "warning cleared",
}


@dataclass(frozen=True, slots=True)
class TableView:
    """A table to show: ``frame`` with display names in display order; ``formats`` maps a column to its printf
    format (numbers, e.g. ``%,.2f``) or momentJS format (timestamps); ``help`` to a column tooltip."""

    frame: pd.DataFrame
    formats: Mapping[str, str] = field(default_factory=dict)
    help: Mapping[str, str] = field(default_factory=dict)


def decimals(values: Iterable[float], *, at_least: int = 0, at_most: int = 8) -> int:
    """The fewest decimals (``at_least`` … ``at_most``) that show every finite value of ``values`` exactly:
    a column of prices on a 0.01 tick gives 2, quantities on a 0.00001 step up to 5."""
    places = at_least
    for value in values:
        if pd.isna(value):
            continue
        while places < at_most and abs(round(value, places) - value) > 1e-9 * max(1.0, abs(value)):
            places += 1
    return places


def price_format(values: Iterable[float]) -> str:
    """printf format of a price column: thousands separators, the tick's decimals (at least 2)."""
    return f"%,.{decimals(values, at_least=2)}f"


def quantity_format(values: Iterable[float]) -> str:
    """printf format of a quantity column: the lot step's decimals."""
    return f"%.{decimals(values)}f"


def positions_table(positions: pd.DataFrame) -> TableView:
    """Open positions (``storage.position_queries.open_positions``): symbol, unrealised P&L and %, mark, entry,
    stop, target, stop kind, quantity, opened."""
    prices = pd.concat([positions[c] for c in ("avg_entry", "mark", "stop_price", "target_price")])
    frame = pd.DataFrame({
        "Symbol": positions["symbol"],
        "Unrealised P&L (USDT)": positions["unrealised_pnl"],
        "Unrealised %": positions["unrealised_pct"],
        "Mark": positions["mark"],
        "Entry": positions["avg_entry"],
        "Stop": positions["stop_price"],
        "Target": positions["target_price"],
        "Stop kind": positions["trailing"].map({True: "trailing", False: "initial"}),
        "Quantity": positions["quantity"],
        "Opened": positions["opened"],
        "Marked at": positions["marked_at"],
    })
    price = price_format(prices)
    return TableView(
        frame,
        {
            "Unrealised P&L (USDT)": SIGNED_MONEY, "Unrealised %": SIGNED_PERCENT, "Mark": price, "Entry": price,
            "Stop": price, "Target": price, "Quantity": quantity_format(positions["quantity"]), "Opened": TIME_FORMAT,
            "Marked at": TIME_FORMAT,
        },
        {
            "Unrealised P&L (USDT)": "Quantity × mark − cost (entry fee included), as the account counts it",
            "Mark": "The newest price the engine valued the position at",
            "Stop kind": "trailing: the stop has moved up behind the highest high",
        },
    )


def trades_table(trades: pd.DataFrame) -> TableView:
    """Closed trades (``storage.queries.recent_trades`` or ``storage.trade_queries.closed_trades``), newest first:
    exit time, symbol, P&L and %, exit reason, prices, quantity, fees, time held, entry time (and the trade id when
    the frame has it)."""
    prices = pd.concat([trades["entry_price"], trades["exit_price"]])
    columns = {
        "Exit": trades["exit_time"],
        "Symbol": trades["symbol"],
        "P&L (USDT)": trades["pnl"],
        "P&L %": trades["pnl_pct"],
        "Exit reason": trades["exit_reason"],
        "Entry price": trades["entry_price"],
        "Exit price": trades["exit_price"],
        "Quantity": trades["quantity"],
        "Fees (USDT)": trades["fees"],
        "Held": [_duration(end - start) for start, end in zip(trades["entry_time"], trades["exit_time"], strict=True)],
        "Entry": trades["entry_time"],
    }
    if "trade_id" in trades:
        columns["Trade id"] = trades["trade_id"]
    price = price_format(prices)
    return TableView(
        pd.DataFrame(columns),
        {
            "Exit": TIME_FORMAT, "P&L (USDT)": SIGNED_MONEY, "P&L %": SIGNED_PERCENT, "Entry price": price,
            "Exit price": price, "Quantity": quantity_format(trades["quantity"]), "Fees (USDT)": MONEY,
            "Entry": TIME_FORMAT,
        },
        {"P&L (USDT)": "Net of both fees", "P&L %": "Of the entry cost", "Exit": "Market time (UTC)"},
    )


def fills_table(fills: pd.DataFrame) -> TableView:
    """Fills (``storage.trade_queries.fills``), newest first: time, symbol, side, price, quantity, value, fee, exit
    reason, the price before slippage, order and fill ids."""
    price = price_format(pd.concat([fills["price"], fills["reference_price"]]))
    frame = pd.DataFrame({
        "Time": fills["ts"],
        "Symbol": fills["symbol"],
        "Side": fills["side"],
        "Price": fills["price"],
        "Quantity": fills["quantity"],
        "Value (USDT)": fills["quote_qty"],
        "Fee (USDT)": fills["fee"],
        "Exit reason": fills["exit_reason"].fillna(""),
        "Price before slippage": fills["reference_price"],
        "Order id": fills["order_id"],
        "Fill id": fills["fill_id"],
    })
    return TableView(
        frame,
        {
            "Time": TIME_FORMAT, "Price": price, "Quantity": quantity_format(fills["quantity"]), "Value (USDT)": MONEY,
            "Fee (USDT)": MONEY, "Price before slippage": price,
        },
        {"Time": "Market time (UTC)", "Price before slippage": "The candle's open, or the stop/target level"},
    )


def audit_table(commands: pd.DataFrame) -> TableView:
    """The audit log (``storage.audit_queries.audit_log`` with ``market`` added), newest first: market time and wall
    time side by side, command, result, who, reason, detail (fault switches by their names; last, as the longest)."""
    frame = pd.DataFrame({
        "Market time": commands["market"],
        "Wall time": commands["ts"],
        "Command": commands["command"],
        "Result": commands["result"],
        "Who": commands["actor"],
        "Reason": commands["reason"],
        "Detail": commands["detail"].map(human_detail),
    })
    return TableView(
        frame,
        {"Market time": TIME_FORMAT, "Wall time": TIME_FORMAT},
        {
            "Market time": "Where the engine's market clock was when it applied the command (UTC)",
            "Wall time": "When the engine applied it (UTC, this computer's clock)",
        },
    )


def breaker_table(history: pd.DataFrame) -> TableView:
    """Breaker transitions (``storage.guard_queries.breaker_history``), newest first: market time, event, state,
    the breaker's own figures then, reason, who, wall time."""
    frame = pd.DataFrame({
        "Market time": history["ts"],
        "Event": history["kind"].map(lambda kind: _BREAKER_EVENTS.get(kind, kind)),
        "State": history["state_from"] + " → " + history["state_to"],
        "Equity (USDT)": history["equity"],
        "Daily loss %": history["daily_loss_pct"],
        "Drawdown %": history["drawdown_pct"],
        "Reason": history["reason"],
        "Who": history["actor"],
        "Wall time": history["recorded_at"],
    })
    return TableView(
        frame,
        {
            "Market time": TIME_FORMAT, "Equity (USDT)": MONEY, "Daily loss %": PERCENT, "Drawdown %": PERCENT,
            "Wall time": TIME_FORMAT,
        },
        {
            "Daily loss %": "The breaker's own figure then (from its baseline; a reset re-bases it)",
            "Drawdown %": "The breaker's own figure then (below its peak; a reset re-bases it)",
        },
    )


def api_totals_table(totals: pd.DataFrame) -> TableView:
    """REST attempts counted (``storage.guard_queries.api_call_totals`` with ``market`` added for ``last_ts``)."""
    frame = pd.DataFrame({
        "Endpoint": totals["endpoint"],
        "Outcome": totals["outcome"],
        "Reason": totals["reason"],
        "Attempts": totals["calls"],
        "Avg latency (ms)": totals["avg_latency_ms"],
        "Latest (market)": totals["market"],
        "Latest (wall)": totals["last_ts"],
    })
    return TableView(
        frame, {"Avg latency (ms)": "%,.1f", "Latest (market)": TIME_FORMAT, "Latest (wall)": TIME_FORMAT}
    )


def ws_events_table(events: pd.DataFrame) -> TableView:
    """Market-stream events (``storage.guard_queries.ws_timeline`` with ``market`` added), newest first."""
    frame = pd.DataFrame({
        "Market time": events["market"],
        "Wall time": events["ts"],
        "Event": events["event"],
        "Close code": events["code"],
        "Reason": events["reason"],
        "Retry in (s)": events["retry_in_s"],
        "Attempt": events["attempt"],
        "Candles": events["candles"],
        "URL": events["url"],
    })
    return TableView(
        frame, {"Market time": TIME_FORMAT, "Retry in (s)": "%.1f", "Close code": "%d", "Candles": "%d", "Wall time": TIME_FORMAT}
    )


def gap_ledger_table(gaps: pd.DataFrame) -> TableView:
    """The gap ledger (``storage.guard_queries.gap_history``), newest first."""
    frame = pd.DataFrame({
        "Symbol": gaps["symbol"],
        "State": gaps["state"],
        "Missing from": gaps["first_open_time"],
        "Missing to": gaps["last_open_time"],
        "Candles": gaps["candles"],
        "Kind": gaps["kind"],
        "Attempts": gaps["attempts"],
        "Last error": gaps["last_error"],
        "Detail": gaps["detail"],
        "Found (wall)": gaps["opened_at"],
        "Closed (wall)": gaps["closed_at"],
    })
    return TableView(
        frame,
        {"Missing from": TIME_FORMAT, "Missing to": TIME_FORMAT, "Found (wall)": TIME_FORMAT, "Closed (wall)": TIME_FORMAT},
        {"Missing from": "Open time of the first missing candle (market time)"},
    )


def denial_totals_table(totals: pd.DataFrame) -> TableView:
    """Denials by reason (``storage.guard_queries.denials_by_reason``), most frequent first."""
    frame = pd.DataFrame({"Reason": totals["reason_code"], "Denials": totals["denials"], "Latest": totals["last_ts"]})
    return TableView(frame, {"Latest": TIME_FORMAT}, {"Latest": "Market time (UTC)"})


def _duration(span: pd.Timedelta) -> str:
    """``2 d 03 h``, ``1 h 05 m`` or ``12 m`` (market time)."""
    minutes = int(span.total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours:02d} h"
    return f"{hours} h {minutes:02d} m" if hours else f"{minutes} m"


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def open_gaps_table(gaps: Sequence[GapStatus], *, now_s: float) -> pd.DataFrame:
    """The open gaps as a display table, oldest first: the missing span in market time (UTC, to the minute), how long
    each has been open (wall clock, ``now_s`` in Unix seconds), failed backfill attempts and the last error;
    ``Fetched`` says the candles are in and wait behind an earlier gap."""
    rows = [
        (
            g.symbol,
            _utc(g.first_ms),
            _utc(g.last_ms),
            g.candles,
            g.kind,
            f"{max(0.0, now_s - g.opened_at_s):.0f} s",
            g.attempts,
            g.last_error,
            "yes" if g.fetched else "no",
        )
        for g in sorted(gaps, key=lambda g: (g.opened_at_s, g.symbol))
    ]
    return pd.DataFrame(rows, columns=list(OPEN_GAP_COLUMNS))
