"""The paper account: cash, long positions, realised/unrealised P&L, equity, peak, drawdown, daily baseline.

Accounting (all :class:`~decimal.Decimal`, quote asset, exact):

* a buy of ``q`` at ``p`` with fee ``f``: cash −= q·p + f; the position's cost basis += q·p + f;
* a sell of ``q`` at ``p`` with fee ``f`` out of a position of ``Q`` with cost basis ``C``:
  cash += q·p − f; realised P&L += q·p − f − C·q/Q; cost basis −= C·q/Q;
* unrealised P&L = Σ (quantity × mark − cost basis); so **equity = cash + Σ quantity × mark
  = starting balance + realised + unrealised** at every instant.

Peak equity, drawdown and the UTC-day baseline follow market time (the ``time_ms`` passed to :meth:`mark`).
Spot, long-only: fees are charged in the quote asset on both sides (a simplification of Binance, which
charges a buy's fee in the base asset unless paid in BNB).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from engine.core.models import ExitReason, Fill, Side, Trade

DAY_MS = 86_400_000
ZERO = Decimal(0)
CENT = Decimal("0.00000001")


@dataclass(frozen=True, slots=True)
class Position:
    """An open long position. ``avg_entry`` excludes fees; ``cost_basis`` includes entry fees.

    ``stop_distance`` is the initial distance of the stop below the fill (price units); ``trail_high`` is the highest
    high since the trailing stop started (``None`` before: the stop has not trailed).
    """

    symbol: str
    quantity: Decimal
    avg_entry: Decimal
    cost_basis: Decimal
    entry_time_ms: int
    entry_fees: Decimal
    stop_price: Decimal | None = None
    target_price: Decimal | None = None
    stop_distance: Decimal | None = None
    trail_high: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The account at one mark, in the quote asset; percentages in percent."""

    time_ms: int
    equity: Decimal
    cash: Decimal
    positions_value: Decimal
    realised_pnl: Decimal
    unrealised_pnl: Decimal
    peak_equity: Decimal
    drawdown_pct: float
    day_start_equity: Decimal
    daily_pnl_pct: float


class InsufficientFunds(ValueError):
    """A fill would make cash negative or sell more than is held (a bug upstream: the broker sizes orders)."""


