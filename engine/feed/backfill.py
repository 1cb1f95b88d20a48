"""The backfill worker: one task per symbol fetching its open gaps over REST, through the REST guards.

The worker takes the symbol's earliest gap with minutes left to fetch and asks ``/api/v3/klines`` for them, a page
(at most 1000 candles) at a time; the answer goes to the :class:`~engine.feed.sequencer.Sequencer`, which delivers
the candles in order. A request that fails — 429, 418, 5xx, a timeout, an open API breaker — leaves the gap open and
sets its next attempt after the ``Retry-After``, the ban's end or the shared backoff
(:func:`~engine.feed.gaps.retry_delay_s`); the worker then sleeps until that time or until a new gap wakes it.
It runs in its own task: the stream and the protection of open positions never wait for it. REST calls are made
with a short ``max_sleep_s``, so not even the REST client's own retries sleep long inside it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable

from engine.errors import ExchangeError
from engine.feed.gaps import Gap, retry_delay_s
from engine.feed.rest import KLINES_MAX_LIMIT, BinanceRestClient
from engine.feed.sequencer import Sequencer
from engine.guards.backoff import Backoff

log = logging.getLogger(__name__)

MAX_SLEEP_S = 2.0
"""The longest a REST retry may sleep inside a backfill request; longer waits go back to the gap's schedule."""

BackfillReport = Callable[[Gap, int, str], None]
"""``report(gap, candles, error)`` after each request: candles received, or the error (``""`` on success)."""


class BackfillWorker:
    """Fills ``symbol``'s gaps (see the module docstring).

    Args:
        symbol: the symbol whose gaps this worker fetches.
        interval: kline interval (``"1m"``); ``interval_ms`` its length.
        sequencer: owns the gaps and takes the candles.
        rest: the REST client (its guards apply).
        backoff: delays between failed attempts of one gap (the shared backoff).
        report: called after every request.
        clock: monotonic seconds, for the schedule.
        rng: jitter source.
    """

    def __init__(
        self,
        symbol: str,
        *,
        interval: str,
        interval_ms: int,
        sequencer: Sequencer,
        rest: BinanceRestClient,
        backoff: Backoff,
        report: BackfillReport,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.symbol = symbol
        self._interval = interval
        self._interval_ms = interval_ms
        self._sequencer = sequencer
        self._rest = rest
        self._backoff = backoff
        self._report = report
        self._clock = clock
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A gap of this symbol opened or changed: look again now."""
        self._wake.set()

    async def run(self) -> None:
        """Fetch gaps until cancelled."""
        while True:
            self._wake.clear()
            gap = self._sequencer.next_gap_to_fetch(self.symbol)
            if gap is None:
                await self._wake.wait()
                continue
            wait_s = gap.due_s - self._clock()
            if wait_s > 0:
                try:
                    async with asyncio.timeout(wait_s):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                continue
            await self.fetch(gap)

    async def fetch(self, gap: Gap) -> None:
        """One request for ``gap``'s next page; its answer (or failure) is applied before returning. The span asked
        for is fixed before the request: the gap may grow while it is in flight, and only the minutes asked for can
        be declared absent."""
        iv = self._interval_ms
        first_ms, last_ms = gap.cursor_ms, gap.last_ms
        try:
            page = await self._rest.klines(
                self.symbol,
                self._interval,
                start_ms=first_ms,
                end_ms=last_ms + iv - 1,
                limit=KLINES_MAX_LIMIT,
                server_time_ms=last_ms + iv,
                max_sleep_s=MAX_SLEEP_S,
            )
        except ExchangeError as exc:
            delay_s = retry_delay_s(exc, attempts=gap.attempts + 1, backoff=self._backoff, rng=self._rng)
            gap.failed(str(exc), delay_s=delay_s, now_s=self._clock())
            log.warning("backfill of %s from %d failed (attempt %d), retrying in %.1f s: %s",
                        self.symbol, gap.cursor_ms, gap.attempts, delay_s, exc)
            self._report(gap, 0, str(exc))
            return
        candles = [c for c in page if c.closed and first_ms <= c.open_time_ms <= last_ms]
        covered_to_ms = page[-1].open_time_ms if len(page) >= KLINES_MAX_LIMIT else last_ms
        self._report(gap, len(candles), "")
        self._sequencer.backfilled(gap, candles, covered_to_ms=covered_to_ms)

