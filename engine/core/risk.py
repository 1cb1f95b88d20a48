"""Pre-trade risk (``../shared/SPEC.md`` §3.2): price validation, entry limits, position sizing, correlation scaling.

Every decision is a frozen :class:`RiskDecision` with a stable ``reason_code`` (a :class:`ReasonCode`); a denial is
a value, never an exception. Pure and synchronous; times are market time in Unix ms.

Sizing happens twice. At the signal (:func:`check_entry`, with :func:`size_entry`) the checks below decide whether
to enter at all, on the signal's close. At the fill (:func:`size_at_fill`) the order's size, stop and target are set
from the **fill price**, so every cap holds after slippage (``../shared/SPEC.md`` §2): risk amount = equity ×
``risk_pct`` %; quantity = the smallest of risk amount ÷ (fill − stop), ``max_position_pct`` % of equity ÷ fill, and
the free cash ÷ (fill × (1 + taker fee)); times the correlation factor; floored to the lot step. A stop closer than
``min_stop_pct`` % to the fill is not opened.

Entry checks (:func:`check_entry`), first failing check wins, in this order:

1. ``BREAKER_TRIPPED`` — the portfolio breaker does not allow entries;
2. ``PAUSED`` — a person paused trading;
2a. ``DATA_GAP`` — the symbol's closed-candle series has an open gap (its signals would come from held or
    backfilled history; ``../shared/SPEC.md`` §3.2, data-gap guard);
3. ``INVALID_PRICE`` / ``STALE_PRICE`` — the entry price (:func:`validate_price`) or the stop is unusable;
4. ``POSITION_EXISTS`` — one position per symbol;
5. ``MAX_POSITIONS`` — ``max_open_positions`` already open;
6. ``MAX_TRADES_PER_DAY`` — ``max_trades_per_day`` entries already made this UTC day;
7. ``STOP_TOO_TIGHT`` / ``NO_FREE_CASH`` — sizing, with its caps;
8. ``CORRELATION_LIMIT`` — the size is scaled by ``correlation_scale[n]`` for ``n`` open same-direction positions
   (long-only: every open position counts), denied when ``n`` is past the end of the tuple.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from engine.config import Settings
from engine.core.filters import SymbolFilters
from engine.core.models import MINUTE_MS, EntryPlan, Sizing
from engine.core.money import exact
from engine.core.portfolio import DAY_MS

_HUNDRED = Decimal(100)

DEFAULT_MAX_PRICE_AGE_MS = 2 * MINUTE_MS
"""A price older than two 1m candles is stale."""


class ReasonCode(StrEnum):
    """Stable reason codes of :class:`RiskDecision` (stored and shown as-is)."""

    OK = "OK"
    BREAKER_TRIPPED = "BREAKER_TRIPPED"
    PAUSED = "PAUSED"
    DATA_GAP = "DATA_GAP"
    INVALID_PRICE = "INVALID_PRICE"
    STALE_PRICE = "STALE_PRICE"
    POSITION_EXISTS = "POSITION_EXISTS"
    MAX_POSITIONS = "MAX_POSITIONS"
    MAX_TRADES_PER_DAY = "MAX_TRADES_PER_DAY"
    STOP_TOO_TIGHT = "STOP_TOO_TIGHT"
    NO_FREE_CASH = "NO_FREE_CASH"
    CORRELATION_LIMIT = "CORRELATION_LIMIT"


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """``allowed`` with the ``quantity`` to order (base asset), or a denial with ``reason_code`` and ``detail``."""

    allowed: bool
    reason_code: str
    detail: str = ""
    quantity: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class SizingRules:
    """Percentages in percent (2.0 = 2 %), exact (floats given are converted through their repr).

    ``reward_risk``: the target's distance from the fill, in stop distances.
    """

    risk_pct: Decimal = Decimal(2)
    max_position_pct: Decimal = Decimal(20)
    min_stop_pct: Decimal = Decimal("0.5")
    taker_fee_pct: Decimal = Decimal("0.1")
    reward_risk: Decimal = Decimal(2)

    def __post_init__(self) -> None:
        for name in ("risk_pct", "max_position_pct", "min_stop_pct", "taker_fee_pct", "reward_risk"):
            object.__setattr__(self, name, exact(getattr(self, name)))


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Entry limits. ``correlation_scale[n]`` is the size factor of an entry made while ``n`` positions are open
    (1st position 1.0, 2nd 0.7, 3rd 0.5); with ``n`` ≥ its length the entry is denied.
    ``max_price_age_ms``: older prices are stale.

    Raises:
        ValueError: a negative limit, an empty ``correlation_scale`` or a factor outside (0, 1].
    """

    max_open_positions: int = 3
    max_trades_per_day: int = 50
    correlation_scale: tuple[Decimal, ...] = (Decimal("1.0"), Decimal("0.7"), Decimal("0.5"))
    max_price_age_ms: int = DEFAULT_MAX_PRICE_AGE_MS
    sizing: SizingRules = field(default_factory=SizingRules)

    @classmethod
    def from_settings(cls, settings: Settings) -> RiskLimits:
        """The limits of ``[risk]`` with the sizing of ``[trading]`` (validated there: built once, from there)."""
        trading, risk = settings.trading, settings.risk
        return cls(
            max_open_positions=risk.max_open_positions,
            max_trades_per_day=risk.max_trades_per_day,
            correlation_scale=risk.correlation_scale,
            max_price_age_ms=int(risk.max_price_age_s * 1000),
            sizing=SizingRules(
                risk_pct=trading.risk_pct,
                max_position_pct=trading.max_position_pct,
                min_stop_pct=trading.min_stop_pct,
                taker_fee_pct=trading.taker_fee_pct,
                reward_risk=trading.reward_risk,
            ),
        )

    def __post_init__(self) -> None:
        object.__setattr__(self, "correlation_scale", tuple(exact(f) for f in self.correlation_scale))
        if self.max_open_positions < 0 or self.max_trades_per_day < 0 or self.max_price_age_ms < 0:
            raise ValueError("max_open_positions, max_trades_per_day and max_price_age_ms must be >= 0")
        if not self.correlation_scale or not all(0 < f <= 1 for f in self.correlation_scale):
            raise ValueError(f"correlation_scale factors must be in (0, 1], got {self.correlation_scale}")


