"""The metrics sink: what the engine's events say that a snapshot cannot, counted for the Prometheus exporter
(:mod:`engine.sinks.exporter`, which reads these counts, the status snapshot and the guards' ``status()`` at scrape
time).

=================================  ==================================================================
report                             kept
=================================  ==================================================================
``Marked`` (core)                  the latest account :class:`~engine.core.portfolio.Snapshot`
``BreakerChanged`` (core)          transitions by ``(state_from, state_to)``
``CommandApplied`` (core)          commands by ``(kind, result)``
REST attempt (retrier)             requests by ``(endpoint, status)``, retries by ``(endpoint, reason)``,
                                   blocked attempts (never sent) by ``(endpoint, reason)``
``Connected``, ``Disconnected``    connections opened (reconnects: after the first) and lost
=================================  ==================================================================

It runs on the engine thread, on the path of every core event, so it does as little as it can: a type check per
event, an integer increment for the rare ones, plain ``dict`` counters (no lock: the exporter's thread copies them,
each copy one C-level call under the GIL). Every label value is bounded: endpoints are the REST client's known paths
(``other`` otherwise), statuses HTTP codes, reasons those of :func:`engine.guards.retry.classify`.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.core.events import BreakerChanged, CommandApplied, CoreEvent, Marked
from engine.core.portfolio import Snapshot
from engine.feed.rest import WEIGHTS
from engine.feed.stream_events import Connected, Disconnected, StreamEvent
from engine.guards.retry import RetryAttempt

RETRIED = frozenset({"retry", "deferred"})
"""Attempt outcomes that are retries (``deferred``: a retry the caller makes later, after a long ``Retry-After``)."""
NOT_SENT = frozenset({"host_banned", "breaker_open", "rate_limit"})
"""Attempt reasons for which no request left: the guards stopped it (ban, open API breaker, weight wait too long)."""
OTHER = "other"


def endpoint_label(endpoint: str) -> str:
    """``endpoint`` when it is one of the REST client's paths (:data:`engine.feed.rest.WEIGHTS`), else ``other``."""
    return endpoint if endpoint in WEIGHTS else OTHER


def status_label(status: int | None) -> str:
    """An HTTP status as a label: ``"429"``; ``none`` for no answer (timeout, connection error); ``other`` outside
    100..599."""
    if status is None:
        return "none"
    return str(status) if 100 <= status <= 599 else OTHER


class MetricsSink:
    """Counts for the exporter (see the module docstring); all counts are since the engine started.

    Attributes:
        account: the account at the latest mark (``None`` before the first).
        breaker_transitions: ``{(state_from, state_to): count}``.
        commands: ``{(kind, result): count}``.
        requests: ``{(endpoint, status): count}``: REST requests sent (each attempt that left).
        retries: ``{(endpoint, reason): count}``: attempts followed by a retry (now or deferred).
        blocked: ``{(endpoint, reason): count}``: attempts the guards stopped before sending.
        requests_total, retries_total: the sums of ``requests`` and ``retries`` (the retry-rate alert reads them).
        connects: market-stream connections opened; reconnects are ``connects - 1``.
        disconnects: ``Disconnected`` events: connections closed or gone stale, and attempts that could not connect.
    """

    def __init__(self) -> None:
        self.account: Snapshot | None = None
        self.breaker_transitions: dict[tuple[str, str], int] = {}
        self.commands: dict[tuple[str, str], int] = {}
        self.requests: dict[tuple[str, str], int] = {}
        self.retries: dict[tuple[str, str], int] = {}
        self.blocked: dict[tuple[str, str], int] = {}
        self.requests_total = 0
        self.retries_total = 0
        self.connects = 0
        self.disconnects = 0

    @property
    def reconnects(self) -> int:
        """Connections opened after the first."""
        return max(0, self.connects - 1)

    def handle_all(self, events: Iterable[CoreEvent]) -> None:
        """One core step's events (engine thread)."""
        for event in events:  # type() is, not isinstance: the cheapest test, and these event classes have no subclasses
            if type(event) is Marked:
                self.account = event.snapshot
            elif type(event) is BreakerChanged:
                _add(self.breaker_transitions, (str(event.event.state_from), str(event.event.state_to)))
            elif type(event) is CommandApplied:
                _add(self.commands, (event.command.kind.value, event.result.value))

    def rest_attempt(self, attempt: RetryAttempt) -> None:
        """One attempt of the venue's REST client (the retrier's ``on_attempt``)."""
        endpoint = endpoint_label(attempt.endpoint)
        if attempt.status is None and attempt.reason in NOT_SENT:
            _add(self.blocked, (endpoint, attempt.reason))
            return
        _add(self.requests, (endpoint, status_label(attempt.status)))
        self.requests_total += 1
        if attempt.outcome in RETRIED:
            _add(self.retries, (endpoint, attempt.reason))
            self.retries_total += 1

    def stream_event(self, event: StreamEvent) -> None:
        """A market-stream event (only connection changes count)."""
        if isinstance(event, Connected):
            self.connects += 1
        elif isinstance(event, Disconnected):
            self.disconnects += 1


def _add(counts: dict[tuple[str, str], int], key: tuple[str, str]) -> None:
    counts[key] = counts.get(key, 0) + 1
