"""The telemetry sink: what the feed and the guards report becomes rows, log lines and counters.

==============================  =====================================================================
report                          rows
==============================  =====================================================================
stream connected / closed       ``ws_events`` CONNECTED / DISCONNECTED (close code, reason, next delay)
bad message                     ``ws_events`` BAD_MESSAGE (and counted)
dropped closed candle           ``ws_events`` DROPPED (duplicate or out of order; counted)
backfill request                ``ws_events`` BACKFILL (candles received, or the error; counted)
gap opened / changed / closed   ``gaps`` (one row per change); a failed backfill too (attempts, error)
REST or webhook attempt         ``api_calls``
guards sampled (every second)   ``rate_limit_samples``
==============================  =====================================================================
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from engine.core.models import Candle
from engine.feed.gaps import Gap, GapKind, GapState
from engine.feed.rest import RestGuardStatus
from engine.feed.stream_events import BadMessage, Connected, Disconnected, Reply, StreamEvent
from engine.guards.retry import RetryAttempt
from engine.sinks import rows
from engine.sinks.record import RecorderLike

log = logging.getLogger(__name__)


@dataclass(slots=True)
class TelemetryCounts:
    """Counts since the engine started."""

    bad_messages: int = 0
    backfilled_candles: int = 0
    dropped_candles: int = 0


class TelemetrySink:
    """Records feed and guard telemetry (table in the module docstring).

    Args:
        recorder: where rows go.
        interval_ms: the kline interval, ms (a gap's span in candles).
        rest_url, stream_url: named in the ``ws_events`` rows.
        wall_clock: Unix seconds, the rows' ``ts``.
    """

    def __init__(
        self, recorder: RecorderLike, *, interval_ms: int, rest_url: str, wall_clock: Callable[[], float] = time.time
    ) -> None:
        self.recorder = recorder
        self.counts = TelemetryCounts()
        self.stream_url = ""
        self._interval_ms = interval_ms
        self._rest_url = rest_url
        self._wall_clock = wall_clock

    def stream_event(self, event: StreamEvent) -> None:
        """A connection change, bad message or refused request (klines are not telemetry)."""
        now = self._wall_clock()
        if isinstance(event, Connected):
            log.info("market stream connected: %s (attempt %d)", event.url, event.attempt)
            self.recorder.record("ws_events", rows.ws_connected_row(event, time_s=now))
        elif isinstance(event, Disconnected):
            retry = "giving up" if event.retry_in_s is None else f"reconnecting in {event.retry_in_s:.1f} s"
            log.warning(
                "market stream closed (code %s %s %s) after %s s; %s", event.code, event.reason, event.error, event.connected_for_s, retry
            )
            self.recorder.record("ws_events", rows.ws_disconnected_row(event, url=self.stream_url, time_s=now))
        elif isinstance(event, BadMessage):
            self.counts.bad_messages += 1
            log.warning("dropped bad market message: %s", event.detail)
            self.recorder.record("ws_events", rows.ws_bad_message_row(event, url=self.stream_url, time_s=now))
        elif isinstance(event, Reply) and event.error:
            log.warning("stream request %s refused: %s", event.request_id, event.error)

    def dropped(self, candle: Candle, reason: str) -> None:
        self.counts.dropped_candles += 1
        self.recorder.record("ws_events", rows.dropped_row(candle, url=self.stream_url, reason=reason, time_s=self._wall_clock()))

    def gap(self, gap: Gap) -> None:
        """A gap opened, changed or closed: one ``gaps`` row."""
        if gap.state is GapState.OPEN and gap.attempts == 0:
            log.warning("%s: gap of %d candle(s) from %d (%s)", gap.symbol, gap.minutes(self._interval_ms), gap.first_ms, gap.kind)
        elif gap.state is GapState.CLOSED:
            log.info("%s: gap from %d closed (%s)", gap.symbol, gap.first_ms, gap.kind)
        self.recorder.record("gaps", rows.gap_row(gap, interval_ms=self._interval_ms, time_s=self._wall_clock()))

    def backfilled(self, gap: Gap, candles: int, error: str) -> None:
        """A backfill request: a BACKFILL row; after a failure also the gap's new state (attempts, error)."""
        self.counts.backfilled_candles += candles
        self.recorder.record(
            "ws_events",
            rows.backfill_row(
                symbol=gap.symbol, url=self._rest_url, candles=candles, error=error, time_s=self._wall_clock(),
                attempt=gap.attempts, warmup=gap.kind is GapKind.WARMUP,
            ),
        )
        if error:
            self.gap(gap)

    def api_attempt(self, attempt: RetryAttempt, *, host: str) -> None:
        """``on_attempt`` hook of the REST client and the webhooks: every attempt becomes an ``api_calls`` row."""
        self.recorder.record("api_calls", rows.api_call_row(attempt, host=host))
        if attempt.outcome != "ok":
            log.warning("%s %s: %s (%s), attempt %d", host, attempt.endpoint, attempt.outcome, attempt.reason, attempt.attempt)

    def guards(self, status: RestGuardStatus) -> None:
        """A ``rate_limit_samples`` row."""
        self.recorder.record("rate_limit_samples", rows.rate_limit_row(status, time_s=self._wall_clock()))
