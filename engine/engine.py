"""The engine loop: market data → strategy → sizing → paper broker → portfolio → recorder.

Two layers:

* :class:`Engine`'s synchronous core (:meth:`Engine.warm_up`, :meth:`Engine.on_candle`, :meth:`Engine.on_price`,
  :meth:`Engine.apply_command`) holds every trading decision. It reads **market time** from candles only, so a
  replay at any speed behaves the same, and it never awaits: the same calls drive a fast replay.
* :meth:`Engine.run`, the asyncio shell on the engine thread: bootstraps history over REST, consumes the kline
  stream, backfills holes over REST, applies commands from the thread-safe inbox between events.

Order flow. A signal on the close of candle *N* creates a pending market order; it fills at the first price seen
after it — the open of candle *N+1* (from its first in-progress update, or from the closed candle in a replay).
Stops and targets are evaluated on every closed candle with its high/low; a candle that touches both hits the
stop first (``../shared/SPEC.md`` §2). Each fill is flushed to DuckDB before the next event is processed.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

from engine import records
from engine.alerts import (
    Alert,
    AlertSink,
    DisconnectWatch,
    alert_for_ban,
    alert_for_disconnect,
    alert_from_breaker_event,
)
from engine.binance_rest import KLINES_MAX_LIMIT, BinanceRestClient
from engine.binance_stream import (
    BadMessage,
    Connected,
    Disconnected,
    KlineEvent,
    KlineStream,
    Reply,
    StreamEvent,
)
from engine.breaker import BreakerLimits, BreakerState, PortfolioBreaker, ResetRefused
from engine.broker import PaperBroker, Rejection
from engine.commands import Command, CommandKind
from engine.config import Settings
from engine.errors import ExchangeError, PapertraderError
from engine.filters import SymbolFilters, parse_exchange_info
from engine.guards.retry import RetryAttempt
from engine.indicators import ATR
from engine.models import MINUTE_MS, Candle, ExitReason, Fill, Order, Side
from engine.portfolio import Portfolio, Snapshot
from engine.risk import DailyTradeCounter, RiskLimits, SizingRules, check_entry
from engine.status import EngineState, EngineStatus
from engine.strategy import SignalKind, Strategy

log = logging.getLogger(__name__)

INBOX_SIZE = 1000
COMMAND_POLL_S = 0.05
TELEMETRY_INTERVAL_S = 1.0


class RecorderLike:
    """What the engine needs from ``storage.recorder.Recorder``."""

    def record(self, table: str, row: dict) -> None: ...  # pragma: no cover - protocol
    def flush(self) -> int: ...  # pragma: no cover - protocol


@dataclass(frozen=True, slots=True)
class PendingOrder:
    order: Order
    exit_reason: ExitReason = ExitReason.SIGNAL


class Engine:
    """One paper account trading ``settings.trading.symbols``.

    Not thread-safe: every method runs on the engine thread, except :meth:`submit` (any thread) and reading
    :attr:`status` (a frozen snapshot replaced as a whole).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        recorder: RecorderLike,
        strategy: Strategy,
        portfolio: Portfolio,
        last_candle_ms: dict[str, int] | None = None,
        paused: bool = False,
        breaker_state: BreakerState = BreakerState.ACTIVE,
        entries_today: DailyTradeCounter | None = None,
        alerts: AlertSink | None = None,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.trading = settings.trading
        self.recorder = recorder
        self.strategy = strategy
        self.portfolio = portfolio
        self.last_candle_ms: dict[str, int] = dict(last_candle_ms or {})
        self.paused = paused
        self.broker: PaperBroker | None = None
        self.pending: dict[str, PendingOrder] = {}
        self.atr = {s: ATR(self.trading.atr_period) for s in self.trading.symbols}
        self.risk_limits = RiskLimits(
            max_open_positions=settings.risk.max_open_positions,
            max_trades_per_day=settings.risk.max_trades_per_day,
            correlation_scale=settings.risk.correlation_scale,
            max_price_age_ms=int(settings.risk.max_price_age_s * 1000),
            sizing=SizingRules(
                risk_pct=self.trading.risk_pct,
                max_position_pct=self.trading.max_position_pct,
                min_stop_pct=self.trading.min_stop_pct,
                taker_fee_pct=self.trading.taker_fee_pct,
            ),
        )
        b = settings.breaker
        self.breaker = PortfolioBreaker(
            BreakerLimits(
                daily_loss_pct=b.daily_loss_pct, warning_pct=b.warning_pct, drawdown_pct=b.drawdown_pct, enabled=b.enabled
            )
        )
        self.breaker.restore(breaker_state)
        self.entries_today = entries_today or DailyTradeCounter()
        self.market_time_ms: int | None = None
        self.alerts = alerts
        self.venue_control: Callable[[Command], str] | None = None
        self._stream_watch = DisconnectWatch(after_s=settings.alerts.disconnect_alert_after_s, clock=monotonic)
        self._bans_seen = 0
        self.inbox: queue.Queue[Command] = queue.Queue(maxsize=INBOX_SIZE)
        self._wall_clock = wall_clock
        self._monotonic = monotonic
        self._last_message_at: float | None = None
        self.candles_processed = 0
        self.dropped_candles = 0
        self.bad_messages = 0
        self.denials = 0
        self.backfilled_candles = 0
        self.status = EngineStatus(state=EngineState.STARTING, venue=settings.venue.name, breaker_state=str(self.breaker.state))

    # ================================================================== synchronous core
    def set_filters(self, filters: dict[str, SymbolFilters]) -> None:
        """Install the venue's trading rules (from exchangeInfo); required before any order."""
        self.broker = PaperBroker(filters, taker_fee_pct=self.trading.taker_fee_pct, slippage_bps=self.trading.slippage_bps)

    def warm_up(self, candle: Candle) -> None:
        """Feed a historical closed candle to the indicators and the mark, without trading.

        Candles newer than the last stored one are recorded (source ``bootstrap``).
        """
        self.atr[candle.symbol].update(float(candle.high), float(candle.low), float(candle.close))
        self.strategy.on_candle(candle)
        if candle.open_time_ms > self.last_candle_ms.get(candle.symbol, -1):
            self.last_candle_ms[candle.symbol] = candle.open_time_ms
            self.recorder.record("candles", records.candle_row(candle, interval=self.trading.interval, source="bootstrap"))
        self.portfolio.mark(candle.symbol, candle.close, candle.close_time_ms)

    def on_candle(self, candle: Candle, *, source: str = "stream") -> bool:
        """Process one closed candle: fill a pending order at its open, run stops/targets on its high/low,
        mark to its close, record the equity snapshot, ask the strategy.

        Returns ``False`` (and counts it) for a duplicate or out-of-order candle, which is dropped.
        """
        symbol = candle.symbol
        if candle.open_time_ms <= self.last_candle_ms.get(symbol, -1):
            self.dropped_candles += 1
            return False
        self.last_candle_ms[symbol] = candle.open_time_ms
        recorder = self.recorder
        row = records.candle_row(candle, interval=self.trading.interval, source=source)
        recorder.record("candles", row)
        self.on_price(symbol, candle.open, candle.open_time_ms)
        self._check_exits(candle)
        # the row's floats are float(candle.high) etc.: converted once, for the row and the ATR
        self.atr[symbol].update(row["high"], row["low"], row["close"])
        snapshot = self.portfolio.mark(symbol, candle.close, candle.close_time_ms)
        self.market_time_ms = max(self.market_time_ms or 0, candle.close_time_ms)
        recorder.record("equity", records.equity_row(snapshot))
        self._evaluate_breaker(snapshot)
        signal = self.strategy.on_candle(candle)
        if signal is not None:
            if signal.kind is SignalKind.ENTER_LONG:
                self._enter(candle, signal.reason)
            elif signal.kind is SignalKind.EXIT_LONG:
                self._exit_on_signal(candle, signal.reason)
        self.candles_processed += 1
        return True

    def on_price(self, symbol: str, price: Decimal, time_ms: int) -> None:
        """A new price for ``symbol`` at market time ``time_ms``: fill the pending order created before it."""
        pending = self.pending.get(symbol)
        if pending is None or time_ms <= pending.order.created_ms:
            return
        del self.pending[symbol]
        if pending.order.side is Side.BUY and not self.breaker.allows_entry():
            self.recorder.record(
                "orders", records.order_row(pending.order, status="CANCELLED", reason="breaker tripped", time_ms=time_ms)
            )
            return
        self._execute(pending.order, reference_price=price, time_ms=time_ms, exit_reason=pending.exit_reason)

    def apply_command(self, command: Command) -> str:
        """Apply a person's command and audit it (one ``commands`` row, flushed at once). Returns the result:
        ``OK``, ``IGNORED`` (nothing to do) or ``REFUSED`` (with the reason in the audit row's detail)."""
        handler = {
            CommandKind.PAUSE: self._pause,
            CommandKind.RESUME: self._resume,
            CommandKind.RESET_BREAKER: self._reset_breaker,
            CommandKind.FLATTEN: self._flatten_command,
            CommandKind.SET_FAULTS: self._venue_command,
            CommandKind.RESET_FAULTS: self._venue_command,
            CommandKind.PRICE_SHOCK: self._venue_command,
        }[command.kind]
        result, detail = handler(command)
        self.recorder.record(
            "commands",
            {
                "ts": datetime.fromtimestamp(self._wall_clock(), tz=UTC),
                "command": command.kind.value,
                "actor": command.actor,
                "reason": command.reason,
                "result": result,
                "detail": detail,
            },
        )
        self.recorder.flush()
        log.info("command %s by %s: %s (%s)", command.kind.value, command.actor, result, detail)
        self._publish()
        return result

    def _pause(self, command: Command) -> tuple[str, str]:
        if self.paused:
            return "IGNORED", "already paused"
        self.paused = True
        cancelled = self._cancel_pending_entries("paused by " + command.actor)
        return "OK", f"entries stopped; {cancelled} pending entry cancelled" if cancelled else "entries stopped"

    def _resume(self, command: Command) -> tuple[str, str]:
        if not self.paused:
            return "IGNORED", "already running"
        self.paused = False
        return "OK", "entries allowed"

    def _reset_breaker(self, command: Command) -> tuple[str, str]:
        """Re-arm a TRIPPED breaker: the event records the loss being overridden, then the day baseline and the
        peak are re-based to current equity (``../shared/SPEC.md`` §3.1)."""
        time_ms = self.market_time_ms or 0
        try:
            event = self.breaker.reset(actor=command.actor, reason=command.reason, snapshot=self.portfolio.snapshot(time_ms))
        except ResetRefused as exc:
            return "REFUSED", str(exc)
        snapshot = self.portfolio.rebase(time_ms)
        self.recorder.record("breaker_events", records.breaker_event_row(event))
        self._alert(alert_from_breaker_event(event))
        self.recorder.record("equity", records.equity_row(snapshot))
        return "OK", f"breaker re-armed at equity {snapshot.equity:.2f}"

    def _venue_command(self, command: Command) -> tuple[str, str]:
        """Fault switches and price shocks of the simulated venue, applied through ``venue_control`` (installed by
        the Runtime with venue ``sim``) so that they are audited like every other command."""
        if self.venue_control is None:
            return "REFUSED", "the venue is not the simulator"
        try:
            return "OK", self.venue_control(command)
        except ValueError as exc:
            return "REFUSED", " ".join(str(exc).split())

    def _flatten_command(self, command: Command) -> tuple[str, str]:
        if not self.portfolio.positions:
            return "IGNORED", "no open positions"
        closed = self.flatten(f"flatten by {command.actor}")
        return "OK", f"{closed} position(s) closed at the mark"

    def flatten(self, why: str) -> int:
        """Cancel pending entries and sell every open position now, at its mark (slippage and fee apply).
        Returns how many positions were closed."""
        self._cancel_pending_entries(why)
        time_ms = self.market_time_ms or 0
        closed = 0
        for symbol, position in list(self.portfolio.positions.items()):
            mark = self.portfolio.marks.get(symbol, position.avg_entry)
            if self._sell_now(symbol, price=mark, time_ms=time_ms, exit_reason=ExitReason.FLATTEN, why=why):
                closed += 1
        return closed

    def _alert(self, alert: Alert | None) -> None:
        """Hand an alert to the webhook sink (never blocks; no sink in a replay or a unit test)."""
        if alert is not None and self.alerts is not None:
            self.alerts.notify(alert)

    def _evaluate_breaker(self, snapshot: Snapshot) -> None:
        """The breaker on every mark: a transition is stored (and flushed) before the engine acts on it."""
        event = self.breaker.evaluate(snapshot)
        if event is None:
            return
        self.recorder.record("breaker_events", records.breaker_event_row(event))
        self.recorder.flush()
        log.warning(
            "breaker %s -> %s: %s (equity %.2f, daily loss %.2f %%, drawdown %.2f %%)",
            event.state_from, event.state_to, event.reason, event.equity, event.daily_loss_pct, event.drawdown_pct,
        )
        self._alert(alert_from_breaker_event(event))
        if event.state_to is BreakerState.TRIPPED:
            self._cancel_pending_entries("breaker tripped")
            if self.settings.breaker.flatten_on_trip:
                self.flatten("breaker tripped: flatten_on_trip")
        self._publish()

    # ------------------------------------------------------------------ decisions
    def _enter(self, candle: Candle, why: str) -> None:
        """Pre-trade checks (breaker, pause, price, limits, sizing, correlation), then a pending market buy.
        A denial is stored in ``risk_denials`` with its reason code."""
        symbol = candle.symbol
        atr = self.atr[symbol].value
        if atr is None:
            return
        entry = candle.close
        stop = entry - Decimal(str(atr * self.trading.stop_atr_multiple))
        decision = check_entry(
            self.risk_limits,
            symbol=symbol,
            entry_price=entry,
            stop_price=stop,
            equity=self.portfolio.equity(),
            cash=self.portfolio.cash,
            open_positions={*self.portfolio.positions, *(s for s, p in self.pending.items() if p.order.side is Side.BUY)},
            trades_today=self.entries_today.count(candle.close_time_ms),
            paused=self.paused,
            breaker_allows=self.breaker.allows_entry(),
            now_ms=candle.close_time_ms,
            price_time_ms=candle.close_time_ms,
        )
        if not decision.allowed:
            self.denials += 1
            self.recorder.record("risk_denials", records.denial_row(symbol, decision, time_ms=candle.close_time_ms))
            log.info("entry %s denied: %s %s", symbol, decision.reason_code, decision.detail)
            return
        if symbol in self.pending:
            return
        target = entry + (entry - stop) * Decimal(str(self.trading.reward_risk))
        order = Order(
            order_id=f"{symbol}-{candle.close_time_ms}-BUY",
            symbol=symbol,
            side=Side.BUY,
            quantity=decision.quantity,
            created_ms=candle.close_time_ms,
            reason=why,
            stop_price=stop,
            target_price=target,
        )
        self._queue(order, ExitReason.SIGNAL)

    def _exit_on_signal(self, candle: Candle, why: str) -> None:
        position = self.portfolio.positions.get(candle.symbol)
        if position is None or candle.symbol in self.pending:
            return
        self._queue(self._close_order(candle.symbol, time_ms=candle.close_time_ms, tag="SELL", why=why), ExitReason.SIGNAL)

    def _check_exits(self, candle: Candle) -> None:
        position = self.portfolio.positions.get(candle.symbol)
        if position is None:
            return
        if position.stop_price is not None and candle.low <= position.stop_price:
            reason, price = ExitReason.STOP, min(position.stop_price, candle.open)
        elif position.target_price is not None and candle.high >= position.target_price:
            reason, price = ExitReason.TARGET, max(position.target_price, candle.open)
        else:
            return
        self._sell_now(candle.symbol, price=price, time_ms=candle.open_time_ms, exit_reason=reason, why=f"{reason.value.lower()} at {price}")

    def _close_order(self, symbol: str, *, time_ms: int, tag: str, why: str) -> Order:
        """A market sell of the whole open position in ``symbol``, decided at market time ``time_ms``."""
        return Order(
            order_id=f"{symbol}-{time_ms}-{tag}",
            symbol=symbol,
            side=Side.SELL,
            quantity=self.portfolio.positions[symbol].quantity,
            created_ms=time_ms,
            reason=why,
        )

    def _sell_now(self, symbol: str, *, price: Decimal, time_ms: int, exit_reason: ExitReason, why: str) -> Fill | None:
        """Close the position in ``symbol`` at once at ``price`` (a stop, target or flatten), replacing any pending
        order for it."""
        self.pending.pop(symbol, None)
        order = self._close_order(symbol, time_ms=time_ms, tag=exit_reason.value, why=why)
        self.recorder.record("orders", records.order_row(order, status="NEW", reason=why, time_ms=time_ms))
        return self._execute(order, reference_price=price, time_ms=time_ms, exit_reason=exit_reason)

    def _queue(self, order: Order, exit_reason: ExitReason) -> None:
        self.pending[order.symbol] = PendingOrder(order, exit_reason)
        self.recorder.record("orders", records.order_row(order, status="NEW", reason=order.reason, time_ms=order.created_ms))

    def _cancel_pending_entries(self, why: str) -> int:
        entries = [p for p in self.pending.values() if p.order.side is Side.BUY]
        for p in entries:
            del self.pending[p.order.symbol]
            self.recorder.record("orders", records.order_row(p.order, status="CANCELLED", reason=why, time_ms=p.order.created_ms))
        return len(entries)

    def _execute(self, order: Order, *, reference_price: Decimal, time_ms: int, exit_reason: ExitReason) -> Fill | None:
        if self.broker is None:
            raise RuntimeError("no exchange filters installed: call set_filters() before trading")
        max_cost = self.portfolio.cash if order.side is Side.BUY else None
        result = self.broker.fill(order, reference_price=reference_price, time_ms=time_ms, max_cost=max_cost)
        if isinstance(result, Rejection):
            self.recorder.record("orders", records.order_row(order, status="REJECTED", reason=result.reason, time_ms=time_ms))
            log.info("order %s rejected: %s", order.order_id, result.reason)
            return None
        trade = self.portfolio.apply_fill(result, stop_price=order.stop_price, target_price=order.target_price, exit_reason=exit_reason)
        if result.side is Side.BUY:
            self.entries_today.record(time_ms)
        self.recorder.record("orders", records.order_row(order, status="FILLED", reason=order.reason, time_ms=time_ms))
        self.recorder.record("fills", records.fill_row(result))
        self.recorder.record("positions", records.position_row(order.symbol, self.portfolio.positions.get(order.symbol), time_ms=time_ms))
        if trade is not None:
            self.recorder.record("trades", records.trade_row(trade))
        self.recorder.flush()
        log.info("%s %s %s @ %s fee %s", result.side.value, result.quantity, result.symbol, result.price, result.fee)
        return result

    # ================================================================== asyncio shell
    def submit(self, command: Command) -> None:
        """Queue a command from any thread; applied on the engine thread within ``COMMAND_POLL_S``.

        Raises:
            queue.Full: the inbox holds ``INBOX_SIZE`` unapplied commands (the engine is stuck).
        """
        self.inbox.put_nowait(command)

    async def run(self, rest: BinanceRestClient, stream: KlineStream, stop: asyncio.Event) -> None:
        """Bootstrap, then trade on the stream until ``stop`` is set. Closes ``rest`` on the way out."""
        commands = asyncio.create_task(self._command_loop(stop), name="commands")
        telemetry = asyncio.create_task(self._telemetry_loop(rest, stream.url, stop), name="telemetry")
        market: asyncio.Task[None] | None = None
        try:
            await self._bootstrap(rest, stop)
            if not stop.is_set():
                market = asyncio.create_task(self._consume(rest, stream), name="market")
                self._publish(state=self._running_state())
                await stop.wait()
        finally:
            self.recorder.record("rate_limit_samples", records.rate_limit_row(rest.guard_status(), time_s=self._wall_clock()))
            tasks = [t for t in (market, commands, telemetry) if t is not None]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await rest.aclose()
            self._publish(state=EngineState.STOPPED, connected=False)

    def _running_state(self) -> EngineState:
        return EngineState.PAUSED if self.paused else EngineState.RUNNING

    async def _bootstrap(self, rest: BinanceRestClient, stop: asyncio.Event) -> None:
        """Exchange rules and enough history for the indicators, retried until it works or ``stop`` is set."""
        needed = max(self.strategy.warmup, self.trading.atr_period + 1)
        delay = 1.0
        while not stop.is_set():
            try:
                server_time = await rest.server_time_ms()
                self.set_filters(parse_exchange_info(await rest.exchange_info(self.trading.symbols)))
                for symbol in self.trading.symbols:
                    history = await rest.klines(symbol, self.trading.interval, limit=min(KLINES_MAX_LIMIT, 2 * needed), server_time_ms=server_time)
                    for candle in history:
                        if candle.closed:
                            self.warm_up(candle)
                return
            except ExchangeError as exc:
                log.warning("bootstrap failed (%s); retrying in %.0f s", exc, delay)
                self._publish(error=f"bootstrap: {exc}")
                try:
                    async with asyncio.timeout(delay):
                        await stop.wait()
                except TimeoutError:
                    delay = min(delay * 2, 30.0)

    async def _consume(self, rest: BinanceRestClient, stream: KlineStream) -> None:
        self._stream_watch.down()
        try:
            async for event in stream.events():
                self._on_stream_event(rest, stream, event)
                if isinstance(event, KlineEvent):
                    candle = event.candle
                    if candle.closed:
                        await self._backfill_before(rest, stream.url, candle, event.event_time_ms)
                        self.on_candle(candle, source="stream")
                    else:
                        self.on_price(candle.symbol, candle.open, candle.open_time_ms)
                    self._publish(market_time_ms=event.event_time_ms, connected=True)
        except PapertraderError as exc:
            log.error("market stream gave up: %s", exc)
            self._publish(state=EngineState.FAILED, connected=False, error=f"market stream: {exc}")

    def _on_stream_event(self, rest: BinanceRestClient, stream: KlineStream, event: StreamEvent) -> None:
        """Telemetry for one stream event: connection changes and bad messages become ``ws_events`` rows."""
        self._last_message_at = self._monotonic()
        if isinstance(event, Connected):
            self._stream_watch.up()
            log.info("market stream connected: %s (attempt %d)", event.url, event.attempt)
            self.recorder.record("ws_events", records.ws_connected_row(event, time_s=self._wall_clock()))
            self._publish(connected=True)
        elif isinstance(event, Disconnected):
            self._stream_watch.down()
            retry = "giving up" if event.retry_in_s is None else f"reconnecting in {event.retry_in_s:.1f} s"
            log.warning(
                "market stream closed (code %s %s %s) after %s s; %s",
                event.code, event.reason, event.error, event.connected_for_s, retry,
            )
            self.recorder.record("ws_events", records.ws_disconnected_row(event, url=stream.url, time_s=self._wall_clock()))
            self._publish(connected=False)
        elif isinstance(event, BadMessage):
            self.bad_messages += 1
            log.warning("dropped bad market message: %s", event.detail)
            self.recorder.record("ws_events", records.ws_bad_message_row(event, url=stream.url, time_s=self._wall_clock()))
        elif isinstance(event, Reply) and event.error:
            log.warning("stream request %s refused: %s", event.request_id, event.error)

    async def _backfill_before(self, rest: BinanceRestClient, url: str, candle: Candle, server_time_ms: int) -> None:
        """Fetch over REST the closed candles missing between the last processed one and ``candle`` (after a
        reconnect, or a dropped message), and record how many came back as a ``ws_events`` BACKFILL row."""
        last = self.last_candle_ms.get(candle.symbol)
        if last is None or candle.open_time_ms <= last + MINUTE_MS:
            return
        start, fetched, error = last + MINUTE_MS, 0, ""
        while start < candle.open_time_ms:
            try:
                page = await rest.klines(
                    candle.symbol, self.trading.interval, start_ms=start, end_ms=candle.open_time_ms - 1,
                    limit=KLINES_MAX_LIMIT, server_time_ms=server_time_ms,
                )
            except ExchangeError as exc:
                log.warning("backfill of %s from %d failed: %s", candle.symbol, start, exc)
                error = str(exc)
                break
            closed = [c for c in page if c.closed and c.open_time_ms < candle.open_time_ms]
            for c in closed:
                self.on_candle(c, source="backfill")
            fetched += len(closed)
            if len(page) < KLINES_MAX_LIMIT or not closed:
                break
            start = closed[-1].open_time_ms + MINUTE_MS
        self.backfilled_candles += fetched
        self.recorder.record(
            "ws_events",
            records.backfill_row(symbol=candle.symbol, url=url, candles=fetched, error=error, time_s=self._wall_clock()),
        )

    def record_api_attempt(self, attempt: RetryAttempt, *, host: str) -> None:
        """``on_attempt`` hook of the REST client: every attempt becomes an ``api_calls`` row."""
        self.recorder.record("api_calls", records.api_call_row(attempt, host=host))
        if attempt.outcome != "ok":
            log.warning("%s %s: %s (%s), attempt %d", host, attempt.endpoint, attempt.outcome, attempt.reason, attempt.attempt)

    async def _telemetry_loop(self, rest: BinanceRestClient, stream_url: str, stop: asyncio.Event) -> None:
        """Every ``TELEMETRY_INTERVAL_S``: sample the REST guards into ``rate_limit_samples``, and alert on a new
        418 ban or on a stream down for longer than ``alerts.disconnect_alert_after_s``."""
        while not stop.is_set():
            guards = rest.guard_status()
            self.recorder.record("rate_limit_samples", records.rate_limit_row(guards, time_s=self._wall_clock()))
            if guards.ban.bans > self._bans_seen:
                self._bans_seen = guards.ban.bans
                self._alert(alert_for_ban(guards.ban.host, guards.ban.retry_after_s))
            if (down_s := self._stream_watch.poll()) is not None:
                self._alert(alert_for_disconnect(stream_url, down_s))
            await asyncio.sleep(TELEMETRY_INTERVAL_S)

    async def _command_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.drain_inbox()
            self._publish()
            await asyncio.sleep(COMMAND_POLL_S)

    def drain_inbox(self) -> None:
        """Apply every queued command, in order."""
        while True:
            try:
                command = self.inbox.get_nowait()
            except queue.Empty:
                return
            self.apply_command(command)

    def _publish(
        self,
        *,
        state: EngineState | None = None,
        connected: bool | None = None,
        market_time_ms: int | None = None,
        error: str | None = None,
    ) -> None:
        current = self.status
        if state is None:
            state = current.state if current.state in (EngineState.STARTING, EngineState.STOPPED, EngineState.FAILED) else self._running_state()
        lag = None if self._last_message_at is None else self._monotonic() - self._last_message_at
        self.status = replace(
            current,
            state=state,
            market_connected=current.market_connected if connected is None else connected,
            last_candle_ms=max(self.last_candle_ms.values(), default=None),
            market_time_ms=current.market_time_ms if market_time_ms is None else market_time_ms,
            data_lag_s=lag,
            candles_processed=self.candles_processed,
            error=current.error if error is None else error,
            breaker_state=str(self.breaker.state),
            bad_messages=self.bad_messages,
            risk_denials=self.denials,
            backfilled_candles=self.backfilled_candles,
        )
