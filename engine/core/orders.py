"""The order desk: pending market orders, their execution through the paper broker, and the portfolio bookings.

Order flow (``../shared/SPEC.md`` §2): a signal on the close of candle *N* queues a market order; it fills at the
first price seen after it — the open of candle *N+1* (its first in-progress update live, the closed candle in a
replay). An entry carries its plan (risk budget, stop distance, correlation factor) and is **sized at the fill
price** (:func:`engine.core.risk.size_at_fill`): quantity, stop and target all follow from where it actually fills,
so every cap holds after slippage; a stop that would be too close cancels it. Stops, targets and flatten sell at once
(:meth:`OrderDesk.sell_now`). Every step is an event appended to the shared :class:`EventLog`; after each fill the
desk calls ``on_fill`` (the core marks the account and evaluates the breaker there).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from engine.core.broker import PaperBroker, Rejection
from engine.core.events import CoreEvent, Filled, OrderCancelled, OrderCreated, OrderRejected
from engine.core.filters import SymbolFilters
from engine.core.models import ExitReason, Fill, Order, Side
from engine.core.portfolio import Portfolio
from engine.core.risk import DailyTradeCounter, RiskDecision, SizingRules, size_at_fill


class EventLog:
    """The events of one call into the core, in order; :meth:`take` hands them over and starts a new list."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[CoreEvent] = []

    def append(self, event: CoreEvent) -> None:
        self.items.append(event)

    def take(self) -> list[CoreEvent]:
        items, self.items = self.items, []
        return items


@dataclass(frozen=True, slots=True)
class PendingOrder:
    order: Order
    exit_reason: ExitReason = ExitReason.SIGNAL


