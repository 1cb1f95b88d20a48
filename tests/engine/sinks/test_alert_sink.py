"""Alerts: builders, payload shapes per format, and the AlertSink against a real HTTP receiver on 127.0.0.1
(``http.server`` in a thread) — retries with recorded (not slept) waits, attempts reported, a full queue dropping
without blocking, and ``notify`` returning while a delivery is still in flight."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from engine.config import AlertSettings
from engine.core.breaker import BreakerEvent, BreakerEventKind, BreakerState
from engine.guards.retry import RetryAttempt, RetryPolicy
from engine.sinks.alert_sink import AlertSink
from engine.sinks.alerts import Alert, DisconnectWatch, alert_for_ban, alert_for_disconnect, alert_from_breaker_event
from engine.sinks.webhooks import DISCORD_MAX_CHARS, Webhook, payload

WAIT_S = 5.0  # upper bound of any wait for the receiver; tests finish far sooner


class Waits(list[float]):
    """An async ``sleep`` that records delays instead of waiting."""

    async def __call__(self, delay_s: float) -> None:
        self.append(delay_s)
        await asyncio.sleep(0)


class Attempts(list[tuple[RetryAttempt, str]]):
    """An ``on_attempt`` hook with the engine's signature, recording (attempt, host)."""

    def __call__(self, attempt: RetryAttempt, *, host: str) -> None:
        self.append((attempt, host))


def tripped_event() -> BreakerEvent:
    return BreakerEvent(
        kind=BreakerEventKind.BREAKER_TRIPPED,
        state_from=BreakerState.WARNING,
        state_to=BreakerState.TRIPPED,
        time_ms=1_619_114_700_000,
        equity=Decimal("9480.12"),
        daily_loss_pct=5.2,
        drawdown_pct=5.2,
        reason="daily loss 5.20 % >= 5.0 %",
        actor="breaker",
    )


ALERT = alert_for_ban("api.binance.com", 120.0, time=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))


def deliver(sink: AlertSink, alerts: list[Alert], receiver, expected_requests: int) -> None:
    """Run the sink on a fresh loop, notify ``alerts``, wait until the receiver saw ``expected_requests``, close."""

    async def main() -> None:
        task = sink.start()
        for alert in alerts:
            sink.notify(alert)
        async with asyncio.timeout(WAIT_S):
            while len(receiver.requests) < expected_requests or sink.status().queued:
                await asyncio.sleep(0.005)
        await sink.aclose()
        assert task.done()

    asyncio.run(main())


# ---------------------------------------------------------------------------------------------- builders
def test_breaker_trip_is_a_critical_alert_with_the_figures() -> None:
    alert = alert_from_breaker_event(tripped_event())

    assert alert is not None
    assert (alert.kind, alert.severity) == ("BreakerTripped", "critical")
    assert alert.fields["equity"] == pytest.approx(9480.12)
    assert alert.fields["daily_loss_pct"] == 5.2
    assert alert.time == datetime(2021, 4, 22, 18, 5, tzinfo=UTC)  # market time of the event
    assert "reset" in alert.text


@pytest.mark.parametrize(
    ("kind", "severity"),
    [
        (BreakerEventKind.WARNING_TRIGGERED, "warning"),
        (BreakerEventKind.BREAKER_RESET, "info"),
        (BreakerEventKind.WARNING_CLEARED, None),
    ],
)
def test_breaker_event_kinds_map_to_severities_and_a_cleared_warning_is_silent(kind: BreakerEventKind, severity: str | None) -> None:
    event = tripped_event()
    alert = alert_from_breaker_event(BreakerEvent(**{**{f: getattr(event, f) for f in event.__slots__}, "kind": kind}))

    assert (alert.severity if alert else None) == severity


def test_ban_and_disconnect_alerts_carry_host_url_and_seconds() -> None:
    ban = alert_for_ban("api.binance.com", None)
    down = alert_for_disconnect("wss://data-stream.binance.vision/stream?streams=btcusdt@kline_1m", 61.25)

    assert (ban.kind, ban.severity, ban.fields) == ("ApiBanned", "critical", {"host": "api.binance.com", "retry_after_s": None})
    assert (down.kind, down.severity, down.fields["down_s"]) == ("StreamDisconnected", "warning", 61.25)
    assert ban.time.tzinfo is UTC and down.time.tzinfo is UTC


