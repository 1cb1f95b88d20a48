"""The backfill worker against the real REST client and its guards, the network replaced by ``httpx.MockTransport``:
a gap is fetched and delivered; a 429, a 418 or a timeout leaves it open and sets the next attempt after the
``Retry-After``, the ban or the backoff, without the client sleeping it out; a gap growing while its request is in
flight loses no minute."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest

from engine.core.models import Candle
from engine.errors import HostBanned, HTTPStatusError, RateLimitExceeded, TransportError
from engine.feed.backfill import MAX_SLEEP_S, BackfillWorker
from engine.feed.gaps import Gap, retry_delay_s
from engine.feed.rest import BinanceRestClient
from engine.feed.sequencer import Sequencer
from engine.guards.backoff import Backoff
from engine.guards.retry import RetryAttempt

M = 60_000
T0 = 1_619_114_400_000


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class Out:
    def __init__(self) -> None:
        self.delivered: list[int] = []

    def deliver(self, candle: Candle, source: str) -> None:
        self.delivered.append((candle.open_time_ms - T0) // M)

    def price(self, candle: Candle, time_ms: int) -> None: ...

    def gap_changed(self, gap: Gap) -> None: ...

    def dropped(self, candle: Candle, reason: str) -> None: ...


def row(i: int) -> list[object]:
    """A REST kline row for minute ``i`` (Binance spot REST docs, "Kline/Candlestick data")."""
    p = str(100 + i)
    return [T0 + i * M, p, p, p, p, "1", T0 + (i + 1) * M - 1, p, 1, "0.5", p, "0"]


def candle(i: int) -> Candle:
    p = Decimal(100 + i)
    return Candle("BTCUSDT", T0 + i * M, T0 + (i + 1) * M - 1, p, p, p, p, Decimal(1))


Handler = Callable[[httpx.Request], httpx.Response]


def setup(handler: Handler) -> tuple[BackfillWorker, Sequencer, Out, Clock, list[RetryAttempt]]:
    out, clock, attempts = Out(), Clock(), []
    sequencer = Sequencer(("BTCUSDT",), interval_ms=M, next_ms={"BTCUSDT": T0 + M}, warmup_candles=3, out=out, clock=lambda: 1e9)
    rest = BinanceRestClient(
        "https://api.test", transport=httpx.MockTransport(handler), clock=clock, sleep=clock.sleep, on_attempt=attempts.append
    )
    reports: list[tuple[int, str]] = []
    worker = BackfillWorker(
        "BTCUSDT", interval="1m", interval_ms=M, sequencer=sequencer, rest=rest, backoff=Backoff(base_s=1, cap_s=30, jitter=0),
        report=lambda gap, n, error: reports.append((n, error)), clock=clock, rng=random.Random(1),
    )
    return worker, sequencer, out, clock, attempts


def klines_from(request: httpx.Request) -> list[list[object]]:
    start, end = int(request.url.params["startTime"]), int(request.url.params["endTime"])
    return [row(i) for i in range(1, 60) if start <= T0 + i * M <= end]


def test_a_gap_is_fetched_with_its_span_and_delivered_in_order() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json=klines_from(request))

    worker, sequencer, out, _, _ = setup(handler)
    sequencer.closed(candle(1))
    sequencer.closed(candle(5))  # gap [2, 4]
    (gap,) = sequencer.gaps()
    asyncio.run(worker.fetch(gap))

    (request,) = requests
    assert (request.url.params["startTime"], request.url.params["endTime"]) == (str(T0 + 2 * M), str(T0 + 5 * M - 1))
    assert out.delivered == [1, 2, 3, 4, 5]
    assert sequencer.gaps() == []


@pytest.mark.parametrize(
    ("status", "headers", "error", "wait_s"),
    [
        (429, {"Retry-After": "40"}, "HTTP 429", 40.0),
        (418, {"Retry-After": "120"}, "HTTP 418", 120.0),
        (503, {}, "HTTP 503", 1.0),
    ],
    ids=["429", "418", "503"],
)
def test_a_failure_leaves_the_gap_open_until_the_server_allows_again_without_sleeping_it_out(
    status: int, headers: dict[str, str], error: str, wait_s: float
) -> None:
    worker, sequencer, out, clock, attempts = setup(lambda r: httpx.Response(status, json={"code": -1003, "msg": "x"}, headers=headers))
    sequencer.closed(candle(1))
    sequencer.closed(candle(3))
    (gap,) = sequencer.gaps()
    asyncio.run(worker.fetch(gap))

    assert out.delivered == [1] and sequencer.gaps() == [gap]
    assert gap.attempts == 1 and error in gap.last_error
    assert gap.due_s >= clock.now + wait_s - (sum(clock.sleeps) if status == 503 else 0)
    assert all(s <= MAX_SLEEP_S for s in clock.sleeps), "no retry inside the request slept long"
    if status == 429:
        assert clock.sleeps == [] and attempts[-1].outcome == "deferred"


def test_the_worker_waits_for_the_due_time_then_fills_the_gap() -> None:
    answers = [httpx.Response(429, json={"code": -1003, "msg": "x"}, headers={"Retry-After": "30"})]

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0) if answers else httpx.Response(200, json=klines_from(request))

    worker, sequencer, out, clock, _ = setup(handler)
    sequencer.closed(candle(1))
    sequencer.closed(candle(3))

    async def main() -> None:
        task = asyncio.create_task(worker.run())
        while sequencer.gaps():
            await asyncio.sleep(0.01)
            clock.now += 5.0  # time passes; the worker sleeps on real asyncio time, checked against the clock
            worker.wake()
        task.cancel()

    asyncio.run(main())
    assert out.delivered == [1, 2, 3]


def test_a_gap_that_grows_while_its_request_is_in_flight_loses_no_minute() -> None:
    """An in-progress update reveals more missed minutes while the worker waits for the venue: the gap grows, but only
    the minutes asked for may be marked absent; the new ones are fetched by the next request."""
    sequencer_ref: list[Sequencer] = []
    spans: list[tuple[int, int]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        spans.append((int(request.url.params["startTime"]), int(request.url.params["endTime"])))
        if len(spans) == 1:
            sequencer_ref[0].in_progress(with_open(6, closed=False), T0 + 6 * M)  # the gap [2, 3] becomes [2, 5]
        return httpx.Response(200, json=klines_from(request))

    worker, sequencer, out, _, _ = setup(handler)
    sequencer_ref.append(sequencer)
    sequencer.closed(candle(1))
    sequencer.in_progress(with_open(4, closed=False), T0 + 4 * M)  # gap [2, 3]
    (gap,) = sequencer.gaps()
    asyncio.run(worker.fetch(gap))
    assert gap.last_ms == T0 + 5 * M and not gap.fetched and gap.absent == 0
    asyncio.run(worker.fetch(gap))
    assert spans[1] == (T0 + 4 * M, T0 + 6 * M - 1)
    assert out.delivered == [1, 2, 3, 4, 5] and gap.absent == 0


def with_open(i: int, *, closed: bool) -> Candle:
    c = candle(i)
    return Candle(c.symbol, c.open_time_ms, c.close_time_ms, c.open, c.high, c.low, c.close, c.volume, closed=closed)


@pytest.mark.parametrize(
    ("exc", "expected_s"),
    [
        (HTTPStatusError("x", status=429, retry_after_s=45.0), 45.0),
        (HostBanned("x", host="h", retry_after_s=90.0, until_s=0.0), 90.0),
        (RateLimitExceeded("x", weight=2, wait_s=12.0, max_wait_s=10.0), 12.0),
        (TransportError("x"), 4.0),
    ],
    ids=["retry-after", "ban", "rate-limit", "backoff"],
)
def test_retry_delay_is_the_backoff_but_never_before_the_server_allows(exc: Exception, expected_s: float) -> None:
    backoff = Backoff(base_s=1.0, cap_s=30.0, jitter=0.0)
    assert retry_delay_s(exc, attempts=3, backoff=backoff, rng=random.Random(1)) == expected_s
