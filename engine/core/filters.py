"""Symbol trading rules from ``/api/v3/exchangeInfo`` and the rounding they impose.

Source: Binance spot REST docs, "Filters" (PRICE_FILTER tickSize, LOT_SIZE stepSize/minQty/maxQty,
NOTIONAL minNotional with applyMinToMarket). All arithmetic is exact (:class:`~decimal.Decimal`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from engine.errors import ProtocolError


@dataclass(frozen=True, slots=True)
class SymbolFilters:
    """The rules one symbol's orders must satisfy."""

    symbol: str
    base_asset: str
    quote_asset: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal

    def floor_quantity(self, quantity: Decimal) -> Decimal:
        """Round a quantity down to a multiple of ``step_size`` (never buy or sell more than asked)."""
        return _to_multiple(quantity, self.step_size, ROUND_FLOOR)

    def round_price(self, price: Decimal, *, up: bool) -> Decimal:
        """Round a price to a multiple of ``tick_size``; ``up`` for buys (adverse), down for sells."""
        return _to_multiple(price, self.tick_size, ROUND_CEILING if up else ROUND_FLOOR)

    def rejection(self, *, quantity: Decimal, price: Decimal) -> str | None:
        """Why an order of ``quantity`` at ``price`` breaks the filters, or ``None`` when it passes."""
        if quantity < self.min_qty:
            return f"LOT_SIZE: quantity {quantity} below minQty {self.min_qty}"
        if quantity > self.max_qty:
            return f"LOT_SIZE: quantity {quantity} above maxQty {self.max_qty}"
        if quantity * price < self.min_notional:
            return f"NOTIONAL: {quantity * price} below minNotional {self.min_notional}"
        return None


def _to_multiple(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=rounding) * step


def _amount(value: Any) -> Decimal:
    amount = Decimal(value)
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{value!r} is not a finite, non-negative decimal")
    return amount


def parse_exchange_info(payload: dict[str, Any]) -> dict[str, SymbolFilters]:
    """Map an ``exchangeInfo`` payload to ``{symbol: SymbolFilters}``.

    Raises:
        ProtocolError: a symbol lacks PRICE_FILTER or LOT_SIZE, or a value is not a finite, non-negative decimal string.
    """
    result: dict[str, SymbolFilters] = {}
    try:
        for sym in payload["symbols"]:
            by_type = {f["filterType"]: f for f in sym["filters"]}
            price, lot = by_type["PRICE_FILTER"], by_type["LOT_SIZE"]
            notional = by_type.get("NOTIONAL") or by_type.get("MIN_NOTIONAL") or {"minNotional": "0"}
            result[sym["symbol"]] = SymbolFilters(
                symbol=sym["symbol"],
                base_asset=sym["baseAsset"],
                quote_asset=sym["quoteAsset"],
                tick_size=_amount(price["tickSize"]).normalize(),
                step_size=_amount(lot["stepSize"]).normalize(),
                min_qty=_amount(lot["minQty"]),
                max_qty=_amount(lot["maxQty"]),
                min_notional=_amount(notional["minNotional"]),
            )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise ProtocolError(f"exchangeInfo payload breaks the documented format: {exc!r}", endpoint="/api/v3/exchangeInfo") from exc
    return result