class OrderDesk:
    """Pending orders (at most one per symbol) and fills, booked into ``portfolio``.

    Args:
        portfolio: the account the fills are booked into.
        taker_fee_pct, slippage_bps: the paper broker's fill model (percent, basis points).
        sizing: how an entry is sized at its fill.
        entries_today: counts filled entries per UTC day (the daily entry limit).
        log: where the events go.
        on_fill: called with the symbol and the market time after every fill.
    """

    def __init__(
        self,
        portfolio: Portfolio,
        *,
        taker_fee_pct: Decimal,
        slippage_bps: Decimal,
        sizing: SizingRules,
        entries_today: DailyTradeCounter,
        log: EventLog,
        on_fill: Callable[[str, int], None],
    ) -> None:
        self.portfolio = portfolio
        self.broker = PaperBroker({}, taker_fee_pct=taker_fee_pct, slippage_bps=slippage_bps)
        self.sizing = sizing
        self.entries_today = entries_today
        self.pending: dict[str, PendingOrder] = {}
        self._log = log
        self._on_fill = on_fill

    def set_filters(self, filters: Mapping[str, SymbolFilters]) -> None:
        """Install the venue's trading rules (exchangeInfo); entries need them, exits do not."""
        self.broker.filters = dict(filters)

    @property
    def has_filters(self) -> bool:
        return bool(self.broker.filters)

    def pending_entries(self) -> set[str]:
        """Symbols with a pending entry (a BUY not yet filled)."""
        return {s for s, p in self.pending.items() if p.order.side is Side.BUY}

    def entries_on_day(self, day_ms: int, now_ms: int) -> int:
        """Entries counted against the daily limit on the UTC day of ``now_ms``: those filled that day and those
        pending that were decided that day (``day_ms``: the day's length in ms)."""
        day = now_ms // day_ms
        pending = sum(1 for p in self.pending.values() if p.order.side is Side.BUY and p.order.created_ms // day_ms == day)
        return self.entries_today.count(now_ms) + pending

    def queue(self, order: Order, exit_reason: ExitReason = ExitReason.SIGNAL) -> None:
        """Queue ``order`` to fill at the next price of its symbol."""
        self.pending[order.symbol] = PendingOrder(order, exit_reason)
        self._log.append(OrderCreated(order))

    def fill_pending(self, symbol: str, price: Decimal, time_ms: int, *, entries_allowed: bool) -> None:
        """A new price of ``symbol`` at market time ``time_ms``: fill its pending order if it was created before. A
        pending entry is cancelled instead when entries are not allowed (the breaker tripped meanwhile)."""
        pending = self.pending.get(symbol)
        if pending is None or time_ms <= pending.order.created_ms:
            return
        del self.pending[symbol]
        order = pending.order
        if order.side is Side.BUY:
            if not entries_allowed:
                self._log.append(OrderCancelled(order, "breaker tripped", time_ms))
                return
            if order.plan is not None:
                sized = self._size(order, reference_price=price, time_ms=time_ms)
                if sized is None:
                    return
                order = sized
        self.execute(order, reference_price=price, time_ms=time_ms, exit_reason=pending.exit_reason)

    def _size(self, order: Order, *, reference_price: Decimal, time_ms: int) -> Order | None:
        """``order`` sized at the price it fills at, or ``None`` when it cannot be (no exchange rules: rejected; a
        stop too close or no room: cancelled with the reason)."""
        assert order.plan is not None
        filters = self.broker.filters.get(order.symbol)
        if filters is None:
            self._log.append(OrderRejected(order, f"NO_FILTERS: {order.symbol} is not listed in exchangeInfo", time_ms))
            return None
        fill_price = self.broker.fill_price(order.symbol, Side.BUY, reference_price)
        portfolio = self.portfolio
        sizing = size_at_fill(self.sizing, order.plan, filters, fill_price=fill_price, equity=portfolio.equity(), cash=portfolio.cash)
        if isinstance(sizing, RiskDecision):
            self._log.append(OrderCancelled(order, f"{sizing.reason_code}: {sizing.detail}", time_ms))
            return None
        return replace(order, quantity=sizing.quantity, stop_price=sizing.stop_price, target_price=sizing.target_price, sizing=sizing)

    def cancel_entries(self, why: str, *, time_ms: int, symbol: str | None = None) -> int:
        """Cancel pending entries (of ``symbol`` only, when given); returns how many."""
        entries = [p for p in self.pending.values() if p.order.side is Side.BUY and symbol in (None, p.order.symbol)]
        for p in entries:
            del self.pending[p.order.symbol]
            self._log.append(OrderCancelled(p.order, why, time_ms))
        return len(entries)

    def close_order(self, symbol: str, *, time_ms: int, tag: str, why: str) -> Order:
        """A market sell of the whole open position in ``symbol``, decided at market time ``time_ms``."""
        return Order(
            order_id=f"{symbol}-{time_ms}-{tag}",
            symbol=symbol,
            side=Side.SELL,
            quantity=self.portfolio.positions[symbol].quantity,
            created_ms=time_ms,
            reason=why,
        )

    def sell_now(self, symbol: str, *, price: Decimal, time_ms: int, exit_reason: ExitReason, why: str) -> Fill | None:
        """Close the position in ``symbol`` at once at ``price`` (a stop, target or flatten), replacing any pending
        order for it."""
        self.pending.pop(symbol, None)
        order = self.close_order(symbol, time_ms=time_ms, tag=exit_reason.value, why=why)
        self._log.append(OrderCreated(order))
        return self.execute(order, reference_price=price, time_ms=time_ms, exit_reason=exit_reason)

    def execute(self, order: Order, *, reference_price: Decimal, time_ms: int, exit_reason: ExitReason) -> Fill | None:
        """Fill ``order`` at ``reference_price`` through the broker and book it; a rejection is an event, not an error."""
        max_cost = self.portfolio.cash if order.side is Side.BUY else None
        result = self.broker.fill(order, reference_price=reference_price, time_ms=time_ms, max_cost=max_cost)
        if isinstance(result, Rejection):
            self._log.append(OrderRejected(order, result.reason, time_ms))
            return None
        trade = self.portfolio.apply_fill(result, stop_price=order.stop_price, target_price=order.target_price, exit_reason=exit_reason)
        if result.side is Side.BUY:
            self.entries_today.record(time_ms)
        position = self.portfolio.positions.get(order.symbol)
        self._log.append(Filled(order, result, position, trade, exit_reason))
        self._on_fill(order.symbol, time_ms)
        return result