class Portfolio:
    """Cash and positions of one paper account. Not thread-safe: owned by the engine thread."""

    def __init__(self, starting_balance: Decimal) -> None:
        self.starting_balance = starting_balance
        self.cash = starting_balance
        self.positions: dict[str, Position] = {}
        self.marks: dict[str, Decimal] = {}
        self.mark_times: dict[str, int] = {}
        """Market time (Unix ms) of each symbol's mark: a mark never moves back in time."""
        self.realised_pnl = ZERO
        self.peak_equity = starting_balance
        self.day_start_equity = starting_balance
        self.day_index: int | None = None
        self._percent_memo: tuple[Decimal, Decimal, Decimal, float, float] | None = None
        """(equity, peak, day start, drawdown %, daily P&L %) of the last snapshot: the percentages depend only
        on the three values, so a snapshot with equal values reuses them instead of dividing again."""

    # ------------------------------------------------------------------ valuation
    def positions_value(self) -> Decimal:
        """Σ quantity × mark over open positions (a position without a mark is valued at its average entry)."""
        if not self.positions:
            return ZERO
        return sum((p.quantity * self.marks.get(s, p.avg_entry) for s, p in self.positions.items()), ZERO)

    def equity(self) -> Decimal:
        """cash + Σ quantity × mark."""
        return self.cash + self.positions_value()

    def unrealised_pnl(self) -> Decimal:
        return self.positions_value() - sum((p.cost_basis for p in self.positions.values()), ZERO)

    def roll_day(self, time_ms: int) -> None:
        """Start a new UTC day (market time) if ``time_ms`` is on a later day than the current one: the day baseline
        becomes the equity now, before the day's first event is applied (the core calls this first, for every event
        of any symbol). Earlier times never roll back."""
        day = time_ms // DAY_MS
        if self.day_index is None or day > self.day_index:
            self.day_start_equity = self.equity()
            self.day_index = day

    def mark(self, symbol: str, price: Decimal, time_ms: int) -> Snapshot:
        """Record ``price`` as the mark of ``symbol`` at market time ``time_ms``; roll the UTC day; update the peak.

        A price older than the symbol's current mark (a backfilled candle processed after newer in-progress prices)
        does not replace it: the snapshot then values the position at the newer mark.
        """
        self.roll_day(time_ms)
        self.set_mark(symbol, price, time_ms)
        positions_value = self.positions_value()
        equity = self.cash + positions_value
        if equity > self.peak_equity:
            self.peak_equity = equity
        return self._snapshot(time_ms, positions_value)

    def set_mark(self, symbol: str, price: Decimal, time_ms: int) -> None:
        """Only record ``price`` as ``symbol``'s mark at ``time_ms`` (unless older than its mark): no day roll, no
        peak, no snapshot — what :meth:`mark` does first, alone for a symbol whose mark cannot move the account."""
        if time_ms >= self.mark_times.get(symbol, time_ms):
            self.marks[symbol] = price
            self.mark_times[symbol] = time_ms

    def rebase(self, time_ms: int) -> Snapshot:
        """Set the day-start equity and the peak to the current equity at market time ``time_ms`` (a breaker reset,
        ``../shared/SPEC.md`` §3.1): daily loss and drawdown restart from 0 %. The UTC day of ``time_ms`` counts as
        started, so a later mark on that day keeps the new baseline. Returns the snapshot after re-basing.
        """
        equity = self.equity()
        self.day_start_equity = equity
        self.peak_equity = equity
        day = time_ms // DAY_MS
        if self.day_index is None or day > self.day_index:
            self.day_index = day
        return self.snapshot(time_ms)

    def snapshot(self, time_ms: int) -> Snapshot:
        return self._snapshot(time_ms, self.positions_value())

    def _snapshot(self, time_ms: int, positions_value: Decimal) -> Snapshot:
        """The snapshot given :meth:`positions_value`, computed once by the caller (not again per figure)."""
        positions = self.positions
        # flat: the account's own objects (cash, ZERO), unchanged from one snapshot to the next, so the recording
        # sink recognises them without comparing values
        equity = self.cash + positions_value if positions else self.cash
        peak, day_start = self.peak_equity, self.day_start_equity
        memo = self._percent_memo
        if memo is not None and memo[0] == equity and memo[1] == peak and memo[2] == day_start:
            # same values as the last snapshot (e.g. no position open): the same percentages
            drawdown_pct, daily_pnl_pct = memo[3], memo[4]
        else:
            drawdown = (peak - equity) / peak * 100 if peak > 0 else ZERO
            daily = (equity - day_start) / day_start * 100 if day_start > 0 else ZERO
            drawdown_pct, daily_pnl_pct = float(max(drawdown, ZERO)), float(daily)
            self._percent_memo = (equity, peak, day_start, drawdown_pct, daily_pnl_pct)
        return Snapshot(  # positional (the field order): measurably cheaper than keywords, once per candle
            time_ms,
            equity,
            self.cash,
            positions_value,
            self.realised_pnl,
            positions_value - sum((p.cost_basis for p in positions.values()), ZERO) if positions else ZERO,
            peak,
            drawdown_pct,
            day_start,
            daily_pnl_pct,
        )

    # ------------------------------------------------------------------ fills
    def apply_fill(
        self,
        fill: Fill,
        *,
        stop_price: Decimal | None = None,
        target_price: Decimal | None = None,
        exit_reason: ExitReason = ExitReason.SIGNAL,
    ) -> Trade | None:
        """Book a fill. A buy opens or adds to the position (``stop_price``/``target_price`` set its exits);
        a sell reduces it and returns the :class:`Trade` closed by it (for the quantity sold, also when part of
        the position stays open). The peak rises if the account is now worth more than it (an exit at an open above
        the last mark).

        Raises:
            InsufficientFunds: a buy costs more than the cash, or a sell exceeds the position.
        """
        trade = None
        if fill.side is Side.BUY:
            self._buy(fill, stop_price, target_price)
        else:
            trade = self._sell(fill, exit_reason)
        equity = self.equity()
        if equity > self.peak_equity:
            self.peak_equity = equity
        return trade

    def _buy(self, fill: Fill, stop_price: Decimal | None, target_price: Decimal | None) -> None:
        cost = fill.quote_qty + fill.fee
        if cost > self.cash:
            raise InsufficientFunds(f"buy of {fill.quote_qty} + fee {fill.fee} exceeds cash {self.cash}")
        self.cash -= cost
        old = self.positions.get(fill.symbol)
        if old is None:
            self.positions[fill.symbol] = Position(
                symbol=fill.symbol,
                quantity=fill.quantity,
                avg_entry=fill.price,
                cost_basis=cost,
                entry_time_ms=fill.time_ms,
                entry_fees=fill.fee,
                stop_price=stop_price,
                target_price=target_price,
                stop_distance=None if stop_price is None else fill.price - stop_price,
            )
        else:
            quantity = old.quantity + fill.quantity
            self.positions[fill.symbol] = replace(
                old,
                quantity=quantity,
                avg_entry=(old.avg_entry * old.quantity + fill.quote_qty) / quantity,
                cost_basis=old.cost_basis + cost,
                entry_fees=old.entry_fees + fill.fee,
                stop_price=stop_price if stop_price is not None else old.stop_price,
                target_price=target_price if target_price is not None else old.target_price,
            )
        self.marks.setdefault(fill.symbol, fill.price)

    def _sell(self, fill: Fill, exit_reason: ExitReason) -> Trade | None:
        pos = self.positions.get(fill.symbol)
        if pos is None or fill.quantity > pos.quantity:
            held = pos.quantity if pos else ZERO
            raise InsufficientFunds(f"sell of {fill.quantity} {fill.symbol} exceeds position {held}")
        share = fill.quantity / pos.quantity
        basis_sold = pos.cost_basis if fill.quantity == pos.quantity else (pos.cost_basis * share).quantize(CENT)
        entry_fees_sold = pos.entry_fees if fill.quantity == pos.quantity else (pos.entry_fees * share).quantize(CENT)
        proceeds = fill.quote_qty - fill.fee
        pnl = proceeds - basis_sold
        self.cash += proceeds
        self.realised_pnl += pnl
        remaining = pos.quantity - fill.quantity
        if remaining > 0:
            self.positions[fill.symbol] = replace(
                pos, quantity=remaining, cost_basis=pos.cost_basis - basis_sold, entry_fees=pos.entry_fees - entry_fees_sold
            )
        else:
            del self.positions[fill.symbol]
        return Trade(
            trade_id=fill.fill_id,
            symbol=fill.symbol,
            entry_time_ms=pos.entry_time_ms,
            exit_time_ms=fill.time_ms,
            quantity=fill.quantity,
            entry_price=pos.avg_entry,
            exit_price=fill.price,
            fees=entry_fees_sold + fill.fee,
            pnl=pnl,
            pnl_pct=float(pnl / basis_sold * 100) if basis_sold else 0.0,
            exit_reason=exit_reason,
        )
