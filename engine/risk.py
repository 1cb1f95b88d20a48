"""Pre-trade risk: position sizing from the stop distance, with its caps (``../shared/SPEC.md`` §3.2).

Every decision is a frozen :class:`RiskDecision` with a stable ``reason_code``; a denial is a value, never an exception.

Sizing: risk amount = equity × ``risk_pct`` %; position value = risk amount ÷ (stop distance % / 100);
capped at ``max_position_pct`` % of equity and at the free cash (less the taker fee); a stop closer than
``min_stop_pct`` % to the entry is denied.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """``allowed`` with the ``quantity`` to order (base asset), or a denial with ``reason_code`` and ``detail``."""

    allowed: bool
    reason_code: str
    detail: str = ""
    quantity: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class SizingRules:
    """Percentages in percent (2.0 = 2 %)."""

    risk_pct: float
    max_position_pct: float
    min_stop_pct: float
    taker_fee_pct: float


def size_entry(rules: SizingRules, *, equity: Decimal, cash: Decimal, entry_price: Decimal, stop_price: Decimal) -> RiskDecision:
    """Size a long entry at ``entry_price`` with its stop at ``stop_price`` (quote asset per base unit).

    Returns a decision whose ``quantity`` is not yet rounded to the symbol's step (the broker does that).
    Reason codes: ``OK``, ``INVALID_PRICE``, ``STOP_TOO_TIGHT``, ``NO_FREE_CASH``.
    """
    if not entry_price.is_finite() or not stop_price.is_finite() or entry_price <= 0 or stop_price <= 0:
        return RiskDecision(False, "INVALID_PRICE", f"entry {entry_price}, stop {stop_price}")
    stop_distance_pct = (entry_price - stop_price) / entry_price * 100
    if stop_distance_pct < Decimal(str(rules.min_stop_pct)) or stop_distance_pct <= 0:
        return RiskDecision(False, "STOP_TOO_TIGHT", f"stop distance {stop_distance_pct:.3f} % < {rules.min_stop_pct} %")
    risk_amount = equity * Decimal(str(rules.risk_pct)) / 100
    value = risk_amount / (stop_distance_pct / 100)
    value = min(value, equity * Decimal(str(rules.max_position_pct)) / 100)
    value = min(value, cash / (1 + Decimal(str(rules.taker_fee_pct)) / 100))
    if value <= 0:
        return RiskDecision(False, "NO_FREE_CASH", f"cash {cash}")
    return RiskDecision(True, "OK", f"value {value:.2f}, stop distance {stop_distance_pct:.3f} %", value / entry_price)
