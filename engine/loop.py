"""The engine thread's program: feed → sequencer → trading core → sinks, plus commands and telemetry, on one asyncio
loop (``../shared/ARCHITECTURE.md``, "Process and threads").

::

    Feed tasks (rules, stream, backfill per symbol) ──candles, prices, gaps──► EngineLoop ──► TradingCore
    CommandInbox (woken at once by Runtime.submit) ─────────────────────────► EngineLoop ──► TradingCore.apply
    TradingCore events ──► RecordSink (rows; flushed before acting on a fill, breaker change or command)
                       ──► MetricsSink (account, counts) ──► AlertSink (breaker transitions)
                       ──► EngineStatus snapshot (the UI and the exporter read it)
    Feed and guard reports (connections, gaps, backfills, drops, REST attempts) ──► TelemetrySink (rows, counts)
                                                          (connections, REST attempts) ──► MetricsSink (counts)
    telemetry task, every second: rate-limit sample, ban / disconnect / weight / retry-rate alerts, status (data lag)
    heartbeat task, every 0.5 s: the loop's sign of life and its lag (engine.health)

Nothing here awaits on the path from a stream message to the core: the core is synchronous, backfills run in their
own tasks, and the only awaits are the feed's network I/O. Stopping cancels every task; the REST client and the
alert sink are closed within :data:`CLOSE_BUDGET_S`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Protocol

from engine import venue
from engine.commands import VENUE_COMMANDS, Command
from engine.config import Settings
from engine.core.core import TradingCore
from engine.core.events import BreakerChanged, CommandApplied, CommandResult, CoreEvent
from engine.core.filters import SymbolFilters
from engine.core.models import Candle, interval_ms
from engine.feed.feed import Feed
from engine.feed.gaps import Gap
from engine.feed.rest import BinanceRestClient, RestGuardStatus
from engine.feed.stream_events import Connected, Disconnected, KlineEvent, StreamEvent
from engine.guards.retry import RetryAttempt
from engine.health import Heartbeat
from engine.inbox import CommandInbox
from engine.sinks.alert_sink import AlertSink
from engine.sinks.alerts import (
    DisconnectWatch,
    RetryRateWatch,
    SustainedWatch,
    alert_for_ban,
    alert_for_disconnect,
    alert_for_retry_rate,
    alert_for_weight_utilisation,
    alert_from_breaker_event,
)
from engine.sinks.metrics import MetricsSink
from engine.sinks.record import RecorderLike, RecordSink
from engine.sinks.status import EngineState, EngineStatus, GapStatus
from engine.sinks.telemetry import TelemetrySink
from storage.errors import FlushError

log = logging.getLogger(__name__)


class StepRecorder(RecorderLike, Protocol):
    """The Recorder as the loop uses it: also :meth:`storage.recorder.Recorder.atomic`, so that the rows of one core
    step reach the disk in one flush."""

    def atomic(self) -> AbstractContextManager[None]: ...


TELEMETRY_INTERVAL_S = 1.0
CLOSE_BUDGET_S = 0.5
"""Longest wait for the REST client and the alert sink to close on stop, seconds each."""


class EngineLoop:
    """Everything the engine thread runs (see the module docstring); the Runtime owns it.

    Args:
        settings: the configuration.
        core: the trading core, restored from the database.
        recorder: where rows go.
        rest_url, ws_url: the venue's base URLs.
        next_ms: per symbol, the open time of the next candle to process.
        gaps: gaps a previous run left open.
        venue_control: applies the simulator's commands (venue ``sim``), returns the audit detail; ``None``
            refuses them.
        on_loop_lag: receives the loop's lag at each heartbeat, seconds (the exporter's histogram).
        wall_clock: Unix seconds; ``monotonic``: seconds.

    Read from other threads (the exporter, the health checks): :attr:`status`, :attr:`metrics`, :attr:`guards`,
    :attr:`heartbeat`, :meth:`data_lag_s`, :meth:`disconnected_s` — snapshots and counters replaced or incremented
    on the engine thread, never mutable structures in the middle of a change.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        core: TradingCore,
        recorder: StepRecorder,
        rest_url: str,
        ws_url: str,
        next_ms: Mapping[str, int],
        gaps: list[Gap],
        warmup_candles: int,
        venue_control: Callable[[Command], str] | None = None,
        on_loop_lag: Callable[[float], None] | None = None,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.core = core
        self.recorder = recorder
        self.sink = RecordSink(recorder, interval=settings.trading.interval, wall_clock=wall_clock)
        self.inbox = CommandInbox()
        self.venue_control = venue_control
        self._rest_url, self._ws_url = rest_url, ws_url
        self._next_ms, self._gaps, self._warmup = dict(next_ms), gaps, warmup_candles
        self._interval_ms = interval_ms(settings.trading.interval)
        self._wall_clock, self._monotonic = wall_clock, monotonic
        self._alerts: AlertSink | None = None
        a = settings.alerts
        self._stream_watch = DisconnectWatch(after_s=a.disconnect_alert_after_s, clock=monotonic)
        self._weight_watch = SustainedWatch(above=a.weight_utilisation_pct / 100, for_s=a.weight_utilisation_for_s, clock=monotonic)
        self._retry_watch = RetryRateWatch(
            above=a.retry_rate_pct / 100, window_s=a.retry_rate_window_s, min_requests=a.retry_rate_min_requests, clock=monotonic
        )
        self._bans_seen = 0
        self._started_at = monotonic()
        self._last_message_at: float | None = None
        self.metrics = MetricsSink()
        self.guards: RestGuardStatus | None = None
        """The REST guards' latest snapshot (taken every second on the engine thread)."""
        self.heartbeat = Heartbeat(clock=monotonic, on_lag=on_loop_lag)
        self._stream_url = ""
        self.feed: Feed | None = None
        self.telemetry = TelemetrySink(recorder, interval_ms=self._interval_ms, rest_url=rest_url, wall_clock=wall_clock)
        self.status = EngineStatus(state=EngineState.STARTING, venue=settings.venue.name, breaker_state=str(core.breaker.state))

    # ------------------------------------------------------------------ the program
    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; then cancel everything, write the last telemetry row and close."""
        self.inbox.bind(asyncio.get_running_loop())
        rest = venue.rest_client(self.settings, self._rest_url, on_attempt=self._rest_attempt)
        stream = venue.kline_stream(self.settings, self._ws_url)
        self._stream_url = self.telemetry.stream_url = stream.url
        alerts = AlertSink.from_settings(
            self.settings.alerts, retry=venue.retry_policy(self.settings), on_attempt=self.telemetry.api_attempt
        )
        self._alerts = alerts
        alerts.start()
        s = self.settings
        self.feed = Feed(
            s.trading.symbols,
            interval=s.trading.interval,
            interval_ms=self._interval_ms,
            rest=rest,
            stream=stream,
            next_ms=self._next_ms,
            gaps=self._gaps,
            warmup_candles=self._warmup,
            out=self,
            backoff=venue.retry_policy(s).backoff,
            max_held=s.stream.max_held_candles,
            clock=self._monotonic,
            wall_clock=self._wall_clock,
        )
        feed = asyncio.create_task(self.feed.run(), name="feed")
        tasks = [
            feed,
            asyncio.create_task(self.inbox.run(self.apply_command), name="commands"),
            asyncio.create_task(self._telemetry(rest), name="telemetry"),
            asyncio.create_task(self.heartbeat.run(), name="heartbeat"),
        ]
        stopping = asyncio.create_task(stop.wait(), name="stop")
        try:
            while not stop.is_set():
                await asyncio.wait({stopping, feed}, return_when=asyncio.FIRST_COMPLETED)
                if feed.done() and not stop.is_set():
                    self._feed_ended(feed)
                    await stopping
        finally:
            self.inbox.unbind()
            for task in (*tasks, stopping):
                task.cancel()
            await asyncio.gather(*tasks, stopping, return_exceptions=True)
            self.telemetry.guards(rest.guard_status())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_BUDGET_S):
                    await rest.aclose()
            await alerts.aclose(drain_timeout_s=CLOSE_BUDGET_S)
            self._publish(state=EngineState.STOPPED, connected=False)

    def _feed_ended(self, feed: asyncio.Task[None]) -> None:
        exc = feed.exception()
        if exc is not None:
            log.error("the feed failed", exc_info=exc)
            self._publish(state=EngineState.FAILED, connected=False, error=f"feed: {type(exc).__name__}: {exc}")

    # ------------------------------------------------------------------ commands
    def submit(self, command: Command) -> Future[CommandApplied]:
        """Hand ``command`` to the engine from any thread; see :meth:`engine.inbox.CommandInbox.submit`."""
        return self.inbox.submit(command)

    def apply_command(self, command: Command) -> CommandApplied:
        """Apply one command on the engine thread (or after it ended): trading commands through the core, venue
        commands through ``venue_control``; audited and flushed before returning."""
        if command.kind in VENUE_COMMANDS:
            if self.venue_control is None:
                result, detail = CommandResult.REFUSED, "the venue is not the simulator"
            else:
                try:
                    result, detail = CommandResult.OK, self.venue_control(command)
                except ValueError as exc:
                    result, detail = CommandResult.REFUSED, " ".join(str(exc).split())
            events: list[CoreEvent] = [CommandApplied(command, result, detail)]
            log.info("command %s by %s: %s (%s)", command.kind.value, command.actor, result, detail)
        else:
            events = self.core.apply(command)
        self.dispatch(events)
        applied = events[-1]
        assert isinstance(applied, CommandApplied)
        return applied

    # ------------------------------------------------------------------ core events → sinks
    def dispatch(self, events: list[CoreEvent]) -> None:
        """Hand the core's events to the sinks; flush at once when they must survive a crash."""
        if not events:
            return
        with self.recorder.atomic():  # one step's rows reach the disk together (an equity row and its breaker event)
            must_flush = self.sink.handle_all(events)
        self.metrics.handle_all(events)
        if must_flush:
            try:
                self.recorder.flush()
            except FlushError as exc:  # the rows stay buffered; the background flusher retries them
                log.error("flush failed, rows kept for the next flush: %s", exc)
        for event in events:
            if type(event) is BreakerChanged and self._alerts is not None:
                alert = alert_from_breaker_event(event.event)
                if alert is not None:
                    self._alerts.notify(alert)
        self._publish()

    # ------------------------------------------------------------------ FeedOutput
    def deliver(self, candle: Candle, source: str) -> None:
        core = self.core
        self.dispatch(core.warm_up(candle) if source == "bootstrap" else core.on_candle(candle, source=source))

    def price(self, candle: Candle, time_ms: int) -> None:
        self.dispatch(self.core.on_price(candle, time_ms=time_ms))

    def gap_changed(self, gap: Gap) -> None:
        self.telemetry.gap(gap)
        assert self.feed is not None
        open_now = bool(self.feed.sequencer.gaps(gap.symbol))
        if open_now != (gap.symbol in self.core.data_gaps):
            self.dispatch(self.core.set_data_gap(gap.symbol, open_=open_now, detail=f"{gap.minutes(self._interval_ms)} candle(s) missing"))
        self._publish()

    def dropped(self, candle: Candle, reason: str) -> None:
        self.telemetry.dropped(candle, reason)

    def rules(self, filters: Mapping[str, SymbolFilters]) -> None:
        self.core.set_filters(filters)
        self._publish(state=self._running_state())

    def backfilled(self, gap: Gap, candles: int, error: str) -> None:
        self.telemetry.backfilled(gap, candles, error)
        self._publish()

    def failed(self, error: str, *, config: bool) -> None:
        log.log(logging.INFO if config else logging.ERROR, "%s", error)  # a config error is shown by the caller
        self._publish(state=EngineState.FAILED, connected=False, error=error, config_error=config)

    def stream_event(self, event: StreamEvent) -> None:
        """A stream event: its telemetry, the connection state, the market time and the data lag."""
        self._last_message_at = self._monotonic()
        if isinstance(event, KlineEvent):
            market = self.status.market_time_ms
            if market is None or event.event_time_ms > market:
                self._publish(market_time_ms=event.event_time_ms, connected=True)
            return
        self.telemetry.stream_event(event)
        self.metrics.stream_event(event)
        if isinstance(event, Connected):
            self._stream_watch.up()
            self._publish(connected=True)
        elif isinstance(event, Disconnected):
            self._stream_watch.down()
            self._publish(connected=False)

    # ------------------------------------------------------------------ telemetry
    def _rest_attempt(self, attempt: RetryAttempt, *, host: str) -> None:
        """Every attempt of the venue's REST client: an ``api_calls`` row and the metrics' counts."""
        self.telemetry.api_attempt(attempt, host=host)
        self.metrics.rest_attempt(attempt)

    def data_lag_s(self) -> float:
        """Seconds since the last market message arrived (since this loop was built, before the first)."""
        last = self._last_message_at
        return self._monotonic() - (self._started_at if last is None else last)

    def disconnected_s(self) -> float | None:
        """Seconds the market stream has been down; ``None`` while connected or before its first connection."""
        return self._stream_watch.down_s()

    async def _telemetry(self, rest: BinanceRestClient) -> None:
        """Every ``TELEMETRY_INTERVAL_S``: sample the REST guards into ``rate_limit_samples`` (and :attr:`guards`);
        alert on a new 418 ban, a stream down longer than ``alerts.disconnect_alert_after_s``, request-weight
        utilisation above ``alerts.weight_utilisation_pct`` for ``alerts.weight_utilisation_for_s`` and a REST retry
        rate above ``alerts.retry_rate_pct`` over ``alerts.retry_rate_window_s`` (each once per episode); refresh the
        status (data lag)."""
        while True:
            guards = self.guards = rest.guard_status()
            self.telemetry.guards(guards)
            if self._alerts is not None:
                self._alert_on(guards, self._alerts)
            self._publish()
            await asyncio.sleep(TELEMETRY_INTERVAL_S)

    def _alert_on(self, guards: RestGuardStatus, alerts: AlertSink) -> None:
        if guards.ban.bans > self._bans_seen:
            self._bans_seen = guards.ban.bans
            alerts.notify(alert_for_ban(guards.ban.host, guards.ban.retry_after_s))
        if (down_s := self._stream_watch.poll()) is not None:
            alerts.notify(alert_for_disconnect(self._stream_url, down_s))
        limiter, a = guards.limiter, self.settings.alerts
        if (held_s := self._weight_watch.poll(limiter.utilisation)) is not None:
            alert = alert_for_weight_utilisation(
                limiter.utilisation * 100, above_pct=a.weight_utilisation_pct, for_s=held_s, used=limiter.used_weight, limit=limiter.limit
            )
            alerts.notify(alert)
        if (rate := self._retry_watch.poll(self.metrics.requests_total, self.metrics.retries_total)) is not None:
            alert = alert_for_retry_rate(
                rate.ratio * 100, above_pct=a.retry_rate_pct, retries=rate.retries, requests=rate.requests, window_s=a.retry_rate_window_s
            )
            alerts.notify(alert)

    def _running_state(self) -> EngineState:
        return EngineState.PAUSED if self.core.paused else EngineState.RUNNING

    def _publish(
        self,
        *,
        state: EngineState | None = None,
        connected: bool | None = None,
        market_time_ms: int | None = None,
        error: str | None = None,
        config_error: bool | None = None,
    ) -> None:
        current, core = self.status, self.core
        if state is None:
            state = current.state
            if state in (EngineState.RUNNING, EngineState.PAUSED):
                state = self._running_state()
        feed = self.feed
        gaps = () if feed is None else tuple(_gap_status(g, self._interval_ms) for g in feed.sequencer.gaps())
        market = max(current.market_time_ms or 0, market_time_ms or 0, core.market_time_ms or 0) or None
        self.status = replace(
            current,
            state=state,
            market_connected=current.market_connected if connected is None else connected,
            last_candle_ms=max(core.last_candle_ms.values(), default=None),
            market_time_ms=market,
            data_lag_s=None if self._last_message_at is None else self._monotonic() - self._last_message_at,
            candles_processed=core.candles_processed,
            error=current.error if error is None else error,
            breaker_state=str(core.breaker.state),
            risk_denials=core.denials,
            gaps=gaps,
            held_candles=0 if feed is None else sum(feed.sequencer.held(s) for s in feed.symbols),
            rules_loaded=core.desk.has_filters,
            config_error=current.config_error if config_error is None else config_error,
            bad_messages=self.telemetry.counts.bad_messages,
            backfilled_candles=self.telemetry.counts.backfilled_candles,
            dropped_candles=self.telemetry.counts.dropped_candles,
        )


def _gap_status(gap: Gap, interval_ms: int) -> GapStatus:
    return GapStatus(
        symbol=gap.symbol,
        first_ms=gap.first_ms,
        last_ms=gap.last_ms,
        candles=gap.minutes(interval_ms),
        kind=gap.kind.value,
        opened_at_s=gap.opened_at_s,
        attempts=gap.attempts,
        last_error=gap.last_error,
        fetched=gap.fetched,
    )