def test_disconnect_watch_alerts_once_per_outage_after_the_threshold() -> None:
    now = [0.0]
    watch = DisconnectWatch(after_s=60.0, clock=lambda: now[0])
    watch.down()
    now[0] = 59.0
    assert watch.poll() is None
    watch.down()  # a second Disconnected in the same outage keeps its start
    now[0] = 61.0
    assert watch.poll() == 61.0
    now[0] = 200.0
    assert watch.poll() is None  # once per outage
    watch.up()
    watch.down()
    now[0] = 260.0
    assert watch.poll() == 60.0


# ---------------------------------------------------------------------------------------------- payloads
def test_payload_shapes_per_format() -> None:
    generic = payload(ALERT, Webhook("http://x/hook"))
    slack = payload(ALERT, Webhook("http://x/hook", "slack"))
    discord = payload(ALERT, Webhook("http://x/hook", "discord"))
    telegram = payload(ALERT, Webhook("http://x/bot123:abc/sendMessage", "telegram", chat_id="-1001"))

    assert generic == {
        "kind": "ApiBanned",
        "severity": "critical",
        "title": ALERT.title,
        "text": ALERT.text,
        "fields": {"host": "api.binance.com", "retry_after_s": 120.0},
        "time": "2024-01-02T03:04:05+00:00",
    }
    assert list(slack) == ["text"] and slack["text"].startswith(f"*{ALERT.title}*")
    assert list(discord) == ["content"] and ALERT.title in discord["content"]
    assert telegram == {"chat_id": "-1001", "text": discord["content"]}


def test_discord_content_is_cut_to_its_limit() -> None:
    long = Alert("X", "info", "t", "x" * 5000, {}, ALERT.time)

    assert len(payload(long, Webhook("http://x/", "discord"))["content"]) == DISCORD_MAX_CHARS


def test_webhook_repr_hides_the_url() -> None:
    hook = Webhook("https://api.telegram.org/bot123:SECRET/sendMessage", "telegram", chat_id="1")

    assert "SECRET" not in repr(hook)
    assert (hook.host, hook.endpoint) == ("api.telegram.org", "webhook:telegram")


# ---------------------------------------------------------------------------------------------- the sink
def test_each_format_is_posted_to_its_webhook(receiver) -> None:
    hooks = [
        Webhook(f"{receiver.url}/generic"),
        Webhook(f"{receiver.url}/slack", "slack"),
        Webhook(f"{receiver.url}/discord", "discord"),
        Webhook(f"{receiver.url}/bot123:abc/sendMessage", "telegram", chat_id="42"),
    ]
    sink = AlertSink(hooks, sleep=Waits())

    deliver(sink, [ALERT], receiver, 4)

    bodies = dict(receiver.requests)
    assert bodies["/generic"]["kind"] == "ApiBanned"
    assert set(bodies["/slack"]) == {"text"}
    assert set(bodies["/discord"]) == {"content"}
    assert bodies["/bot123:abc/sendMessage"]["chat_id"] == "42"
    assert sink.status().delivered == 4 and sink.status().failed == 0


def test_a_failing_receiver_is_retried_and_every_attempt_reported(receiver) -> None:
    receiver.script = [(500, {}), (200, {})]
    waits, attempts = Waits(), Attempts()
    sink = AlertSink([Webhook(f"{receiver.url}/hook", "slack")], sleep=waits, on_attempt=attempts, rng=random.Random(1))

    deliver(sink, [ALERT], receiver, 2)

    assert [(a.status, a.outcome, a.reason, a.attempt) for a, _ in attempts] == [(500, "retry", "5xx", 0), (200, "ok", "ok", 1)]
    assert {host for _, host in attempts} == {receiver.url.removeprefix("http://")}
    assert {a.endpoint for a, _ in attempts} == {"webhook:slack"}
    assert len(waits) == 1 and 0.75 <= waits[0] <= 1.25  # base 1 s ± 25 %, recorded, not slept
    assert sink.status().delivered == 1


