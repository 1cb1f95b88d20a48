"""The order desk: pending market orders, their execution through the paper broker, and the portfolio bookings.

Order flow (``../shared/SPEC.md`` §2): a signal on the close of candle *N* queues a market order; it fills at the
first price seen after it — the open of candle *N+1* (its first in-progress update live, the closed candle in a
replay). Stops, targets and flatten sell at once (:meth:`OrderDesk.sell_now`). Every step is an event appended to the
shared :class:`EventLog`; after each fill the desk calls ``on_fill`` (the core evaluates the breaker there).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from engine.core.broker import PaperBroker, Rejection
from engine.core.events import CoreEvent, Filled, OrderCancelled, OrderCreated, OrderRejected
from engine.core.filters import SymbolFilters
from engine.core.models import ExitReason, Fill, Order, Side
from engine.core.portfolio import Portfolio
from engine.core.risk import DailyTradeCounter


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
        entries_today: counts filled entries per UTC day (the daily entry limit).
        log: where the events go.
        on_fill: called with the symbol and the market time after every fill.
    """

    def __init__(
        self,
        portfolio: Portfolio,
        *,
        taker_fee_pct: float,
        slippage_bps: float,
        entries_today: DailyTradeCounter,
        log: EventLog,
        on_fill: Callable[[str, int], None],
    ) -> None:
        self.portfolio = portfolio
        self.broker = PaperBroker({}, taker_fee_pct=taker_fee_pct, slippage_bps=slippage_bps)
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
        if pending.order.side is Side.BUY and not entries_allowed:
            self._log.append(OrderCancelled(pending.order, "breaker tripped", time_ms))
            return
        self.execute(pending.order, reference_price=price, time_ms=time_ms, exit_reason=pending.exit_reason)

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
