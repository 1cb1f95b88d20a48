"""Resume from the database after a stop or a crash (``../shared/SPEC.md`` §4).

Everything that must survive is derived from the append-only tables (the SQL is in
:mod:`storage.recovery_queries`):

* cash, positions and realised P&L — by replaying ``fills`` in order through :class:`~engine.core.portfolio.Portfolio`
  (exact: fills are stored as decimals); stops, targets and the trailing stop's state from the latest ``positions``
  row per symbol;
* marks — each symbol's latest mark price from the ``equity`` rows (or, for older files, its last stored close); peak
  equity and the day baseline — from the last ``equity`` row: exactly the numbers the account and the breaker had
  (``DECIMAL`` since schema v4);
* the last processed candle per symbol — ``max(open_time)`` in ``candles`` (the feed continues after it), and the
  candles before it, to warm the indicators without a network call; all of ``trading.interval``
  (:func:`check_interval` refuses a database of another interval);
* the gaps a previous run left open — the latest ``gaps`` row per gap that is still OPEN (their filling resumes);
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

from engine.core.breaker import BreakerState
from engine.core.models import Candle, Fill, Side
from engine.core.portfolio import DAY_MS, Portfolio
from engine.core.risk import DailyTradeCounter
from engine.errors import ConfigError
from engine.feed.gaps import Gap, GapKind
from storage import recovery_queries as q


@dataclass
class RestoredState:
    portfolio: Portfolio
    last_candle_ms: dict[str, int] = field(default_factory=dict)
    paused: bool = False
    cancelled_orders: int = 0
    breaker_state: BreakerState = BreakerState.ACTIVE
    entries_today: DailyTradeCounter = field(default_factory=DailyTradeCounter)
    open_gaps: list[Gap] = field(default_factory=list)

    def resume_from_ms(self, interval_ms: int) -> int | None:
        """The open time of the first candle (of ``interval_ms``) not yet processed (``None`` for a new database)."""
        return max(self.last_candle_ms.values()) + interval_ms if self.last_candle_ms else None

    def next_ms(self, interval_ms: int) -> dict[str, int]:
        """Per symbol, the open time of the next candle to process."""
        return {symbol: last + interval_ms for symbol, last in self.last_candle_ms.items()}


def check_interval(cur: duckdb.DuckDBPyConnection, interval: str, *, path: object) -> None:
    """A database keeps the candles of one kline interval: its series, gaps and warm-up are of that interval.

    Raises:
        ConfigError: the database at ``path`` holds candles of another interval than ``interval``.
    """
    stored = [iv for iv in q.candle_intervals(cur) if iv != interval]
    if stored:
        raise ConfigError(
            f"trading.interval is {interval}, but {path} holds {', '.join(stored)} candles: a database keeps one "
            f"interval; use another storage.path (or trading.interval = {stored[0]!r})"
        )


def restore(cur: duckdb.DuckDBPyConnection, *, starting_balance: Decimal, wall_now: datetime | None = None) -> RestoredState:
    """Rebuild the engine's state from the database behind ``cur`` (a read-write cursor: it may append
    ``CANCELLED`` order rows)."""
    portfolio = Portfolio(starting_balance)
    for fill_id, order_id, symbol, side, price, qty, quote, fee, ts_ms, ref in q.fills(cur):
        portfolio.apply_fill(Fill(fill_id, order_id, symbol, Side(side), price, qty, quote, fee, ts_ms, ref))
    for symbol, stop, target, distance, trail_high in q.latest_exits(cur):
        if symbol in portfolio.positions:
            position = portfolio.positions[symbol]
            portfolio.positions[symbol] = replace(
                position, stop_price=stop, target_price=target, stop_distance=distance, trail_high=trail_high
            )

    last_candle_ms: dict[str, int] = {}
    for symbol, last_open, last_close in q.last_candles(cur):
        last_candle_ms[symbol] = last_open
        portfolio.marks[symbol] = Decimal(repr(last_close))
    portfolio.marks.update(q.last_marks(cur))  # the exact marks, newer than the closes (files before v4 have none)

    equity = q.last_equity(cur)
    if equity is not None:
        ts_ms, peak, day_start = equity
        portfolio.peak_equity = max(peak, portfolio.equity())
        portfolio.day_start_equity = day_start
        portfolio.day_index = ts_ms // DAY_MS

    day = q.entries_on_latest_day(cur, day_ms=DAY_MS)
    state = q.breaker_state(cur)
    return RestoredState(
        portfolio=portfolio,
        breaker_state=BreakerState(state) if state else BreakerState.ACTIVE,
        entries_today=DailyTradeCounter() if day is None else DailyTradeCounter(day_index=day[0], count=day[1]),
        last_candle_ms=last_candle_ms,
        paused=q.paused(cur),
        cancelled_orders=q.cancel_open_orders(cur, wall_now=wall_now or datetime.now(tz=UTC)),
        open_gaps=[
            Gap(symbol, first, last, GapKind(kind), gap_id=gap_id, attempts=attempts, last_error=error, opened_at_s=opened)
            for gap_id, symbol, kind, first, last, opened, attempts, error in q.open_gaps(cur)
        ],
    )


def stored_history(cur: duckdb.DuckDBPyConnection, symbol: str, *, candles: int) -> list[Candle]:
    """The last ``candles`` processed candles of ``symbol``, oldest first, to warm the indicators after a restart
    (prices come back from the ``DOUBLE`` chart columns; indicators are floats anyway)."""
    return [
        Candle(symbol, t, close_t, Decimal(repr(o)), Decimal(repr(h)), Decimal(repr(lo)), Decimal(repr(c)), Decimal(repr(v)))
        for t, close_t, o, h, lo, c, v in q.recent_candles(cur, symbol, candles)
    ]
