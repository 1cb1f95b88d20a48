"""The trading core: strategy → pre-trade risk → paper broker → portfolio → breaker and exits, synchronous and
deterministic (``../shared/ARCHITECTURE.md``, TradingCore).

In: closed candles (:meth:`TradingCore.on_candle`, in order per symbol — the feed's sequencer guarantees it),
in-progress prices (:meth:`TradingCore.on_price`), warm-up history (:meth:`TradingCore.warm_up`), the data-gap flag
of a symbol (:meth:`TradingCore.set_data_gap`) and a person's commands (:meth:`TradingCore.apply`). Out: the typed
events of :mod:`engine.core.events`, returned by each call. It reads market time from its inputs only, never a
clock, and never awaits or touches storage or the network: the same calls drive the live engine and a replay.

Per closed candle: the UTC day rolls first (the day baseline is set before the day's first event, whichever symbol
brings it); a pending order fills at the candle's open; stops and targets run on its high/low; indicators update;
the portfolio is marked to the close (an equity row); the breaker is evaluated; then the strategy may signal.
Per in-progress price: the same without the indicators and the strategy — protection never waits for a close.
After every fill the account is marked as it stands (an equity row, source ``fill``) and the breaker evaluated.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal

from engine.commands import Command, CommandKind
from engine.config import Settings
from engine.core.breaker import BreakerLimits, BreakerState, PortfolioBreaker, ResetRefused
from engine.core.events import (
    BreakerChanged,
    CandleClosed,
    CandleDropped,
    CommandApplied,
    CommandResult,
    CoreEvent,
    Marked,
    MarkSource,
    OrderDenied,
)
from engine.core.exits import exit_for
from engine.core.filters import SymbolFilters
from engine.core.indicators import ATR
from engine.core.models import Candle, ExitReason, Order, Side
from engine.core.orders import EventLog, OrderDesk
from engine.core.portfolio import Portfolio, Snapshot
from engine.core.risk import DailyTradeCounter, RiskLimits, SizingRules, check_entry
from engine.core.strategy import SignalKind, Strategy

log = logging.getLogger(__name__)


class TradingCore:
    """One paper account trading ``settings.trading.symbols``. Not thread-safe: owned by the engine thread (or a
    replay); every public method returns the events it produced.

    Args:
        settings: trading, risk and breaker settings (``[trading]``, ``[risk]``, ``[breaker]``).
        strategy: the signal.
        portfolio: the account (restored from the database, or new).
        last_candle_ms: open time of the last processed closed candle per symbol (restored).
        paused: the manual pause flag (restored).
        breaker_state: the persisted breaker state (a trip stays tripped).
        entries_today: entries made on the latest UTC day (restored).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        strategy: Strategy,
        portfolio: Portfolio,
        last_candle_ms: Mapping[str, int] | None = None,
        paused: bool = False,
        breaker_state: BreakerState = BreakerState.ACTIVE,
        entries_today: DailyTradeCounter | None = None,
    ) -> None:
        trading, risk, b = settings.trading, settings.risk, settings.breaker
        self.trading = trading
        self.strategy = strategy
        self.portfolio = portfolio
        self.last_candle_ms: dict[str, int] = dict(last_candle_ms or {})
        self.paused = paused
        self.flatten_on_trip = b.flatten_on_trip
        self.risk_limits = RiskLimits(
            max_open_positions=risk.max_open_positions,
            max_trades_per_day=risk.max_trades_per_day,
            correlation_scale=risk.correlation_scale,
            max_price_age_ms=int(risk.max_price_age_s * 1000),
            sizing=SizingRules(
                risk_pct=trading.risk_pct,
                max_position_pct=trading.max_position_pct,
                min_stop_pct=trading.min_stop_pct,
                taker_fee_pct=trading.taker_fee_pct,
            ),
        )
        self.breaker = PortfolioBreaker(
            BreakerLimits(daily_loss_pct=b.daily_loss_pct, warning_pct=b.warning_pct, drawdown_pct=b.drawdown_pct, enabled=b.enabled),
            state=breaker_state,
        )
        self._reward_risk = Decimal(str(trading.reward_risk))
        self.atr = {s: ATR(trading.atr_period) for s in trading.symbols}
        self.data_gaps: set[str] = set()
        self.market_time_ms: int | None = None
        self.candles_processed = 0
        self.dropped_candles = 0
        self.denials = 0
        self._log = EventLog()
        self.desk = OrderDesk(
            portfolio,
            taker_fee_pct=trading.taker_fee_pct,
            slippage_bps=trading.slippage_bps,
            entries_today=entries_today or DailyTradeCounter(),
            log=self._log,
            on_fill=self._after_fill,
        )

    # ------------------------------------------------------------------ inputs
    def set_filters(self, filters: Mapping[str, SymbolFilters]) -> None:
        """Install the venue's trading rules (from exchangeInfo); entries need them."""
        self.desk.set_filters(filters)

    def warm_up(self, candle: Candle, *, record: bool = True) -> list[CoreEvent]:
        """Feed a historical closed candle to the indicators, the strategy (its signal is ignored) and the mark,
        without trading. With ``record``, a candle newer than the last processed one becomes the last processed one
        and a :class:`CandleClosed` (source ``bootstrap``); without, it only warms the indicators (history restored
        from the database)."""
        symbol = candle.symbol
        self.atr[symbol].update(float(candle.high), float(candle.low), float(candle.close))
        self.strategy.on_candle(candle)
        if record and candle.open_time_ms > self.last_candle_ms.get(symbol, -1):
            self.last_candle_ms[symbol] = candle.open_time_ms
            self._log.append(CandleClosed(candle, "bootstrap"))
        self.portfolio.mark(symbol, candle.close, candle.close_time_ms)
        return self._log.take()

    def on_candle(self, candle: Candle, *, source: str = "stream") -> list[CoreEvent]:
        """Process one closed candle (see the module docstring). A candle not newer than the last processed one of
        its symbol is dropped (:class:`CandleDropped`)."""
        symbol = candle.symbol
        last_ms = self.last_candle_ms.get(symbol, -1)
        if candle.open_time_ms <= last_ms:
            self.dropped_candles += 1
            self._log.append(CandleDropped(candle, last_ms))
            return self._log.take()
        self.last_candle_ms[symbol] = candle.open_time_ms
        self.portfolio.roll_day(candle.open_time_ms)
        self._log.append(CandleClosed(candle, source))
        self.desk.fill_pending(symbol, candle.open, candle.open_time_ms, entries_allowed=self.breaker.allows_entry())
        self._run_exits(candle, candle.open_time_ms)
        self.atr[symbol].update(float(candle.high), float(candle.low), float(candle.close))
        self._mark(symbol, candle.close, candle.close_time_ms, MarkSource.CANDLE)
        signal = self.strategy.on_candle(candle)
        if signal is not None:
            if signal.kind is SignalKind.ENTER_LONG:
                self._enter(candle, signal.reason)
            elif signal.kind is SignalKind.EXIT_LONG:
                self._exit_on_signal(candle, signal.reason)
        self.candles_processed += 1
        return self._log.take()

    def on_price(self, candle: Candle, *, time_ms: int) -> list[CoreEvent]:
        """An in-progress kline of ``candle.symbol`` seen at market time ``time_ms``: fill a pending order at its
        open, run stops and targets on its range so far, mark to its last price, evaluate the breaker. An update of
        a candle already processed (closed) is ignored."""
        symbol = candle.symbol
        if candle.open_time_ms <= self.last_candle_ms.get(symbol, -1):
            return []
        self.portfolio.roll_day(time_ms)
        self.desk.fill_pending(symbol, candle.open, candle.open_time_ms, entries_allowed=self.breaker.allows_entry())
        self._run_exits(candle, time_ms)
        self._mark(symbol, candle.close, time_ms, MarkSource.PRICE)
        return self._log.take()

    def set_data_gap(self, symbol: str, *, open_: bool, detail: str = "") -> list[CoreEvent]:
        """The data-gap guard: while ``symbol`` has an open gap its entries are denied (``DATA_GAP``); opening one
        cancels its pending entry."""
        if open_:
            self.data_gaps.add(symbol)
            self.desk.cancel_entries(f"data gap: {detail}".rstrip(": "), time_ms=self.market_time_ms or 0, symbol=symbol)
        else:
            self.data_gaps.discard(symbol)
        return self._log.take()

    def apply(self, command: Command) -> list[CoreEvent]:
        """Apply a person's PAUSE, RESUME, RESET_BREAKER or FLATTEN; the last event is its :class:`CommandApplied`.

        Raises:
            ValueError: a venue command (those are applied by the Runtime).
        """
        handlers = {
            CommandKind.PAUSE: self._pause,
            CommandKind.RESUME: self._resume,
            CommandKind.RESET_BREAKER: self._reset_breaker,
            CommandKind.FLATTEN: self._flatten_command,
        }
        handler = handlers.get(command.kind)
        if handler is None:
            raise ValueError(f"{command.kind} is not a trading command")
        result, detail = handler(command)
        log.info("command %s by %s: %s (%s)", command.kind.value, command.actor, result, detail)
        self._log.append(CommandApplied(command, result, detail))
        return self._log.take()

    def flatten(self, why: str) -> int:
        """Cancel pending entries and sell every open position now at its mark; returns how many were closed."""
        time_ms = self.market_time_ms or 0
        self.desk.cancel_entries(why, time_ms=time_ms)
        closed = 0
        for symbol, position in list(self.portfolio.positions.items()):
            mark = self.portfolio.marks.get(symbol, position.avg_entry)
            if self.desk.sell_now(symbol, price=mark, time_ms=time_ms, exit_reason=ExitReason.FLATTEN, why=why):
                closed += 1
        return closed

    # ------------------------------------------------------------------ commands
    def _pause(self, command: Command) -> tuple[CommandResult, str]:
        if self.paused:
            return CommandResult.IGNORED, "already paused"
        self.paused = True
        cancelled = self.desk.cancel_entries("paused by " + command.actor, time_ms=self.market_time_ms or 0)
        return CommandResult.OK, f"entries stopped; {cancelled} pending entry cancelled" if cancelled else "entries stopped"

    def _resume(self, command: Command) -> tuple[CommandResult, str]:
        if not self.paused:
            return CommandResult.IGNORED, "already running"
        self.paused = False
        return CommandResult.OK, "entries allowed"

    def _reset_breaker(self, command: Command) -> tuple[CommandResult, str]:
        """Re-arm a TRIPPED breaker: the event records the loss being overridden, then the day baseline and the peak
        are re-based to current equity (``../shared/SPEC.md`` §3.1)."""
        time_ms = self.market_time_ms or 0
        try:
            event = self.breaker.reset(actor=command.actor, reason=command.reason, snapshot=self.portfolio.snapshot(time_ms))
        except ResetRefused as exc:
            return CommandResult.REFUSED, str(exc)
        snapshot = self.portfolio.rebase(time_ms)
        self._log.append(BreakerChanged(event))
        self._log.append(Marked(snapshot, None, MarkSource.RESET))
        return CommandResult.OK, f"breaker re-armed at equity {snapshot.equity:.2f}"

    def _flatten_command(self, command: Command) -> tuple[CommandResult, str]:
        if not self.portfolio.positions:
            return CommandResult.IGNORED, "no open positions"
        closed = self.flatten(f"flatten by {command.actor}")
        return CommandResult.OK, f"{closed} position(s) closed at the mark"

    # ------------------------------------------------------------------ protection
    def _mark(self, symbol: str, price: Decimal, time_ms: int, source: MarkSource) -> None:
        snapshot = self.portfolio.mark(symbol, price, time_ms)
        if self.market_time_ms is None or time_ms > self.market_time_ms:
            self.market_time_ms = time_ms
        self._log.append(Marked(snapshot, symbol, source))
        self._evaluate_breaker(snapshot)

    def _after_fill(self, symbol: str, time_ms: int) -> None:
        """After every fill: the account as it is now (an equity row, source ``fill``: fees and slippage move equity
        too) and the breaker on it."""
        snapshot = self.portfolio.snapshot(time_ms)
        self._log.append(Marked(snapshot, symbol, MarkSource.FILL))
        self._evaluate_breaker(snapshot)

    def _evaluate_breaker(self, snapshot: Snapshot) -> None:
        event = self.breaker.evaluate(snapshot)
        if event is None:
            return
        self._log.append(BreakerChanged(event))
        log.warning(
            "breaker %s -> %s: %s (equity %.2f, daily loss %.2f %%, drawdown %.2f %%)",
            event.state_from, event.state_to, event.reason, event.equity, event.daily_loss_pct, event.drawdown_pct,
        )
        if event.state_to is BreakerState.TRIPPED:
            self.desk.cancel_entries("breaker tripped", time_ms=snapshot.time_ms)
            if self.flatten_on_trip:
                self.flatten("breaker tripped: flatten_on_trip")

    def _run_exits(self, candle: Candle, time_ms: int) -> None:
        position = self.portfolio.positions.get(candle.symbol)
        if position is None:
            return
        hit = exit_for(position, candle)
        if hit is not None:
            reason, price = hit
            self.desk.sell_now(candle.symbol, price=price, time_ms=time_ms, exit_reason=reason, why=f"{reason.value.lower()} at {price}")

    # ------------------------------------------------------------------ decisions
    def _enter(self, candle: Candle, why: str) -> None:
        """Pre-trade checks (breaker, pause, data gap, price, limits, sizing, correlation), then a pending market buy.
        A denial is an :class:`OrderDenied` with its reason code."""
        symbol = candle.symbol
        atr = self.atr[symbol].value
        if atr is None:
            return
        entry = candle.close
        stop = entry - Decimal(str(atr * self.trading.stop_atr_multiple))
        desk = self.desk
        decision = check_entry(
            self.risk_limits,
            symbol=symbol,
            entry_price=entry,
            stop_price=stop,
            equity=self.portfolio.equity(),
            cash=self.portfolio.cash,
            open_positions={*self.portfolio.positions, *desk.pending_entries()},
            trades_today=desk.entries_today.count(candle.close_time_ms),
            paused=self.paused,
            breaker_allows=self.breaker.allows_entry(),
            now_ms=candle.close_time_ms,
            price_time_ms=candle.close_time_ms,
            data_gap=symbol in self.data_gaps,
        )
        if not decision.allowed:
            self.denials += 1
            self._log.append(OrderDenied(symbol, decision, candle.close_time_ms))
            return
        if symbol in desk.pending:
            return
        order = Order(
            order_id=f"{symbol}-{candle.close_time_ms}-BUY",
            symbol=symbol,
            side=Side.BUY,
            quantity=decision.quantity,
            created_ms=candle.close_time_ms,
            reason=why,
            stop_price=stop,
            target_price=entry + (entry - stop) * self._reward_risk,
        )
        desk.queue(order)

    def _exit_on_signal(self, candle: Candle, why: str) -> None:
        symbol = candle.symbol
        if symbol not in self.portfolio.positions or symbol in self.desk.pending:
            return
        self.desk.queue(self.desk.close_order(symbol, time_ms=candle.close_time_ms, tag="SELL", why=why))
