"""Alerts to people (``../shared/SPEC.md`` §6): breaker WARNING/TRIPPED/RESET, an API ban (HTTP 418) and a long
market-stream outage, logged with structured fields and POSTed to webhooks without ever blocking the engine.

::

    engine (sync core, on the engine loop)              AlertSink task (same loop)
      alert_from_breaker_event(event) ─┐
      alert_for_ban(host, retry_after_s) ─┼─► sink.notify(alert) ─► bounded asyncio.Queue ─► run(): per webhook,
      alert_for_disconnect(url, down_s) ─┘    (logs it; drops +       Retrier (same policy as REST) ─► httpx POST
                                               counts when full)      each attempt ─► on_attempt(attempt, host=...)

Payloads per :attr:`Webhook.format` (:func:`payload`):

- ``json``: ``{"kind", "severity", "title", "text", "fields", "time"}`` (``time`` ISO 8601 UTC);
- ``slack``: ``{"text": ...}`` (Slack incoming webhooks, mrkdwn);
- ``discord``: ``{"content": ...}`` (Discord "Execute Webhook", at most 2000 characters);
- ``telegram``: ``{"chat_id", "text"}`` for the Bot API ``sendMessage`` method (at most 4096 characters), POSTed to
  the configured URL (``https://api.telegram.org/bot<token>/sendMessage``).

Webhook URLs hold tokens: they are only read where the request is sent. Logs and ``api_calls`` rows name the host
and the endpoint label ``webhook:<format>``, never the URL; httpx's own request log line (logger ``httpx``, INFO)
has the path and query of every webhook replaced by ``/<redacted>`` (:class:`RedactWebhookUrls`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import httpx

from engine.config import AlertSettings, WebhookSettings
from engine.core.breaker import BreakerEvent, BreakerEventKind
from engine.errors import ExchangeError, HTTPStatusError, RequestTimeout, TransportError
from engine.guards.retry import Retrier, RetryAttempt, RetryPolicy, retry_after_s

log = logging.getLogger(__name__)

Severity = Literal["info", "warning", "critical"]
Format = Literal["json", "slack", "discord", "telegram"]

DISCORD_MAX_CHARS = 2000
"""Discord webhooks: ``content`` is at most 2000 characters."""
TELEGRAM_MAX_CHARS = 4096
"""Telegram Bot API ``sendMessage``: ``text`` is 1-4096 characters."""

_LOG_LEVEL = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.CRITICAL}


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


@dataclass(frozen=True)
class Webhook:
    """Where and how to POST alerts. ``url`` may hold a token: never log it (use :attr:`host`)."""

    url: str
    format: Format = "json"
    chat_id: str | None = None

    @property
    def host(self) -> str:
        """``host[:port]`` of the URL, without credentials, path or query."""
        url = httpx.URL(self.url)
        return f"{url.host}:{url.port}" if url.port is not None else url.host

    @property
    def endpoint(self) -> str:
        """Label for telemetry (``api_calls.endpoint``): ``webhook:<format>``."""
        return f"webhook:{self.format}"

    @classmethod
    def from_settings(cls, settings: WebhookSettings) -> Webhook:
        return cls(url=settings.url.get_secret_value(), format=settings.format, chat_id=settings.chat_id)

    def __repr__(self) -> str:  # the URL is secret
        return f"Webhook(host={self.host!r}, format={self.format!r})"


def message_text(alert: Alert) -> str:
    """Plain text for chat formats: title, text, then one ``key: value`` line per field."""
    lines = [alert.title, alert.text, *(f"{key}: {value}" for key, value in alert.fields.items())]
    return "\n".join(lines)


def payload(alert: Alert, webhook: Webhook) -> dict[str, Any]:
    """The JSON body for ``webhook.format`` (shapes in the module docstring)."""
    match webhook.format:
        case "slack":
            details = "\n".join(f"• {key}: {value}" for key, value in alert.fields.items())
            return {"text": f"*{alert.title}*\n{alert.text}\n{details}".rstrip()}
        case "discord":
            return {"content": _truncate(message_text(alert), DISCORD_MAX_CHARS)}
        case "telegram":
            return {"chat_id": webhook.chat_id, "text": _truncate(message_text(alert), TELEGRAM_MAX_CHARS)}
    return {
        "kind": alert.kind,
        "severity": alert.severity,
        "title": alert.title,
        "text": alert.text,
        "fields": json.loads(json.dumps(alert.fields, default=str)),
        "time": alert.time.isoformat(),
    }


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RedactWebhookUrls(logging.Filter):
    """Replaces the secret part (path and query) of known webhook URLs in log records with ``/<redacted>``.

    One instance, :data:`REDACT`, sits on the ``httpx`` logger, which logs every request URL at INFO.
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, url: str) -> None:
        parsed = httpx.URL(url)
        secret = parsed.raw_path.decode("ascii", "replace")
        if secret not in ("", "/"):
            self._secrets.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self._secrets:
            redacted = redacted.replace(secret, "/<redacted>")
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