def test_retry_after_of_a_429_is_honoured_and_a_400_is_not_retried(receiver) -> None:
    receiver.script = [(429, {"Retry-After": "7"}), (200, {}), (400, {})]
    waits, attempts = Waits(), Attempts()
    sink = AlertSink([Webhook(f"{receiver.url}/hook")], sleep=waits, on_attempt=attempts)

    deliver(sink, [ALERT, ALERT], receiver, 3)

    assert waits == [7.0]
    assert [(a.status, a.outcome) for a, _ in attempts] == [(429, "retry"), (200, "ok"), (400, "giveup")]
    assert (sink.status().delivered, sink.status().failed) == (1, 1)


def test_retries_stop_after_the_policy_and_the_failure_is_counted(receiver) -> None:
    receiver.script = [(503, {})] * 3
    attempts = Attempts()
    sink = AlertSink([Webhook(f"{receiver.url}/hook")], retry=RetryPolicy(max_retries=2), sleep=Waits(), on_attempt=attempts)

    deliver(sink, [ALERT], receiver, 3)

    assert [a.outcome for a, _ in attempts] == ["retry", "retry", "giveup"]
    assert sink.status().failed == 1


def test_a_full_queue_drops_and_counts_without_blocking(caplog: pytest.LogCaptureFixture) -> None:
    sink = AlertSink([Webhook("http://127.0.0.1:9/hook")], queue_size=2)  # run() never started: nothing drains

    started = time.perf_counter()
    for _ in range(5):
        sink.notify(ALERT)
    elapsed_s = time.perf_counter() - started

    status = sink.status()
    assert (status.queued, status.capacity, status.used, status.notified, status.dropped) == (2, 2, 1.0, 5, 3)
    assert elapsed_s < 0.5
    assert any(getattr(r, "alert_drop_reason", None) == "queue full" for r in caplog.records)
    asyncio.run(sink.aclose())


def test_notify_returns_at_once_while_a_delivery_is_in_flight(receiver) -> None:
    receiver.gate.clear()  # the webhook holds its answer
    sink = AlertSink([Webhook(f"{receiver.url}/hook")], sleep=Waits())

    async def main() -> float:
        task = sink.start()
        sink.notify(ALERT)
        async with asyncio.timeout(WAIT_S):
            while not receiver.arrived.is_set():  # the first POST is now waiting on the receiver
                await asyncio.sleep(0.005)
        started = time.perf_counter()
        sink.notify(ALERT)
        notify_s = time.perf_counter() - started
        receiver.gate.set()
        await sink.aclose()
        assert task.done()
        return notify_s

    notify_s = asyncio.run(main())

    assert notify_s < 0.05
    assert sink.status().delivered == 2


def test_alerts_are_logged_with_structured_fields(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="engine.sinks.alert_sink")
    sink = AlertSink([])  # no webhooks: logged only

    sink.notify(alert_from_breaker_event(tripped_event()))  # type: ignore[arg-type]

    record = next(r for r in caplog.records if getattr(r, "alert_kind", None) == "BreakerTripped")
    assert record.levelno == logging.CRITICAL
    assert record.alert_severity == "critical"  # type: ignore[attr-defined]
    assert record.alert_fields["drawdown_pct"] == 5.2  # type: ignore[attr-defined]
    assert sink.status().queued == 0
    asyncio.run(sink.aclose())


def test_sink_from_settings_reads_the_secret_url_and_never_logs_it(receiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    webhook = {"url": f"{receiver.url}/bot999:TOKEN/sendMessage", "format": "telegram", "chat_id": "7"}
    settings = AlertSettings(webhooks=[webhook], queue_size=3)
    sink = AlertSink.from_settings(settings, sleep=Waits())

    deliver(sink, [ALERT], receiver, 1)

    assert receiver.requests[0][0] == "/bot999:TOKEN/sendMessage"
    assert sink.status().capacity == 3
    assert not any("TOKEN" in r.getMessage() for r in caplog.records)


def test_aclose_gives_up_on_a_stuck_webhook_after_the_drain_timeout(receiver) -> None:
    receiver.gate.clear()
    sink = AlertSink([Webhook(f"{receiver.url}/hook")], sleep=Waits())

    async def main() -> None:
        task = sink.start()
        sink.notify(ALERT)
        await sink.aclose(drain_timeout_s=0.05)
        assert task.done()
        sink.notify(ALERT)  # after close: dropped, not queued

    asyncio.run(main())

    assert sink.status().dropped == 1
