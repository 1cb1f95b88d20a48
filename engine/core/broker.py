"""Paper broker: fills market orders at the next available price plus slippage, charging the taker fee.

Fill model (``../shared/SPEC.md`` §2, the "configured bps model"):

* the order fills at the first price seen after it was created (``reference_price``, e.g. the next candle's open);
* slippage moves the price against the order by ``slippage_bps`` (buys up, sells down), then the price is
  rounded to the symbol's ``tickSize`` against the order as well;
* the quantity is floored to ``stepSize``; LOT_SIZE and NOTIONAL filters are checked on the result
  (Binance spot REST docs, "Filters"); a failing order is rejected with the filter's reason;
* fee = price × quantity × ``taker_fee_pct`` / 100, rounded half-up to 1e-8 of the quote asset.

Without the symbol's filters (exchangeInfo not loaded yet, e.g. a restart behind an IP ban) entries are rejected
(``NO_FILTERS``) but a sell still fills, unrounded: a paper account can always close what it holds, and a stop must
not wait for the exchange's rules (its price is rounded down to 1e-8, the precision every table stores).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from engine.core.filters import SymbolFilters
from engine.core.models import Fill, Order, Side
from engine.core.money import exact

FEE_QUANTUM = Decimal("0.00000001")
BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class Rejection:
    """An order the broker refused; ``reason`` starts with a stable code (``LOT_SIZE``, ``NOTIONAL``, ``NO_FILTERS``)."""

    order: Order
    reason: str


class PaperBroker:
    """Stateless fill calculator over the venue's symbol filters."""

    def __init__(
        self, filters: dict[str, SymbolFilters], *, taker_fee_pct: Decimal | float, slippage_bps: Decimal | float
    ) -> None:
        self.filters = filters
        self.fee_rate = exact(taker_fee_pct) / 100
        self.slippage = exact(slippage_bps) / BPS

    def fill_price(self, symbol: str, side: Side, reference_price: Decimal) -> Decimal:
        """The execution price for a market order against ``reference_price`` (slippage and tick applied)."""
        rules = self.filters[symbol]
        if side is Side.BUY:
            return rules.round_price(reference_price * (1 + self.slippage), up=True)
        return rules.round_price(reference_price * (1 - self.slippage), up=False)

    def fill(
        self, order: Order, *, reference_price: Decimal, time_ms: int, max_cost: Decimal | None = None
    ) -> Fill | Rejection:
        """Execute ``order`` at ``reference_price`` (market time ``time_ms``).

        ``max_cost`` (buys only, quote asset) caps price × quantity + fee, e.g. at the free cash: the price may
        have gapped since the order was sized, and a paper account never spends money it does not have.

        Returns:
            The :class:`~engine.core.models.Fill`, or a :class:`Rejection` naming the filter that failed.
        """
        rules = self.filters.get(order.symbol)
        if rules is None:
            if order.side is Side.SELL:
                price = (reference_price * (1 - self.slippage)).quantize(FEE_QUANTUM, rounding=ROUND_FLOOR)
                return self._fill(order, price, order.quantity, time_ms, reference_price)
            return Rejection(order, f"NO_FILTERS: {order.symbol} is not listed in exchangeInfo")
        price = self.fill_price(order.symbol, order.side, reference_price)
        quantity = order.quantity
        # the fee is rounded half-up, which may add up to half a quantum: keep room for it under the cap
        budget = None if max_cost is None else max(max_cost - FEE_QUANTUM / 2, Decimal(0))
        if order.side is Side.BUY and budget is not None and price * quantity * (1 + self.fee_rate) > budget:
            quantity = budget / (price * (1 + self.fee_rate))
        quantity = rules.floor_quantity(quantity)
        reason = rules.rejection(quantity=quantity, price=price)
        if reason is not None:
            return Rejection(order, reason)
        return self._fill(order, price, quantity, time_ms, reference_price)

    def _fill(self, order: Order, price: Decimal, quantity: Decimal, time_ms: int, reference_price: Decimal) -> Fill:
        quote_qty = price * quantity
        fee = (quote_qty * self.fee_rate).quantize(FEE_QUANTUM, rounding=ROUND_HALF_UP)
        return Fill(
            fill_id=f"{order.order_id}-F",
            order_id=order.order_id,
            symbol=order.symbol,
            side=order.side,
            price=price,
            quantity=quantity,
            quote_qty=quote_qty,
            fee=fee,
            time_ms=time_ms,
            reference_price=reference_price,
        )
