"""The sequencer: each symbol's closed candles reach the core in order and without holes, whatever the stream does.

Per symbol it knows ``next_ms``, the open time of the next candle the core must process, and the *horizon*, the
newest closed candle known to exist (seen closed on the stream, or implied by an in-progress update of the one
after). Every minute in ``[next_ms, horizon]`` is either **held** (received ahead of its turn) or **missing**; the
missing minutes are always covered by open :class:`~engine.feed.gaps.Gap` s, which the backfill worker fetches.

* A closed candle at ``next_ms`` (and no gap before it) is delivered at once; one beyond the horizon opens a gap for
  the minutes in between and is held; one before ``next_ms`` or already held is dropped (duplicate, out of order).
* An in-progress update is passed on at once (it marks the portfolio and runs the exits, gap or no gap); one whose
  candle opens more than an interval after the horizon reveals missed closes and opens a gap for them.
* Backfilled candles are held too; the venue's silence on a minute it was asked for (an exchange outage) marks that
  minute absent. Whenever ``next_ms`` is held or absent the sequencer delivers and moves on, so the held candles
  are processed in order as soon as the gap before them is filled.
* A gap closes once ``next_ms`` has passed its last minute, i.e. once its candles have been **processed**.
* A symbol with no processed candle at all (a new database) starts with a warm-up gap: the ``warmup_candles`` closed
  candles before the first one the stream shows, delivered as ``bootstrap`` (indicators only, no trading).

Held candles are bounded: at most ``max_held`` per symbol. At the bound a closed candle from the stream is not kept;
its minute becomes missing (the last gap is extended, or a new one opened) and is fetched over REST in its turn.
Memory stays bounded and nothing is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from engine.core.models import Candle
from engine.feed.gaps import Gap, GapKind

DEFAULT_MAX_HELD = 5_000
"""Closed candles held per symbol behind an open gap (about 3.5 days of 1m candles)."""


class SequencerOutput(Protocol):
    """Where the sequencer's results go (the engine loop)."""

    def deliver(self, candle: Candle, source: str) -> None:
        """The next closed candle of its symbol, in order; ``source`` ``bootstrap`` for warm-up history."""

    def price(self, candle: Candle, time_ms: int) -> None:
        """An in-progress kline, seen at market time ``time_ms``."""

    def gap_changed(self, gap: Gap) -> None:
        """A gap opened, was restored, changed its span, or closed (:attr:`Gap.state`)."""

    def dropped(self, candle: Candle, reason: str) -> None:
        """A closed candle that was not delivered: a duplicate or older than the series' next candle."""


@dataclass(slots=True)
class _Series:
    next_ms: int | None
    horizon_ms: int | None
    held: dict[int, tuple[Candle, str] | None] = field(default_factory=dict)
    """Open time → (candle, source) received ahead of its turn, or ``None`` for a minute the venue has no candle for."""
    gaps: list[Gap] = field(default_factory=list)
    """Open gaps, in time order."""
    warmup_until_ms: int = -1
    """Candles opening at or before this are warm-up history (source ``bootstrap``)."""


