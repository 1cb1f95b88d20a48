"""Alerts to people (``../shared/SPEC.md`` §6): what deserves one — a breaker WARNING/TRIPPED/RESET, an API ban
(HTTP 418), a long market-stream outage, request-weight utilisation held high, a high REST retry rate — as
:class:`Alert` values with the figures in structured fields. They are logged and POSTed to webhooks by
:class:`engine.sinks.alert_sink.AlertSink`, never blocking the engine.

The watches decide when a condition deserves its alert, once per episode: :class:`DisconnectWatch` (an outage),
:class:`SustainedWatch` (a value above a level for a while: weight utilisation) and :class:`RetryRateWatch` (retries
over requests in a sliding window). Each is polled from the engine's telemetry tick with an injected clock.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from engine.core.breaker import BreakerEvent, BreakerEventKind

log = logging.getLogger(__name__)

Severity = Literal["info", "warning", "critical"]


@dataclass(frozen=True)
class Alert:
    """One thing a person should know about now.

    Attributes:
        kind: stable name: ``WarningTriggered``, ``BreakerTripped``, ``BreakerReset`` (the breaker event kinds),
            ``ApiBanned``, ``StreamDisconnected``, ``WeightUtilisationHigh`` or ``RetryRateHigh``.
        severity: ``info``, ``warning`` or ``critical``.
        title: one line.
        text: a sentence or two with the figures.
        fields: machine-readable details (JSON scalars: str, int, float, bool, None), units in the key names.
        time: when it happened, timezone-aware UTC (market time for breaker events, wall time otherwise).
    """

    kind: str
    severity: Severity
    title: str
    text: str
    fields: dict[str, Any]
    time: datetime


def _now() -> datetime:
    return datetime.now(UTC)


_BREAKER_SEVERITY: dict[BreakerEventKind, Severity] = {
    BreakerEventKind.WARNING_TRIGGERED: "warning",
    BreakerEventKind.BREAKER_TRIPPED: "critical",
    BreakerEventKind.BREAKER_RESET: "info",
}


def alert_from_breaker_event(event: BreakerEvent) -> Alert | None:
    """The alert for a portfolio breaker transition; ``None`` for ``WarningCleared`` (nothing to act on).

    ``time`` is the event's market time; ``fields`` carry equity (quote asset), daily loss and drawdown (percent).
    """
    severity = _BREAKER_SEVERITY.get(event.kind)
    if severity is None:
        return None
    title = {
        BreakerEventKind.WARNING_TRIGGERED: "Breaker WARNING: daily loss near the limit",
        BreakerEventKind.BREAKER_TRIPPED: "Breaker TRIPPED: new entries stopped",
        BreakerEventKind.BREAKER_RESET: f"Breaker reset by {event.actor}",
    }[event.kind]
    text = (
        f"{event.state_from} -> {event.state_to}: {event.reason}. Equity {event.equity:.2f}, "
        f"daily loss {event.daily_loss_pct:.2f} %, drawdown {event.drawdown_pct:.2f} %."
    )
    if event.kind is BreakerEventKind.BREAKER_TRIPPED:
        text += " A person must reset it (dashboard or CLI)."
    return Alert(
        kind=event.kind.value,
        severity=severity,
        title=title,
        text=text,
        fields={
            "state_from": str(event.state_from),
            "state_to": str(event.state_to),
            "equity": float(event.equity),
            "daily_loss_pct": event.daily_loss_pct,
            "drawdown_pct": event.drawdown_pct,
            "reason": event.reason,
            "actor": event.actor,
        },
        time=datetime.fromtimestamp(event.time_ms / 1000, tz=UTC),
    )


def alert_for_ban(host: str, retry_after_s: float | None, *, time: datetime | None = None) -> Alert:
    """The venue banned this IP (HTTP 418; Binance spot REST docs, "LIMITS"): no REST call to ``host`` for
    ``retry_after_s`` seconds (``None``: unknown, the guard assumes its default)."""
    left = "an unknown time" if retry_after_s is None else f"{retry_after_s:.0f} s"
    return Alert(
        kind="ApiBanned",
        severity="critical",
        title=f"API ban: {host} answered HTTP 418",
        text=f"{host} banned this IP for {left}; no REST calls (bootstrap, backfill) until it ends.",
        fields={"host": host, "retry_after_s": retry_after_s},
        time=time or _now(),
    )


def alert_for_disconnect(url: str, down_s: float, *, time: datetime | None = None) -> Alert:
    """The market stream at ``url`` has been down ``down_s`` seconds (still reconnecting)."""
    return Alert(
        kind="StreamDisconnected",
        severity="warning",
        title=f"Market stream down for {down_s:.0f} s",
        text=f"No connection to {url} for {down_s:.0f} s; reconnecting. Missed candles are backfilled once it is back.",
        fields={"url": url, "down_s": round(down_s, 3)},
        time=time or _now(),
    )


def alert_for_weight_utilisation(
    utilisation_pct: float, *, above_pct: float, for_s: float, used: float, limit: int, time: datetime | None = None
) -> Alert:
    """Request-weight utilisation (Binance REQUEST_WEIGHT, spot REST docs "LIMITS") has stayed above ``above_pct``
    for ``for_s`` seconds; now ``utilisation_pct`` (``used`` of ``limit`` per minute)."""
    return Alert(
        kind="WeightUtilisationHigh",
        severity="warning",
        title=f"Request weight {utilisation_pct:.0f} % used for {for_s:.0f} s",
        text=(
            f"Request-weight utilisation has stayed above {above_pct:g} % for {for_s:.0f} s (now {utilisation_pct:.1f} %, "
            f"{used:.0f} of {limit} per minute); requests will wait, and a 429 or a ban may follow."
        ),
        fields={
            "utilisation_pct": round(utilisation_pct, 3), "above_pct": above_pct, "for_s": round(for_s, 3), "used": used, "limit": limit
        },
        time=time or _now(),
    )


def alert_for_retry_rate(
    rate_pct: float, *, above_pct: float, retries: int, requests: int, window_s: float, time: datetime | None = None
) -> Alert:
    """``retries`` of the ``requests`` sent over the last ``window_s`` seconds were retried: ``rate_pct`` > ``above_pct``."""
    return Alert(
        kind="RetryRateHigh",
        severity="warning",
        title=f"REST retry rate {rate_pct:.0f} % over {window_s / 60:g} min",
        text=(
            f"{retries} of {requests} REST requests in the last {window_s:.0f} s were retried ({rate_pct:.1f} %, above "
            f"{above_pct:g} %): the venue is refusing (429), failing (5xx) or timing out."
        ),
        fields={"rate_pct": round(rate_pct, 3), "above_pct": above_pct, "retries": retries, "requests": requests, "window_s": window_s},
        time=time or _now(),
    )


class DisconnectWatch:
    """Decides when a stream outage is long enough to alert, once per outage.

    Call :meth:`down` on a ``Disconnected`` event (and when the stream starts), :meth:`up` on ``Connected``, and
    :meth:`poll` periodically (e.g. each telemetry tick): it returns the outage length in seconds the first time
    it reaches ``after_s``, then ``None`` until the next outage.

    Args:
        after_s: outage length that raises the alert, seconds (``alerts.disconnect_alert_after_s``).
        clock: monotonic clock, seconds.
    """

    def __init__(self, *, after_s: float, clock: Callable[[], float]) -> None:
        self.after_s = after_s
        self._clock = clock
        self._down_since: float | None = None
        self._alerted = False

    def down(self) -> None:
        """The stream is not connected (no-op if it already was down: the outage keeps its start)."""
        if self._down_since is None:
            self._down_since, self._alerted = self._clock(), False

    def up(self) -> None:
        self._down_since, self._alerted = None, False

    def poll(self) -> float | None:
        """The outage length in seconds when it has just reached ``after_s``; otherwise ``None``."""
        if self._down_since is None or self._alerted:
            return None
        down_s = self._clock() - self._down_since
        if down_s < self.after_s:
            return None
        self._alerted = True
        return down_s

    def down_s(self) -> float | None:
        """The current outage's length in seconds; ``None`` while up (or before :meth:`down` was first called)."""
        return None if self._down_since is None else self._clock() - self._down_since


