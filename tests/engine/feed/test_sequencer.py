"""The sequencer, by hand: closed candles reach the core in order and without holes, gaps open and close, held candles
are bounded, prices never wait."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from engine.core.models import Candle
from engine.feed.gaps import Gap, GapKind, GapState
from engine.feed.sequencer import Sequencer

M = 60_000
T0 = 1_619_114_400_000  # 2021-04-22 18:00 UTC


def c(i: int, *, closed: bool = True, symbol: str = "BTCUSDT") -> Candle:
    """Candle ``i`` minutes after T0 (its close is 100 + i, so candles are told apart)."""
    p = Decimal(100 + i)
    return Candle(symbol, T0 + i * M, T0 + (i + 1) * M - 1, p, p, p, p, Decimal(1), closed=closed)


@dataclass
class Out:
    delivered: list[tuple[int, str]] = field(default_factory=list)
    prices: list[int] = field(default_factory=list)
    gaps: list[tuple[str, int, int, str, str]] = field(default_factory=list)
    drops: list[tuple[int, str]] = field(default_factory=list)

    def deliver(self, candle: Candle, source: str) -> None:
        self.delivered.append(((candle.open_time_ms - T0) // M, source))

    def price(self, candle: Candle, time_ms: int) -> None:
        self.prices.append((candle.open_time_ms - T0) // M)

    def gap_changed(self, gap: Gap) -> None:
        self.gaps.append(((gap.first_ms - T0) // M, (gap.last_ms - T0) // M, gap.kind.value, gap.state.value, gap.detail))

    def dropped(self, candle: Candle, reason: str) -> None:
        self.drops.append(((candle.open_time_ms - T0) // M, reason))

    def minutes(self) -> list[int]:
        return [i for i, _ in self.delivered]


def sequencer(out: Out, *, next_i: int | None = 1, warmup: int = 3, max_held: int = 100) -> Sequencer:
    next_ms = {} if next_i is None else {"BTCUSDT": T0 + next_i * M}
    return Sequencer(("BTCUSDT",), interval_ms=M, next_ms=next_ms, warmup_candles=warmup, out=out, clock=lambda: 1e9, max_held=max_held)


def test_candles_in_order_go_straight_through() -> None:
    out = Out()
    seq = sequencer(out)
    for i in (1, 2, 3):
        seq.closed(c(i))
    assert out.delivered == [(1, "stream"), (2, "stream"), (3, "stream")]
    assert out.gaps == [] and seq.next_ms("BTCUSDT") == T0 + 4 * M


def test_a_skipped_close_opens_a_gap_holds_what_follows_and_delivers_it_in_order_once_filled() -> None:
    out = Out()
    seq = sequencer(out)
    seq.closed(c(1))
    seq.closed(c(4))
    seq.closed(c(5))
    assert out.minutes() == [1]
    assert out.gaps == [(2, 3, "gap", "OPEN", "")]
    assert seq.held("BTCUSDT") == 2
    (gap,) = seq.gaps("BTCUSDT")
    assert seq.next_gap_to_fetch("BTCUSDT") is gap

    seq.backfilled(gap, [c(2), c(3)], covered_to_ms=T0 + 3 * M)

    assert out.delivered == [(1, "stream"), (2, "backfill"), (3, "backfill"), (4, "stream"), (5, "stream")]
    assert out.gaps[-1] == (2, 3, "gap", "CLOSED", "filled")
    assert seq.gaps() == [] and seq.held("BTCUSDT") == 0


def test_duplicates_and_older_candles_are_dropped_with_the_reason() -> None:
    out = Out()
    seq = sequencer(out)
    seq.closed(c(1))
    seq.closed(c(3))
    seq.closed(c(1))
    seq.closed(c(0))
    seq.closed(c(3))
    assert out.drops == [
        (1, "a duplicate of the last processed candle"),
        (0, "older than the last processed candle"),
        (3, "a duplicate of a held candle"),
    ]
    assert out.minutes() == [1]


def test_a_late_stream_candle_fills_its_minute_of_a_gap() -> None:
    out = Out()
    seq = sequencer(out)
    seq.closed(c(1))
    seq.closed(c(3))  # gap [2, 2]
    seq.closed(c(2))  # arrives late (out of order), before the backfill
    assert out.minutes() == [1, 2, 3]
    assert out.gaps[-1][3] == "CLOSED"


def test_an_in_progress_price_passes_at_once_and_reveals_missed_closes() -> None:
    out = Out()
    seq = sequencer(out)
    seq.closed(c(1))
    seq.in_progress(c(5, closed=False), T0 + 5 * M + 1_000)
    assert out.prices == [5], "the price is passed on, gap or no gap"
    assert out.gaps == [(2, 4, "gap", "OPEN", "")]
    seq.in_progress(c(5, closed=False), T0 + 5 * M + 2_000)
    assert len(out.gaps) == 1, "the same horizon: no new gap"


def test_a_new_symbol_starts_with_a_warm_up_gap_delivered_as_bootstrap() -> None:
    out = Out()
    seq = sequencer(out, next_i=None, warmup=3)
    seq.in_progress(c(10, closed=False), T0 + 10 * M + 500)
    assert out.gaps == [(7, 9, "warmup", "OPEN", "")]
    (gap,) = seq.gaps()
    seq.closed(c(10))
    seq.backfilled(gap, [c(7), c(8), c(9)], covered_to_ms=T0 + 9 * M)
    assert out.delivered == [(7, "bootstrap"), (8, "bootstrap"), (9, "bootstrap"), (10, "stream")]


def test_a_first_closed_candle_is_part_of_the_warm_up() -> None:
    out = Out()
    seq = sequencer(out, next_i=None, warmup=3)
    seq.closed(c(10))
    (gap,) = seq.gaps()
    assert (gap.first_ms, gap.last_ms, gap.kind) == (T0 + 8 * M, T0 + 9 * M, GapKind.WARMUP)
    seq.backfilled(gap, [c(8), c(9)], covered_to_ms=T0 + 9 * M)
    assert out.delivered == [(8, "bootstrap"), (9, "bootstrap"), (10, "bootstrap")]


def test_minutes_the_venue_has_no_candle_for_are_skipped_and_counted() -> None:
    """An exchange outage: the backfill answer covers the gap but has no candle for two of its minutes."""
    out = Out()
    seq = sequencer(out)
    seq.closed(c(1))
    seq.closed(c(6))  # gap [2, 5]
    (gap,) = seq.gaps()
    seq.backfilled(gap, [c(2), c(5)], covered_to_ms=T0 + 5 * M)
    assert out.minutes() == [1, 2, 5, 6]
    assert out.gaps[-1] == (2, 5, "gap", "CLOSED", "filled; the venue has no candle for 2 of its 4 minute(s)")


def test_a_page_that_does_not_cover_the_gap_moves_its_cursor_only() -> None:
    out = Out()
    seq = sequencer(out)
    seq.closed(c(1))
    seq.closed(c(7))  # gap [2, 6]
    (gap,) = seq.gaps()
    seq.backfilled(gap, [c(2), c(3)], covered_to_ms=T0 + 3 * M)  # a full page ended at minute 3
    assert gap.cursor_ms == T0 + 4 * M and not gap.fetched and gap.state is GapState.OPEN
    assert out.minutes() == [1, 2, 3]
    seq.backfilled(gap, [c(4), c(5), c(6)], covered_to_ms=T0 + 6 * M)
    assert out.minutes() == [1, 2, 3, 4, 5, 6, 7]


def test_a_later_gap_filled_first_waits_for_the_earlier_one() -> None:
    out = Out()
    seq = sequencer(out)
    seq.closed(c(1))
    seq.closed(c(3))  # gap A [2, 2]
    seq.closed(c(5))  # gap B [4, 4]
    gap_a, gap_b = seq.gaps()
    seq.backfilled(gap_b, [c(4)], covered_to_ms=T0 + 4 * M)
    assert out.minutes() == [1] and gap_b.fetched and [g.state for g in (gap_a, gap_b)] == [GapState.OPEN] * 2
    assert seq.next_gap_to_fetch("BTCUSDT") is gap_a
    seq.backfilled(gap_a, [c(2)], covered_to_ms=T0 + 2 * M)
    assert out.minutes() == [1, 2, 3, 4, 5]
    assert [g[3] for g in out.gaps[-2:]] == ["CLOSED", "CLOSED"]


def test_at_the_bound_a_candle_is_not_held_but_added_to_the_gap_and_nothing_is_lost() -> None:
    out = Out()
    seq = sequencer(out, max_held=2)
    seq.closed(c(1))
    seq.closed(c(3))  # gap [2, 2]; 3 held
    seq.closed(c(4))  # held (2 held now)
    seq.closed(c(5))  # at the bound: not held, becomes missing
    seq.closed(c(6))
    assert seq.held("BTCUSDT") == 2
    spans = [(g.first_ms, g.last_ms) for g in seq.gaps()]
    assert spans == [(T0 + 2 * M, T0 + 2 * M), (T0 + 5 * M, T0 + 6 * M)], "the later minutes form a gap of their own"
    first, second = seq.gaps()
    seq.backfilled(first, [c(2)], covered_to_ms=T0 + 2 * M)
    seq.backfilled(second, [c(5), c(6)], covered_to_ms=T0 + 6 * M)
    assert out.minutes() == [1, 2, 3, 4, 5, 6]
    assert seq.gaps() == []


def test_restored_gaps_are_clipped_and_unprocessed_minutes_around_them_get_gaps_of_their_own() -> None:
    """Last processed: minute 1. The file has an open gap [4, 6] (minutes 2-3 were held and lost with the process)
    and one [0, 0] already behind the series."""
    out = Out()
    seq = sequencer(out, next_i=2)
    stale = Gap("BTCUSDT", T0, T0, attempts=1)
    kept = Gap("BTCUSDT", T0 + 4 * M, T0 + 6 * M, attempts=3, last_error="HTTP 429")
    seq.restore([kept, stale])

    assert stale.state is GapState.CLOSED and stale.detail == "already processed"
    spans = [((g.first_ms - T0) // M, (g.last_ms - T0) // M, g.attempts) for g in seq.gaps()]
    assert spans == [(2, 3, 0), (4, 6, 3)]
    first, restored = seq.gaps()
    assert restored is kept and restored.cursor_ms == T0 + 4 * M
    seq.backfilled(first, [c(2), c(3)], covered_to_ms=T0 + 3 * M)
    seq.backfilled(restored, [c(4), c(5), c(6)], covered_to_ms=T0 + 6 * M)
    seq.closed(c(7))
    assert out.minutes() == [2, 3, 4, 5, 6, 7]


@pytest.mark.parametrize("symbol", ["ETHUSDT", "DOGEUSDT"])
def test_symbols_it_does_not_trade_are_ignored(symbol: str) -> None:
    out = Out()
    seq = sequencer(out)
    seq.closed(c(1, symbol=symbol))
    seq.in_progress(c(2, closed=False, symbol=symbol), T0 + 2 * M)
    assert out == Out()
