"""The feed: market data in, in order and gap-free, without ever deciding anything about trading
(``../shared/ARCHITECTURE.md``, Feed).

Three kinds of task, each on its own so none waits for another:

* **rules** — ``exchangeInfo`` for the traded symbols (the broker's filters), retried with the shared backoff until it
  arrives; a symbol the venue does not list is a configuration error (fatal, shown);
* **stream** — the kline stream (:class:`~engine.feed.stream.KlineStream`): closed candles to the
  :class:`~engine.feed.sequencer.Sequencer`, in-progress prices straight through; it never awaits REST;
* **backfill** — one :class:`~engine.feed.backfill.BackfillWorker` per symbol, fetching that symbol's gaps.

Everything the feed learns goes to one :class:`FeedOutput` (the engine loop), synchronously, on the loop's thread.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from engine.core.filters import SymbolFilters, parse_exchange_info
from engine.core.models import Candle
from engine.errors import ExchangeError, HTTPStatusError, PapertraderError, StreamRefused
from engine.feed.backfill import MAX_SLEEP_S, BackfillWorker
from engine.feed.gaps import Gap, GapState, retry_delay_s
from engine.feed.rest import BinanceRestClient
from engine.feed.sequencer import Sequencer, SequencerOutput
from engine.feed.stream import KlineStream
from engine.feed.stream_events import KlineEvent, StreamEvent
from engine.guards.backoff import Backoff

log = logging.getLogger(__name__)

INVALID_SYMBOL = -1121
"""Binance spot REST docs, "Error codes": -1121 Invalid symbol."""


class FeedOutput(SequencerOutput, Protocol):
    """What the feed reports to (the engine loop), besides the sequencer's candles, prices, gaps and drops."""

    def rules(self, filters: Mapping[str, SymbolFilters]) -> None:
        """The venue's trading rules for the traded symbols."""

    def stream_event(self, event: StreamEvent) -> None:
        """A stream event (connection change, bad message, request reply, kline) for telemetry."""

    def backfilled(self, gap: Gap, candles: int, error: str) -> None:
        """A backfill request for ``gap`` returned ``candles`` candles, or failed with ``error``."""

    def failed(self, error: str, *, config: bool) -> None:
        """The feed cannot go on: ``config`` when the cause is the configuration (an unlisted symbol, a refused
        stream URL)."""


class Feed:
    """Bootstrap, stream and backfill for ``symbols`` (see the module docstring).

    Args:
        symbols: traded symbols; ``interval`` the kline interval and ``interval_ms`` its length.
        rest: the REST client behind its guards.
        stream: the kline stream.
        next_ms: per symbol, the open time of the next candle to process (from the database).
        gaps: gaps a previous run left open (from the database).
        warmup_candles: history a new symbol needs before it trades.
        out: where everything goes.
        backoff: the shared backoff (rules retries and backfills).
        clock: monotonic seconds; ``wall_clock`` Unix seconds.
    """

    def __init__(
        self,
        symbols: tuple[str, ...],
        *,
        interval: str,
        interval_ms: int,
        rest: BinanceRestClient,
        stream: KlineStream,
        next_ms: Mapping[str, int],
        gaps: list[Gap],
        warmup_candles: int,
        out: FeedOutput,
        backoff: Backoff,
        max_held: int,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.symbols = symbols
        self._out = out
        self._rest = rest
        self._stream = stream
        self._backoff = backoff
        self._clock = clock
        self._rng = rng or random.Random()
        self.rules_loaded = False
        self.sequencer = Sequencer(
            symbols,
            interval_ms=interval_ms,
            next_ms=next_ms,
            warmup_candles=warmup_candles,
            out=self,
            clock=wall_clock,
            max_held=max_held,
        )
        self.workers = {
            s: BackfillWorker(
                s,
                interval=interval,
                interval_ms=interval_ms,
                sequencer=self.sequencer,
                rest=rest,
                backoff=backoff,
                report=out.backfilled,
                clock=clock,
                rng=self._rng,
            )
            for s in symbols
        }
        self._restored = gaps

    # ------------------------------------------------------------------ SequencerOutput (forwarded)
    def deliver(self, candle: Candle, source: str) -> None:
        self._out.deliver(candle, source)

    def price(self, candle: Candle, time_ms: int) -> None:
        self._out.price(candle, time_ms)

    def gap_changed(self, gap: Gap) -> None:
        self._out.gap_changed(gap)
        if gap.state is GapState.OPEN and gap.symbol in self.workers:
            self.workers[gap.symbol].wake()

    def dropped(self, candle: Candle, reason: str) -> None:
        self._out.dropped(candle, reason)

    # ------------------------------------------------------------------ tasks
    async def run(self) -> None:
        """Run every task until cancelled (or until the stream gives up, reported through ``failed``)."""
        self.sequencer.restore(self._restored)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._load_rules(), name="feed-rules")
            tasks.create_task(self._consume(), name="feed-stream")
            for symbol, worker in self.workers.items():
                tasks.create_task(worker.run(), name=f"backfill-{symbol}")

    async def _load_rules(self) -> None:
        """exchangeInfo until it arrives; an unlisted symbol is fatal."""
        attempt = 0
        while True:
            try:
                filters = parse_exchange_info(await self._rest.exchange_info(self.symbols, max_sleep_s=MAX_SLEEP_S))
            except HTTPStatusError as exc:
                if exc.code == INVALID_SYMBOL:
                    unlisted = await self._unlisted()
                    names = ", ".join(unlisted) if unlisted else "one of " + ", ".join(self.symbols)
                    self._out.failed(f"trading.symbols: the venue does not list {names} ({exc.msg})", config=True)
                    return
                attempt = await self._wait_after(exc, attempt)
                continue
            except ExchangeError as exc:
                attempt = await self._wait_after(exc, attempt)
                continue
            missing = [s for s in self.symbols if s not in filters]
            if missing:
                self._out.failed(f"trading.symbols: the venue does not list {', '.join(missing)}", config=True)
                return
            self._out.rules(filters)
            self.rules_loaded = True
            return

    async def _unlisted(self) -> list[str]:
        """The symbols exchangeInfo refuses one by one with -1121 (empty when that cannot be told)."""
        unlisted = []
        for symbol in self.symbols:
            try:
                await self._rest.exchange_info((symbol,), max_sleep_s=MAX_SLEEP_S)
            except HTTPStatusError as exc:
                if exc.code != INVALID_SYMBOL:
                    return []
                unlisted.append(symbol)
            except ExchangeError:
                return []
        return unlisted

    async def _wait_after(self, exc: ExchangeError, attempt: int) -> int:
        delay_s = retry_delay_s(exc, attempts=attempt + 1, backoff=self._backoff, rng=self._rng)
        log.warning("exchangeInfo failed (%s); retrying in %.1f s", exc, delay_s)
        await asyncio.sleep(delay_s)
        return attempt + 1

    async def _consume(self) -> None:
        sequencer, out = self.sequencer, self._out
        try:
            async for event in self._stream.events():
                out.stream_event(event)
                if isinstance(event, KlineEvent):
                    candle = event.candle
                    if candle.closed:
                        sequencer.closed(candle)
                    else:
                        sequencer.in_progress(candle, max(event.event_time_ms, candle.open_time_ms))
        except StreamRefused as exc:
            out.failed(str(exc), config=True)
        except PapertraderError as exc:
            out.failed(f"market stream: {exc}", config=False)
