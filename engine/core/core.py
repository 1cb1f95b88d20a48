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
from dataclasses import replace
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
    StopMoved,
)
from engine.core.exits import exit_for
from engine.core.filters import SymbolFilters
from engine.core.indicators import ATR, CandleIndicator
from engine.core.models import Candle, ExitReason, Order, Side, interval_ms
from engine.core.orders import EventLog, OrderDesk
from engine.core.portfolio import DAY_MS, Portfolio, Snapshot
from engine.core.risk import DailyTradeCounter, RiskLimits, check_entry, plan_entry
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
        atr: the ATR of each symbol (default: :class:`~engine.core.indicators.ATR` of ``trading.atr_period``, fed
            every closed candle; a replay passes precomputed ones).
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
        atr: Mapping[str, CandleIndicator] | None = None,
    ) -> None:
        trading, b = settings.trading, settings.breaker
        self.trading = trading
        self.strategy = strategy
        self.portfolio = portfolio
        self.last_candle_ms: dict[str, int] = dict(last_candle_ms or {})
        self.paused = paused
        self.flatten_on_trip = b.flatten_on_trip
        self.risk_limits = RiskLimits.from_settings(settings)
        self.breaker = PortfolioBreaker(BreakerLimits.from_settings(b), state=breaker_state)
        self.trailing_activation = trading.trailing_activation if trading.trailing_stop else None
        self.atr: dict[str, CandleIndicator] = dict(atr) if atr is not None else {s: ATR(trading.atr_period) for s in trading.symbols}
        self.data_gaps: set[str] = set()
        self.market_time_ms: int | None = None
        self.candles_processed = 0
        self._candle_open_ms: int | None = None
        """The open of the candle being processed (what an equity row names); ``None`` for a command."""
        self.dropped_candles = 0
        self.denials = 0
        self._log = EventLog()
        self.desk = OrderDesk(
            portfolio,
            taker_fee_pct=trading.taker_fee_pct,
            slippage_bps=trading.slippage_bps,
            sizing=self.risk_limits.sizing,
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
        self.atr[symbol].on_candle(candle)
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
        self._candle_open_ms = candle.open_time_ms
        self.portfolio.roll_day(candle.open_time_ms)
        self._log.append(CandleClosed(candle, source))
        self.desk.fill_pending(symbol, candle.open, candle.open_time_ms, entries_allowed=self.breaker.allows_entry())
        self._run_exits(candle, candle.open_time_ms)
        if self.trailing_activation is not None and symbol in self.portfolio.positions:
            self._trail(candle)
        self.atr[symbol].on_candle(candle)
        self._mark(symbol, candle.close, candle.close_time_ms, MarkSource.CANDLE)
        signal = self.strategy.on_candle(candle)
        if signal is not None:
            if signal.kind is SignalKind.ENTER_LONG:
                self._enter(candle, signal.reason)
            elif signal.kind is SignalKind.EXIT_LONG:
                self._exit_on_signal(candle, signal.reason)
        self.candles_processed += 1
        self._candle_open_ms = None
        return self._log.take()

    def advance(self, last: Mapping[str, tuple[int, Decimal]], *, candles: int) -> None:
        """Skip ``candles`` closed candles on which nothing can happen, as a replay does between the candles that
        matter (:mod:`engine.replay`). The caller guarantees, for each of them: its symbol has no position and no
        pending order, the strategy does not signal on it, it does not start a new UTC day, and the strategy and
        the ATR do not need to see it (computed beforehand over the whole dataset). Processing them one by one would
        then only mark flat symbols — equity, peak, the breaker and every decision unchanged — and move the clocks;
        this does that at once. Their equity rows (the account as it stands) are the caller's to write.

        Args:
            last: per symbol among them, the open time (Unix ms) and close of its latest one.
            candles: how many there are.

        Raises:
            ValueError: a symbol with a position or a pending order.
        """
        step = interval_ms(self.trading.interval)
        for symbol, (open_ms, close) in last.items():
            if symbol in self.portfolio.positions or symbol in self.desk.pending:
                raise ValueError(f"{symbol} has a position or a pending order: its candles cannot be skipped")
            close_ms = open_ms + step - 1
            self.last_candle_ms[symbol] = open_ms
            self.portfolio.set_mark(symbol, close, close_ms)  # flat: equity, peak and day unchanged
            if self.market_time_ms is None or close_ms > self.market_time_ms:
                self.market_time_ms = close_ms
        self.candles_processed += candles

    def on_price(self, candle: Candle, *, time_ms: int) -> list[CoreEvent]:
        """An in-progress kline of ``candle.symbol`` seen at market time ``time_ms``: fill a pending order at its
        open, run stops and targets on its range so far, mark to its last price, evaluate the breaker. An update of
        a candle already processed (closed) is ignored."""
        symbol = candle.symbol
        if candle.open_time_ms <= self.last_candle_ms.get(symbol, -1):
            return []
        self._candle_open_ms = candle.open_time_ms
        self.portfolio.roll_day(time_ms)
        self.desk.fill_pending(symbol, candle.open, candle.open_time_ms, entries_allowed=self.breaker.allows_entry())
        self._run_exits(candle, time_ms)
        self._mark(symbol, candle.close, time_ms, MarkSource.PRICE)
        self._candle_open_ms = None
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
        self._log.append(Marked(snapshot, symbol, source, self._candle_open_ms, self.portfolio.marks.get(symbol)))
        self._evaluate_breaker(snapshot)

    def _after_fill(self, symbol: str, time_ms: int) -> None:
        """After every fill: the account as it is now (an equity row, source ``fill``: fees and slippage move equity
        too) and the breaker on it."""
        snapshot = self.portfolio.snapshot(time_ms)
        self._log.append(Marked(snapshot, symbol, MarkSource.FILL, self._candle_open_ms, self.portfolio.marks.get(symbol)))
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
            if reason is ExitReason.STOP and position.trail_high is not None:
                reason = ExitReason.TRAILING
            self.desk.sell_now(candle.symbol, price=price, time_ms=time_ms, exit_reason=reason, why=f"{reason.value.lower()} at {price}")

    def _trail(self, candle: Candle) -> None:
        """The trailing stop, after a closed candle's exits: it starts once the high reaches the fill +
        ``trailing_activation`` × the stop distance, then stays the initial distance below the highest high, rounded
        down to the tick, never moving down (a :class:`StopMoved` for every move). Only closed candles move it: an
        in-progress candle's low may have come before its high."""
        symbol = candle.symbol
        position = self.portfolio.positions[symbol]
        distance = position.stop_distance
        if distance is None:
            return
        high, trail_high = candle.high, position.trail_high
        if trail_high is None:
            assert self.trailing_activation is not None
            if high < position.avg_entry + distance * self.trailing_activation:
                return
        elif high <= trail_high:
            return
        filters = self.desk.broker.filters.get(symbol)
        stop = high - distance if filters is None else filters.round_price(high - distance, up=False)
        if position.stop_price is not None and stop < position.stop_price:
            stop = position.stop_price
        moved = replace(position, trail_high=high, stop_price=stop)
        self.portfolio.positions[symbol] = moved
        self._log.append(StopMoved(moved, candle.close_time_ms))

    # ------------------------------------------------------------------ decisions
    def _enter(self, candle: Candle, why: str) -> None:
        """Pre-trade checks (breaker, pause, data gap, price, limits, sizing, correlation), then a pending market buy.
        A denial is an :class:`OrderDenied` with its reason code."""
        symbol = candle.symbol
        atr = self.atr[symbol].value
        if atr is None:
            return
        entry = candle.close
        equity = self.portfolio.equity()
        open_positions = {*self.portfolio.positions, *self.desk.pending_entries()}
        factor = self.risk_limits.correlation_scale[min(len(open_positions), len(self.risk_limits.correlation_scale) - 1)]
        plan = plan_entry(self.risk_limits.sizing, equity=equity, atr=atr, stop_atr_multiple=self.trading.stop_atr_multiple, factor=factor)
        desk = self.desk
        decision = check_entry(
            self.risk_limits,
            symbol=symbol,
            entry_price=entry,
            stop_price=entry - plan.stop_distance,
            equity=equity,
            cash=self.portfolio.cash,
            open_positions=open_positions,
            trades_today=desk.entries_on_day(DAY_MS, candle.close_time_ms),
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
            quantity=Decimal(0),  # sized at the fill
            created_ms=candle.close_time_ms,
            reason=why,
            plan=plan,
        )
        desk.queue(order)

    def _exit_on_signal(self, candle: Candle, why: str) -> None:
        symbol = candle.symbol
        if symbol not in self.portfolio.positions or symbol in self.desk.pending:
            return
        self.desk.queue(self.desk.close_order(symbol, time_ms=candle.close_time_ms, tag="SELL", why=why))