REDACT = RedactWebhookUrls()
logging.getLogger("httpx").addFilter(REDACT)


class OnAttempt(Protocol):
    """Receives every delivery attempt; ``Engine.record_api_attempt`` fits (it writes an ``api_calls`` row)."""

    def __call__(self, attempt: RetryAttempt, *, host: str) -> None: ...


@dataclass(frozen=True)
class AlertSinkStatus:
    """Counters of an :class:`AlertSink`.

    Attributes:
        queued: alerts waiting for delivery now.
        capacity: the queue's size.
        used: ``queued / capacity``, 0..1.
        notified: alerts accepted by :meth:`AlertSink.notify` (logged, and queued when there are webhooks).
        dropped: alerts not queued because the queue was full or the sink closed.
        delivered: successful POSTs (one per alert and webhook).
        failed: POSTs given up after the retry policy.
    """

    queued: int
    capacity: int
    used: float
    notified: int
    dropped: int
    delivered: int
    failed: int


@dataclass
class _Counters:
    notified: int = 0
    dropped: int = 0
    delivered: int = 0
    failed: int = 0


class AlertSink:
    """Logs alerts and POSTs them to webhooks from its own task, so the caller never waits.

    Use on one event loop: :meth:`start` (or create a task of :meth:`run` yourself); :meth:`notify` from code
    running on that loop's thread; ``await sink.aclose()`` at the end (delivers what is queued for up to
    ``drain_timeout_s``).

    Args:
        webhooks: where to POST; none means alerts are only logged.
        queue_size: alerts waiting for delivery; when full, :meth:`notify` drops the new alert and counts it.
        retry: the backoff policy of each POST (the ``[rest]`` policy); ``None`` means the defaults.
        timeout_s: per POST attempt, seconds.
        on_attempt: called with every attempt (``ok``, ``retry``, ``giveup``...) and the webhook's host.
        transport: httpx transport (tests may pass ``httpx.MockTransport``).
        sleep: async sleep between attempts, seconds (tests pass a recorder).
        rng: jitter source of the retries.
    """

    def __init__(
        self,
        webhooks: Iterable[Webhook],
        *,
        queue_size: int = 100,
        retry: RetryPolicy | None = None,
        timeout_s: float = 10.0,
        on_attempt: OnAttempt | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.webhooks = tuple(webhooks)
        for webhook in self.webhooks:
            REDACT.add(webhook.url)
        self._queue: asyncio.Queue[Alert] = asyncio.Queue(maxsize=queue_size)
        self._client = httpx.AsyncClient(timeout=timeout_s, transport=transport)
        self._retriers = {
            webhook: Retrier(retry, sleep=sleep, rng=rng, on_attempt=self._reporter(on_attempt, webhook.host))
            for webhook in self.webhooks
        }
        self._counters = _Counters()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    def from_settings(cls, settings: AlertSettings, *, retry: RetryPolicy | None = None, **kwargs: Any) -> AlertSink:
        """A sink for the ``[alerts]`` section; ``kwargs`` as for the constructor (``on_attempt``, ``sleep``...)."""
        return cls(
            [Webhook.from_settings(w) for w in settings.webhooks],
            queue_size=settings.queue_size,
            retry=retry,
            timeout_s=settings.timeout_s,
            **kwargs,
        )

    @staticmethod
    def _reporter(on_attempt: OnAttempt | None, host: str) -> Callable[[RetryAttempt], None] | None:
        if on_attempt is None:
            return None

        def report(attempt: RetryAttempt) -> None:
            on_attempt(attempt, host=host)

        return report

    # ------------------------------------------------------------------ producer side
    def notify(self, alert: Alert) -> None:
        """Log ``alert`` and queue it for the webhooks; never waits. Call on the sink's loop thread.

        A full queue (or a closed sink) drops the alert, counts it in :attr:`AlertSinkStatus.dropped` and logs it.
        """
        self._counters.notified += 1
        log.log(
            _LOG_LEVEL[alert.severity],
            "alert %s: %s — %s",
            alert.kind,
            alert.title,
            alert.text,
            extra={
                "alert_kind": alert.kind,
                "alert_severity": alert.severity,
                "alert_title": alert.title,
                "alert_fields": alert.fields,
                "alert_time": alert.time.isoformat(),
            },
        )
        if not self.webhooks:
            return
        if self._closed:
            self._drop(alert, "sink closed")
            return
        try:
            self._queue.put_nowait(alert)
        except asyncio.QueueFull:
            self._drop(alert, "queue full")

    def _drop(self, alert: Alert, why: str) -> None:
        self._counters.dropped += 1
        log.warning(
            "alert %s not delivered: %s (%d dropped so far)",
            alert.kind,
            why,
            self._counters.dropped,
            extra={"alert_kind": alert.kind, "alert_dropped": self._counters.dropped, "alert_drop_reason": why},
        )

    def status(self) -> AlertSinkStatus:
        c, queued, capacity = self._counters, self._queue.qsize(), self._queue.maxsize
        return AlertSinkStatus(
            queued=queued,
            capacity=capacity,
            used=queued / capacity if capacity else 0.0,
            notified=c.notified,
            dropped=c.dropped,
            delivered=c.delivered,
            failed=c.failed,
        )

    # ------------------------------------------------------------------ consumer side
    def start(self) -> asyncio.Task[None]:
        """Start :meth:`run` as a task named ``alerts`` on the running loop (call from that loop) and return it."""
        self._task = asyncio.create_task(self.run(), name="alerts")
        return self._task

    async def run(self) -> None:
        """Deliver queued alerts until cancelled (by :meth:`aclose`); one alert at a time, its webhooks in parallel."""
        if self._task is None:
            self._task = asyncio.current_task()
        while True:
            alert = await self._queue.get()
            try:
                await asyncio.gather(*(self._deliver(webhook, alert) for webhook in self.webhooks))
            finally:
                self._queue.task_done()

    async def aclose(self, *, drain_timeout_s: float = 5.0) -> None:
        """Stop accepting alerts, deliver what is queued for up to ``drain_timeout_s`` seconds (when :meth:`start`
        was called, or :meth:`run` is running), stop it and close the HTTP client. Idempotent."""
        self._closed = True
        task = self._task
        if task is not None and not task.done():
            try:
                async with asyncio.timeout(drain_timeout_s):
                    await self._queue.join()
            except TimeoutError:
                log.warning("alerts: %d alert(s) still queued at shutdown, not delivered", self._queue.qsize())
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._client.aclose()

    async def _deliver(self, webhook: Webhook, alert: Alert) -> None:
        body = payload(alert, webhook)

        async def send() -> httpx.Response:
            return await self._post(webhook, body)

        extra = {"alert_kind": alert.kind, "webhook_host": webhook.host, "webhook_format": webhook.format}
        try:
            await self._retriers[webhook].call(webhook.endpoint, send)
        except ExchangeError as exc:
            self._counters.failed += 1
            log.error("alert %s to %s (%s) failed: %s", alert.kind, webhook.host, webhook.format, exc, extra=extra)
            return
        except Exception:  # a broken on_attempt hook must not stop later alerts
            self._counters.failed += 1
            log.exception("alert %s to %s (%s) failed", alert.kind, webhook.host, webhook.format, extra=extra)
            return
        self._counters.delivered += 1
        log.info("alert %s delivered to %s (%s)", alert.kind, webhook.host, webhook.format, extra=extra)

    async def _post(self, webhook: Webhook, body: dict[str, Any]) -> httpx.Response:
        """One POST; httpx errors and non-2xx answers mapped to :mod:`engine.errors` (messages without the URL)."""
        endpoint = webhook.endpoint
        try:
            response = await self._client.post(webhook.url, json=body)
        except httpx.TimeoutException as exc:
            raise RequestTimeout(f"POST {endpoint} to {webhook.host}: {type(exc).__name__}", endpoint=endpoint) from exc
        except httpx.TransportError as exc:
            raise TransportError(f"POST {endpoint} to {webhook.host}: {type(exc).__name__}", endpoint=endpoint) from exc
        if response.is_success:
            return response
        raise HTTPStatusError(
            f"POST {endpoint} to {webhook.host}: HTTP {response.status_code}",
            endpoint=endpoint,
            status=response.status_code,
            msg=response.text[:200],
            retry_after_s=retry_after_s(response),
        )