class Sequencer:
    """Orders each symbol's closed candles and tracks their gaps (rules in the module docstring). Synchronous.

    Args:
        symbols: the traded symbols.
        interval_ms: the kline interval, ms.
        next_ms: per symbol, the open time of the next candle to process (last processed + interval), from the
            database; a symbol without one starts with a warm-up gap.
        warmup_candles: closed candles of history a new symbol needs before it trades.
        max_held: closed candles held per symbol (see the module docstring).
        out: receives candles, prices, gap changes and drops.
        clock: the wall clock, Unix seconds (stamps when gaps open and close).
    """

    def __init__(
        self,
        symbols: Iterable[str],
        *,
        interval_ms: int,
        next_ms: Mapping[str, int],
        warmup_candles: int,
        out: SequencerOutput,
        clock: Callable[[], float],
        max_held: int = DEFAULT_MAX_HELD,
    ) -> None:
        self.interval_ms = interval_ms
        self._clock = clock
        self.warmup_candles = warmup_candles
        self.max_held = max_held
        self._out = out
        self._series = {
            s: _Series(next_ms.get(s), None if s not in next_ms else next_ms[s] - interval_ms) for s in symbols
        }

    # ------------------------------------------------------------------ reading
    def gaps(self, symbol: str | None = None) -> list[Gap]:
        """The open gaps (of ``symbol``, or of every symbol), in time order per symbol."""
        series = self._series.values() if symbol is None else [self._series[symbol]]
        return [g for s in series for g in s.gaps]

    def next_gap_to_fetch(self, symbol: str) -> Gap | None:
        """The earliest open gap of ``symbol`` with minutes still to fetch."""
        return next((g for g in self._series[symbol].gaps if not g.fetched), None)

    def held(self, symbol: str) -> int:
        """Closed candles of ``symbol`` waiting behind a gap."""
        return sum(1 for item in self._series[symbol].held.values() if item is not None)

    def next_ms(self, symbol: str) -> int | None:
        return self._series[symbol].next_ms

    # ------------------------------------------------------------------ inputs
    def restore(self, gaps: Iterable[Gap]) -> None:
        """Re-open the gaps a previous run left open (from the ``gaps`` table), clipped to what is still unprocessed;
        a gap wholly processed already is closed. Minutes between the last processed candle and the restored gaps
        that no gap covers (held candles lost with the previous process) get gaps of their own."""
        for gap in sorted(gaps, key=lambda g: g.first_ms):
            s = self._series.get(gap.symbol)
            if s is None or s.next_ms is None or gap.last_ms < s.next_ms:
                if s is not None:
                    self._close(gap, "already processed")
                continue
            gap.first_ms = max(gap.first_ms, s.next_ms)
            gap.cursor_ms = gap.first_ms
            covered_to = s.horizon_ms + self.interval_ms if s.horizon_ms is not None else s.next_ms
            self._cover(s, gap.symbol, covered_to, gap.first_ms - self.interval_ms)
            s.gaps.append(gap)
            s.horizon_ms = max(s.horizon_ms or gap.last_ms, gap.last_ms)
            self._out.gap_changed(gap)

    def closed(self, candle: Candle, source: str = "stream") -> None:
        """A closed candle from the stream."""
        s = self._series.get(candle.symbol)
        if s is None:
            return
        t = candle.open_time_ms
        if s.next_ms is None:
            self._start_warmup(s, candle.symbol, last_closed_ms=t, gap_last_ms=t - self.interval_ms)
        assert s.next_ms is not None and s.horizon_ms is not None
        if t < s.next_ms or s.held.get(t) is not None:
            if s.held.get(t) is not None:
                reason = "a duplicate of a held candle"
            elif t == s.next_ms - self.interval_ms:
                reason = "a duplicate of the last processed candle"
            else:
                reason = "older than the last processed candle"
            self._out.dropped(candle, reason)
            return
        if t > s.horizon_ms:
            self._cover(s, candle.symbol, s.horizon_ms + self.interval_ms, t - self.interval_ms)
            s.horizon_ms = t
        if len(s.held) >= self.max_held and t != s.next_ms:
            self._cover(s, candle.symbol, t, t)  # at the bound: the minute is fetched later instead of kept
            return
        s.held[t] = (candle, source)
        self._drain(s)

    def in_progress(self, candle: Candle, time_ms: int) -> None:
        """An in-progress kline: passed on at once; it may reveal missed closes (a gap)."""
        s = self._series.get(candle.symbol)
        if s is None:
            return
        last_closed = candle.open_time_ms - self.interval_ms
        if s.next_ms is None:
            self._start_warmup(s, candle.symbol, last_closed_ms=last_closed, gap_last_ms=last_closed)
        elif s.horizon_ms is not None and last_closed > s.horizon_ms:
            self._cover(s, candle.symbol, s.horizon_ms + self.interval_ms, last_closed)
            s.horizon_ms = last_closed
        self._out.price(candle, time_ms)

    def backfilled(self, gap: Gap, candles: Iterable[Candle], *, covered_to_ms: int) -> None:
        """The venue's answer for ``gap``'s minutes ``gap.cursor_ms`` … ``covered_to_ms``: ``candles`` (closed) are
        held; minutes it did not return are marked absent. Then the series moves on as far as it can."""
        s = self._series[gap.symbol]
        assert s.next_ms is not None
        iv = self.interval_ms
        covered_to_ms = min(covered_to_ms, gap.last_ms)
        for candle in candles:
            t = candle.open_time_ms
            if gap.cursor_ms <= t <= covered_to_ms and t >= s.next_ms and s.held.get(t) is None:
                s.held[t] = (candle, "backfill")
        for t in range(max(gap.cursor_ms, s.next_ms), covered_to_ms + iv, iv):
            if t not in s.held:
                s.held[t] = None
                gap.absent += 1
        gap.cursor_ms = max(gap.cursor_ms, covered_to_ms + iv)
        self._drain(s)

    # ------------------------------------------------------------------ internals
    def _start_warmup(self, s: _Series, symbol: str, *, last_closed_ms: int, gap_last_ms: int) -> None:
        first = last_closed_ms - (self.warmup_candles - 1) * self.interval_ms
        s.next_ms, s.horizon_ms, s.warmup_until_ms = first, last_closed_ms, last_closed_ms
        if gap_last_ms >= first:
            self._open(s, Gap(symbol, first, gap_last_ms, GapKind.WARMUP))

    def _cover(self, s: _Series, symbol: str, first_ms: int, last_ms: int) -> None:
        """Make sure every missing minute in ``first_ms`` … ``last_ms`` is in a gap: extend the last gap when it
        ends right before, else open one per uncovered run."""
        iv = self.interval_ms
        start = first_ms
        for gap in s.gaps:
            if gap.last_ms < start or gap.first_ms > last_ms:
                continue
            if gap.first_ms > start:
                self._add(s, symbol, start, gap.first_ms - iv)
            start = gap.last_ms + iv
        if start <= last_ms:
            self._add(s, symbol, start, last_ms)

    def _add(self, s: _Series, symbol: str, first_ms: int, last_ms: int) -> None:
        last = s.gaps[-1] if s.gaps else None
        if last is not None and last.last_ms + self.interval_ms == first_ms and last.kind is GapKind.GAP:
            last.last_ms = last_ms
            self._out.gap_changed(last)
            return
        self._open(s, Gap(symbol, first_ms, last_ms))

    def _open(self, s: _Series, gap: Gap) -> None:
        gap.opened_at_s = self._clock()
        s.gaps.append(gap)
        s.gaps.sort(key=lambda g: g.first_ms)
        self._out.gap_changed(gap)

    def _drain(self, s: _Series) -> None:
        assert s.next_ms is not None
        iv, held, out = self.interval_ms, s.held, self._out
        while s.next_ms in held:
            item = held.pop(s.next_ms)
            if item is not None:
                candle, source = item
                out.deliver(candle, "bootstrap" if candle.open_time_ms <= s.warmup_until_ms else source)
            s.next_ms += iv
        while s.gaps and s.gaps[0].last_ms < s.next_ms:
            gap = s.gaps.pop(0)
            absent = f"; the venue has no candle for {gap.absent} of its {gap.minutes(iv)} minute(s)" if gap.absent else ""
            self._close(gap, f"filled{absent}")

    def _close(self, gap: Gap, detail: str) -> None:
        gap.detail = detail
        gap.closed_at_s = self._clock()
        self._out.gap_changed(gap)
