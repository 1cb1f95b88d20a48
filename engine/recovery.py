"""Resume from the database after a stop or a crash (``../shared/SPEC.md`` §4).

Everything that must survive is derived from the append-only tables:

* cash, positions and realised P&L — by replaying ``fills`` in order through :class:`~engine.portfolio.Portfolio`
  (exact: fills are stored as decimals); stops/targets from the latest ``positions`` row per symbol;
* marks — the last stored close per symbol; peak equity and the day baseline — from the last ``equity`` row;
* the last processed candle per symbol — ``max(open_time)`` in ``candles`` (the engine drops anything not newer);
* the paused flag — the last applied PAUSE/RESUME command;
* the breaker state — the ``state_to`` of the last ``breaker_events`` row (a trip stays tripped: latched);
  a reset's re-based baselines come back with the equity row written with it;
* entries made today (the max-trades-per-day limit) — BUY fills on the UTC day of the latest one;
* orders left ``NEW`` (accepted, not filled when the process died) are cancelled with a reason, never filled late.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

import duckdb

from engine.breaker import BreakerState
from engine.models import Fill, Side
from engine.portfolio import DAY_MS, Portfolio
from engine.risk import DailyTradeCounter


@dataclass
class RestoredState:
    portfolio: Portfolio
    last_candle_ms: dict[str, int] = field(default_factory=dict)
    paused: bool = False
    cancelled_orders: int = 0
    breaker_state: BreakerState = BreakerState.ACTIVE
    entries_today: DailyTradeCounter = field(default_factory=DailyTradeCounter)

    @property
    def resume_from_ms(self) -> int | None:
        """The open time of the first candle not yet processed (``None`` for a new database)."""
        return max(self.last_candle_ms.values()) + 60_000 if self.last_candle_ms else None


def restore(cur: duckdb.DuckDBPyConnection, *, starting_balance: Decimal, wall_now: datetime | None = None) -> RestoredState:
    """Rebuild the engine's state from the database behind ``cur`` (a read-write cursor: it may append
    ``CANCELLED`` order rows)."""
    portfolio = Portfolio(starting_balance)
    fills = cur.execute(
        "SELECT fill_id, order_id, symbol, side, price, quantity, quote_qty, fee, epoch_ms(ts), reference_price "
        "FROM fills ORDER BY ts, recorded_at, fill_id"
    ).fetchall()
    for fill_id, order_id, symbol, side, price, qty, quote, fee, ts_ms, ref in fills:
        fill = Fill(fill_id, order_id, symbol, Side(side), price, qty, quote, fee, ts_ms, ref)
        portfolio.apply_fill(fill)
    for symbol, stop, target in cur.execute(
        "SELECT symbol, arg_max(stop_price, recorded_at), arg_max(target_price, recorded_at) FROM positions GROUP BY symbol"
    ).fetchall():
        if symbol in portfolio.positions:
            portfolio.positions[symbol] = replace(portfolio.positions[symbol], stop_price=stop, target_price=target)

    last_candle_ms: dict[str, int] = {}
    for symbol, last_open, last_close in cur.execute(
        "SELECT symbol, epoch_ms(max(open_time)), arg_max(close, open_time) FROM candles GROUP BY symbol"
    ).fetchall():
        last_candle_ms[symbol] = last_open
        portfolio.marks[symbol] = Decimal(repr(last_close))

    row = cur.execute(
        "SELECT epoch_ms(ts), peak_equity, day_start_equity FROM equity ORDER BY ts DESC, recorded_at DESC LIMIT 1"
    ).fetchone()
    if row is not None:
        ts_ms, peak, day_start = row
        portfolio.peak_equity = max(Decimal(repr(peak)), portfolio.equity())
        portfolio.day_start_equity = Decimal(repr(day_start))
        portfolio.day_index = ts_ms // DAY_MS

    paused_row = cur.execute(
        "SELECT command FROM commands WHERE command IN ('PAUSE', 'RESUME') AND result = 'OK' ORDER BY ts DESC, recorded_at DESC LIMIT 1"
    ).fetchone()

    # open = every row of the order is NEW, whatever the order of recorded_at. Times stay in SQL: fetching a
    # TIMESTAMPTZ into Python needs pytz, which pandas >= 3 no longer brings.
    (cancelled,) = cur.execute(
        "INSERT INTO orders SELECT order_id, arg_max(ts, recorded_at), arg_max(symbol, recorded_at), "
        "arg_max(side, recorded_at), 'MARKET', arg_max(quantity, recorded_at), 'CANCELLED', "
        "'engine restarted before the fill', ? FROM orders GROUP BY order_id HAVING bool_and(status = 'NEW')",
        [wall_now or datetime.now(tz=UTC)],
    ).fetchone()
    breaker_row = cur.execute(
        "SELECT state_to FROM breaker_events ORDER BY recorded_at DESC LIMIT 1"
    ).fetchone()
    day_row = cur.execute(
        "SELECT epoch_ms(ts) // ? AS day, count(*) FROM fills WHERE side = 'BUY' GROUP BY day ORDER BY day DESC LIMIT 1",
        [DAY_MS],
    ).fetchone()
    entries_today = DailyTradeCounter()
    if day_row is not None and day_row[0] is not None:
        entries_today = DailyTradeCounter(day_index=day_row[0], count=day_row[1])
    return RestoredState(
        portfolio=portfolio,
        breaker_state=BreakerState(breaker_row[0]) if breaker_row else BreakerState.ACTIVE,
        entries_today=entries_today,
        last_candle_ms=last_candle_ms,
        paused=paused_row is not None and paused_row[0] == "PAUSE",
        cancelled_orders=cancelled,
    )