def parse_price(value: object) -> Decimal | None:
    """A finite, positive price from a ``Decimal``, ``int``, ``float`` or decimal string; ``None`` for anything else
    (≤ 0, NaN, ±inf, unparsable text such as ``"abc"``, ``None``, ``bool``). Never falls back to 0.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        price = value
    elif isinstance(value, int):
        price = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
        price = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            price = Decimal(value.strip())
        except InvalidOperation:
            return None
    else:
        return None
    if not price.is_finite() or price <= 0:
        return None
    return price


def validate_price(value: object, *, now_ms: int, price_time_ms: int, max_age_ms: int = DEFAULT_MAX_PRICE_AGE_MS) -> RiskDecision:
    """Is ``value`` (seen at market time ``price_time_ms``) usable at market time ``now_ms``?

    ``INVALID_PRICE`` when :func:`parse_price` rejects it; ``STALE_PRICE`` when ``now_ms − price_time_ms`` exceeds
    ``max_age_ms`` (a price exactly ``max_age_ms`` old is still fresh; one stamped after ``now_ms`` is fresh);
    else ``OK`` (``quantity`` stays 0: this is not a sizing decision).
    """
    price = parse_price(value)
    if price is None:
        return RiskDecision(False, ReasonCode.INVALID_PRICE, f"price {value!r}")
    age_ms = now_ms - price_time_ms
    if age_ms > max_age_ms:
        return RiskDecision(False, ReasonCode.STALE_PRICE, f"price {price} is {age_ms} ms old > {max_age_ms} ms")
    return RiskDecision(True, ReasonCode.OK, f"price {price}, {age_ms} ms old")


def size_entry(rules: SizingRules, *, equity: Decimal, cash: Decimal, entry_price: Decimal, stop_price: Decimal) -> RiskDecision:
    """Size a long entry at ``entry_price`` with its stop at ``stop_price`` (quote asset per base unit).

    Returns a decision whose ``quantity`` is not yet rounded to the symbol's step (the broker does that).
    Reason codes: ``OK``, ``INVALID_PRICE``, ``STOP_TOO_TIGHT``, ``NO_FREE_CASH``.
    """
    if not entry_price.is_finite() or not stop_price.is_finite() or entry_price <= 0 or stop_price <= 0:
        return RiskDecision(False, ReasonCode.INVALID_PRICE, f"entry {entry_price}, stop {stop_price}")
    stop_distance_pct = (entry_price - stop_price) / entry_price * _HUNDRED
    if stop_distance_pct < rules.min_stop_pct or stop_distance_pct <= 0:
        return RiskDecision(False, ReasonCode.STOP_TOO_TIGHT, f"stop distance {stop_distance_pct:.3f} % < {rules.min_stop_pct} %")
    risk_amount = equity * rules.risk_pct / _HUNDRED
    value = risk_amount / (stop_distance_pct / _HUNDRED)
    value = min(value, equity * rules.max_position_pct / _HUNDRED)
    value = min(value, cash / (1 + rules.taker_fee_pct / _HUNDRED))
    if value <= 0:
        return RiskDecision(False, ReasonCode.NO_FREE_CASH, f"cash {cash}")
    return RiskDecision(True, ReasonCode.OK, f"value {value:.2f}, stop distance {stop_distance_pct:.3f} %", value / entry_price)


def check_entry(
    limits: RiskLimits,
    *,
    symbol: str,
    entry_price: object,
    stop_price: object,
    equity: Decimal,
    cash: Decimal,
    open_positions: Collection[str],
    trades_today: int,
    paused: bool,
    breaker_allows: bool,
    now_ms: int,
    price_time_ms: int,
    data_gap: bool = False,
) -> RiskDecision:
    """All pre-trade checks for a long entry in ``symbol``, in the order of the module docstring.

    Args:
        entry_price: the price the entry is sized at, as received (validated here: see :func:`validate_price`).
        stop_price: the stop-loss price (must parse like a price).
        equity, cash: the account now, quote asset.
        open_positions: symbols with an open position **or a pending entry** (all long, so all same-direction).
        trades_today: entries already made this UTC day (see :class:`DailyTradeCounter`).
        paused, breaker_allows: the manual pause flag and ``PortfolioBreaker.allows_entry()``.
        data_gap: the symbol's closed-candle series has an open gap.
        now_ms, price_time_ms: market time of the decision and of ``entry_price``, Unix ms.

    Returns:
        ``OK`` with the quantity (base asset, scaled for correlation, not yet rounded to the lot step), or the
        first denial.
    """
    if not breaker_allows:
        return RiskDecision(False, ReasonCode.BREAKER_TRIPPED, "the portfolio breaker is tripped")
    if paused:
        return RiskDecision(False, ReasonCode.PAUSED, "trading is paused")
    if data_gap:
        return RiskDecision(False, ReasonCode.DATA_GAP, f"{symbol} has an open gap in its candle series")
    price_check = validate_price(entry_price, now_ms=now_ms, price_time_ms=price_time_ms, max_age_ms=limits.max_price_age_ms)
    if not price_check.allowed:
        return price_check
    entry, stop = parse_price(entry_price), parse_price(stop_price)
    if entry is None or stop is None:
        return RiskDecision(False, ReasonCode.INVALID_PRICE, f"stop {stop_price!r}")
    if symbol in open_positions:
        return RiskDecision(False, ReasonCode.POSITION_EXISTS, f"{symbol} already has a position")
    n_open = len(open_positions)
    if n_open >= limits.max_open_positions:
        return RiskDecision(False, ReasonCode.MAX_POSITIONS, f"{n_open} open >= {limits.max_open_positions}")
    if trades_today >= limits.max_trades_per_day:
        return RiskDecision(False, ReasonCode.MAX_TRADES_PER_DAY, f"{trades_today} entries today >= {limits.max_trades_per_day}")
    sized = size_entry(limits.sizing, equity=equity, cash=cash, entry_price=entry, stop_price=stop)
    if not sized.allowed:
        return sized
    if n_open >= len(limits.correlation_scale):
        detail = f"{n_open} same-direction positions open, scale has {len(limits.correlation_scale)}"
        return RiskDecision(False, ReasonCode.CORRELATION_LIMIT, detail)
    factor = limits.correlation_scale[n_open]
    return RiskDecision(True, ReasonCode.OK, f"{sized.detail}, correlation factor {factor}", sized.quantity * factor)


def plan_entry(rules: SizingRules, *, equity: Decimal, atr: float, stop_atr_multiple: Decimal, factor: Decimal) -> EntryPlan:
    """The plan an entry order carries from its signal to its fill: the risk budget (equity × ``risk_pct`` %), the
    stop distance (``stop_atr_multiple`` × ATR, the float ATR taken through its repr) and the correlation factor."""
    return EntryPlan(
        equity=equity,
        risk_amount=equity * rules.risk_pct / _HUNDRED,
        atr=atr,
        stop_distance=exact(atr) * stop_atr_multiple,
        correlation_factor=factor,
    )


def size_at_fill(
    rules: SizingRules, plan: EntryPlan, filters: SymbolFilters, *, fill_price: Decimal, equity: Decimal, cash: Decimal
) -> Sizing | RiskDecision:
    """Size an entry at its ``fill_price`` (slippage and tick applied), with the account at the fill (``equity``,
    ``cash``, quote asset), as the module docstring says. The stop is rounded down and the target up to the tick, so
    neither is closer than planned.

    Returns:
        The :class:`~engine.core.models.Sizing`, or a denial: ``STOP_TOO_TIGHT`` (the stop would be closer than
        ``min_stop_pct`` % to the fill, or at or below 0) or ``NO_FREE_CASH`` (no quantity fits the caps).
    """
    stop = filters.round_price(fill_price - plan.stop_distance, up=False)
    if stop <= 0:
        return RiskDecision(False, ReasonCode.STOP_TOO_TIGHT, f"stop {stop} at or below 0 (distance {plan.stop_distance})")
    distance = fill_price - stop
    stop_pct = distance / fill_price * _HUNDRED
    if stop_pct < rules.min_stop_pct:
        detail = f"stop {stop} is {stop_pct:.3f} % below the fill {fill_price} < {rules.min_stop_pct} %"
        return RiskDecision(False, ReasonCode.STOP_TOO_TIGHT, detail)
    caps = (
        ("risk", plan.risk_amount / distance),
        ("position_cap", equity * rules.max_position_pct / _HUNDRED / fill_price),
        ("cash", cash / (fill_price * (1 + rules.taker_fee_pct / _HUNDRED))),
    )
    bound, quantity = min(caps, key=lambda cap: cap[1])
    quantity = filters.floor_quantity(quantity * plan.correlation_factor)
    if quantity <= 0:
        return RiskDecision(False, ReasonCode.NO_FREE_CASH, f"no quantity fits at {fill_price} (cash {cash}, bound by {bound})")
    target = filters.round_price(fill_price + distance * rules.reward_risk, up=True)
    return Sizing(quantity, fill_price, stop, target, stop_pct, equity, cash, bound)


class DailyTradeCounter:
    """Entries per UTC day of market time; the count starts again at 00:00 UTC.

    Args:
        day_index, count: a restored state (``day_index`` = ``time_ms // DAY_MS`` of the counted day).
    """

    def __init__(self, *, day_index: int | None = None, count: int = 0) -> None:
        self.day_index = day_index
        self._count = count

    def record(self, time_ms: int) -> int:
        """Count one entry at market time ``time_ms``; returns the count of the latest day. An entry stamped on a
        day before the latest one (out of order) does not change that day's count.
        """
        day = time_ms // DAY_MS
        if self.day_index is None or day > self.day_index:
            self.day_index, self._count = day, 0
        if day == self.day_index:
            self._count += 1
        return self._count

    def count(self, now_ms: int) -> int:
        """Entries counted on the UTC day of ``now_ms`` (0 once that day is past the counted one)."""
        return self._count if self.day_index == now_ms // DAY_MS else 0