class SustainedWatch:
    """Decides when a value has stayed above a level long enough to alert, once per episode.

    :meth:`poll` each sample: it returns how long the value has been above ``above`` (seconds) the first time that
    reaches ``for_s``, then ``None`` until the value has come back to ``above`` or below (which ends the episode).

    Args:
        above: the level (exclusive), in the value's unit.
        for_s: how long the value must stay above it, seconds.
        clock: monotonic clock, seconds.
    """

    def __init__(self, *, above: float, for_s: float, clock: Callable[[], float]) -> None:
        self.above, self.for_s = above, for_s
        self._clock = clock
        self._since: float | None = None
        self._alerted = False

    def poll(self, value: float) -> float | None:
        if value <= self.above:
            self._since, self._alerted = None, False
            return None
        now = self._clock()
        if self._since is None:
            self._since = now
        held_s = now - self._since
        if self._alerted or held_s < self.for_s:
            return None
        self._alerted = True
        return held_s


@dataclass(frozen=True, slots=True)
class RetryRate:
    """``retries`` of ``requests`` over the window, and their ratio (0..1)."""

    requests: int
    retries: int

    @property
    def ratio(self) -> float:
        return self.retries / self.requests if self.requests else 0.0


class RetryRateWatch:
    """Decides when REST retries are too large a share of requests over a sliding window, once per episode.

    :meth:`poll` each sample with the running totals (requests sent, retries) since the start; the window's counts
    are the differences with the newest sample at least ``window_s`` old (or the oldest kept, early on). It returns
    the window's :class:`RetryRate` the first time its ratio exceeds ``above`` with at least ``min_requests``
    requests, then ``None`` until the ratio is back at or below ``above`` (which ends the episode).

    Args:
        above: the ratio (exclusive), 0..1.
        window_s: the window, seconds.
        min_requests: fewer requests in the window never alert.
        clock: monotonic clock, seconds.
        max_samples: samples kept (at one a second, the default covers a 10-minute window).
    """

    def __init__(self, *, above: float, window_s: float, min_requests: int, clock: Callable[[], float], max_samples: int = 600) -> None:
        self.above, self.window_s, self.min_requests = above, window_s, min_requests
        self._clock = clock
        self._samples: deque[tuple[float, int, int]] = deque(maxlen=max_samples)
        self._alerted = False

    def poll(self, requests_total: int, retries_total: int) -> RetryRate | None:
        now = self._clock()
        samples = self._samples
        while len(samples) > 1 and samples[1][0] <= now - self.window_s:
            samples.popleft()  # the window's base is the newest sample at least window_s old
        base = samples[0] if samples else (now, requests_total, retries_total)
        samples.append((now, requests_total, retries_total))
        rate = RetryRate(requests=requests_total - base[1], retries=retries_total - base[2])
        if rate.ratio <= self.above:
            self._alerted = False
            return None
        if self._alerted or rate.requests < self.min_requests:
            return None
        self._alerted = True
        return rate
