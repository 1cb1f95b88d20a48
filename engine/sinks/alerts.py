"""Alerts to people (``../shared/SPEC.md`` §6): what deserves one — a breaker WARNING/TRIPPED/RESET, an API ban
(HTTP 418), a long market-stream outage — as :class:`Alert` values with the figures in structured fields. They are
logged and POSTed to webhooks by :class:`engine.sinks.webhooks.AlertSink`, never blocking the engine.
"""

from __future__ import annotations

import logging
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
            ``ApiBanned`` or ``StreamDisconnected``.
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
