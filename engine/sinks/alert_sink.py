"""The alert sink: alerts are logged at once and POSTed to the webhooks from a task of its own, so the engine never
waits for a webhook (``../shared/SPEC.md`` §6).

::

    engine loop (sync)                                   AlertSink task (same loop)
      sink.notify(alert) ─► logged with its fields ─► bounded asyncio.Queue (full: dropped and counted)
                                                     ─► run(): per webhook, Retrier (same policy as REST) ─► httpx POST
                                                        each attempt ─► on_attempt(attempt, host=...) (``api_calls``)

Bodies and URL handling: :mod:`engine.sinks.webhooks`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from engine.config import AlertSettings
from engine.errors import ExchangeError, HTTPStatusError, RequestTimeout, TransportError
from engine.guards.retry import Retrier, RetryAttempt, RetryPolicy, retry_after_s
from engine.sinks.alerts import Alert
from engine.sinks.webhooks import REDACT, Webhook, payload

log = logging.getLogger(__name__)

_LOG_LEVEL = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.CRITICAL}


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
