"""Klines of every interval aggregated from the 1m data: hand-computed values, an independent reference, paging,
outages and the kline in progress."""

from __future__ import annotations

from array import array
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from simulator.dataset import dataset_from_columns
from simulator.interval_klines import klines, merge
from simulator.intervals import INTERVAL_NAMES, KlineInterval
from simulator.kline import Kline, rest_row
from simulator.market import Market
from simulator.replay import ReplayClock
from tests.simulator.conftest import FakeClock

MINUTE_MS = 60_000


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def tiny_market(now: str) -> Market:
    """BTCUSDT with six 1m candles from 2021-04-21 00:00 UTC, 00:04 missing (an outage), trades given; market time
    frozen at ``now``."""
    rows = [
        # open, high, low, close, volume, trades
        ("00:00", "10", "12", "9", "11", "1", 2),
        ("00:01", "11", "15", "10", "14", "2", 3),
        ("00:02", "14", "14", "8", "9", "3", 1),
        ("00:03", "9", "10", "9", "10", "1", 1),
        ("00:05", "10", "11", "7", "8", "2", 2),
        ("00:06", "8", "9", "8", "9", "1", 1),
    ]
    times = array("q", [ms(f"2021-04-21T{row[0]}") for row in rows])
    columns: list[Any] = [list(column) for column in zip(*(row[1:] for row in rows), strict=True)]
    dataset = dataset_from_columns("BTCUSDT", times, *columns)
    return Market({"BTCUSDT": dataset}, clock=ReplayClock(ms(now), 60.0, FakeClock()))


def test_a_3m_kline_merges_its_minutes_hand_computed() -> None:
    """Open of the first minute, max high, min low, close of the last, sums; quote volume = Σ v × (h + l + c) / 3 of
    each minute (rounded to 8 decimals as sent): 32/3 + 26 + 31 and 29/3 + 52/3; taker-buy volumes Σ v × (c − l) /
    (h − l): 2/3 + 1.6 + 0.5 and quote 64/9 + 20.8 + 31/6. The second kline lacks 00:04 (an outage)."""
    market = tiny_market("2021-04-21T00:07:00")

    first, second, third = (rest_row(k) for k in klines(market, "BTCUSDT", KlineInterval.parse("3m")))

    assert first == [
        ms("2021-04-21T00:00"), "10.00000000", "15.00000000", "8.00000000", "9.00000000", "6.00000000",
        ms("2021-04-21T00:03") - 1, "67.66666667", 6, "2.76666667", "33.07777778", "0",
    ]  # fmt: skip
    assert second[:9] == [
        ms("2021-04-21T00:03"), "9.00000000", "11.00000000", "7.00000000", "8.00000000", "3.00000000",
        ms("2021-04-21T00:06") - 1, "27.00000000", 3,
    ]  # fmt: skip
    assert third[0] == ms("2021-04-21T00:06") and third[4] == "9.00000000"


def test_trade_ids_of_a_merged_kline_run_from_its_first_minute() -> None:
    market = tiny_market("2021-04-21T00:07:00")

    first, second, _ = klines(market, "BTCUSDT", KlineInterval.parse("3m"))

    assert (first.first_trade_id, first.last_trade_id) == (1, 6)
    assert (second.first_trade_id, second.last_trade_id) == (7, 9)


def test_an_interval_without_any_minute_has_no_kline() -> None:
    """With a 1m outage at 00:04, the 2m kline 00:04–00:05 still has 00:05; a 1m kline at 00:04 does not exist."""
    market = tiny_market("2021-04-21T00:07:00")

    one_minute = [k.open_time_ms for k in klines(market, "BTCUSDT", KlineInterval.parse("1m"))]

    assert ms("2021-04-21T00:04") not in one_minute
    assert len(one_minute) == 6


def test_merging_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        merge([], open_time_ms=0, close_time_ms=1)


# --------------------------------------------------------------------------------- against an independent reference
def reference_open(time_ms: int, name: str, offset_ms: int) -> int:
    """The open time of the kline containing ``time_ms``, computed with calendar arithmetic on local time."""
    local = datetime.fromtimestamp(time_ms / 1000, UTC) + timedelta(milliseconds=offset_ms)
    count, unit = int(name[:-1]), name[-1]
    if unit == "m":
        start = local.replace(minute=local.minute - local.minute % count, second=0, microsecond=0)
    elif unit == "h":
        start = local.replace(hour=local.hour - local.hour % count, minute=0, second=0, microsecond=0)
    elif unit == "d":
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    elif unit == "w":
        start = local.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=local.weekday())
    else:
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return int((start - timedelta(milliseconds=offset_ms)).timestamp() * 1000)


def reference_next_open(open_ms: int, name: str, offset_ms: int) -> int:
    """The open time of the kline after the one opening at ``open_ms``: a calendar month later for ``1M``."""
    count, unit = int(name[:-1]), name[-1]
    if unit != "M":
        return open_ms + count * {"m": 1, "h": 60, "d": 1440, "w": 7 * 1440}[unit] * MINUTE_MS
    local = datetime.fromtimestamp(open_ms / 1000, UTC) + timedelta(milliseconds=offset_ms)
    following = (local.replace(day=28) + timedelta(days=4)).replace(day=1)
    return int((following - timedelta(milliseconds=offset_ms)).timestamp() * 1000)


def reference_klines(minute_rows: list[list[Any]], name: str, offset_ms: int) -> list[list[Any]]:
    """REST rows of ``name`` built from 1m REST rows by grouping and summing their strings: what a client would
    compute itself."""
    groups: dict[int, list[list[Any]]] = defaultdict(list)
    for row in minute_rows:
        groups[reference_open(row[0], name, offset_ms)].append(row)
    rows = []
    for open_ms, members in sorted(groups.items()):
        close_ms = reference_next_open(open_ms, name, offset_ms) - 1

        def total(column: int, members: list[list[Any]] = members) -> str:
            return f"{sum(Decimal(m[column]) for m in members):f}"

        rows.append([
            open_ms, members[0][1], max(members, key=lambda m: Decimal(m[2]))[2],
            min(members, key=lambda m: Decimal(m[3]))[3], members[-1][4], total(5), close_ms, total(7),
            sum(m[8] for m in members), total(9), total(10), "0",
        ])  # fmt: skip
    return rows


@pytest.fixture(scope="module")
def a_week_in() -> Market:
    """The bundled month a week and 30 s in (Tuesday 2021-04-27 20:42:30 UTC): two calendar weeks, the 2021-04-25
    outage included."""
    start = Market.replay().dataset_start_ms
    return Market.replay(start_ms=start + 7 * 24 * 60 * MINUTE_MS + 30_000, clock=FakeClock())


@pytest.fixture(scope="module")
def minute_rows(a_week_in: Market) -> list[list[Any]]:
    return [rest_row(Kline.of(c)) for c in a_week_in.klines("BTCUSDT", start_ms=0, limit=10**6)]


def normalised(rows: list[list[Any]]) -> list[list[Any]]:
    """Rows with decimal strings as Decimals, so that "6.00000000" and "6" compare equal."""
    return [[Decimal(x) if isinstance(x, str) else x for x in row] for row in rows]


@pytest.mark.parametrize(
    ("name", "time_zone"),
    [(name, None) for name in INTERVAL_NAMES] + [(name, zone) for name in ("1h", "1d", "1w") for zone in ("8", "-5:45")],
)
def test_every_interval_equals_the_client_side_sum_of_the_1m_klines(
    a_week_in: Market, minute_rows: list[list[Any]], name: str, time_zone: str | None
) -> None:
    """The last 1000 klines of each interval (all of them for 15m and longer), the one in progress included, equal
    the 1m rows grouped by a calendar computation and summed, field by field. (The month's turn: below.)"""
    interval = KlineInterval.parse(name, time_zone=time_zone)

    served = [rest_row(k) for k in klines(a_week_in, "BTCUSDT", interval, limit=1000)]

    expected = reference_klines(minute_rows, name, interval.offset_ms)[-1000:]
    assert normalised(served) == normalised(expected)


# ---------------------------------------------------------------------------------------------- paging and outage
def test_paging_forward_with_start_time_walks_every_kline_once(a_week_in: Market) -> None:
    hour = KlineInterval.parse("1h")
    whole = klines(a_week_in, "BTCUSDT", hour, start_ms=0, limit=1000)
    paged: list[Kline] = []
    start_ms = 0
    while page := klines(a_week_in, "BTCUSDT", hour, start_ms=start_ms, limit=7):
        paged += page
        start_ms = page[-1].open_time_ms + 1

    assert paged == whole


def test_start_time_inside_a_kline_starts_at_the_next_one_and_end_time_keeps_its_kline_whole(
    a_week_in: Market,
) -> None:
    """Klines are identified by their open time: ``startTime`` selects opens ≥ it, ``endTime`` opens ≤ it."""
    hour = KlineInterval.parse("1h")

    after = klines(a_week_in, "BTCUSDT", hour, start_ms=ms("2021-04-23T10:30"), limit=1)[0]
    upto = klines(a_week_in, "BTCUSDT", hour, end_ms=ms("2021-04-23T10:30"), limit=1)[0]
    between = klines(a_week_in, "BTCUSDT", hour, start_ms=ms("2021-04-23T10:00"), end_ms=ms("2021-04-23T12:00"))

    assert after.open_time_ms == ms("2021-04-23T11:00")
    assert (upto.open_time_ms, upto.close_time_ms) == (ms("2021-04-23T10:00"), ms("2021-04-23T11:00") - 1)
    assert upto == klines(a_week_in, "BTCUSDT", hour, start_ms=ms("2021-04-23T10:00"), limit=1)[0]
    assert [k.open_time_ms for k in between] == [ms(f"2021-04-23T{h}:00") for h in (10, 11, 12)]


def test_hours_of_the_outage_have_no_kline_and_its_edges_hold_only_the_minutes_recorded(
    a_week_in: Market,
) -> None:
    """The bundled data has no minute from 2021-04-25 04:01 to 08:44 (a Binance outage)."""
    hours = klines(
        a_week_in, "BTCUSDT", KlineInterval.parse("1h"), start_ms=ms("2021-04-25T03:00"), limit=4
    )
    minutes = klines(
        a_week_in, "BTCUSDT", KlineInterval.parse("1m"), start_ms=ms("2021-04-25T08:00"), limit=15
    )

    assert [k.open_time_ms for k in hours] == [ms(f"2021-04-25T{h}:00") for h in ("03", "04", "08", "09")]
    assert hours[2].open == minutes[0].open and minutes[0].open_time_ms == ms("2021-04-25T08:45")
    assert hours[2].volume == sum((m.volume for m in minutes), start=Decimal(0))


def test_the_kline_in_progress_holds_the_minutes_so_far_and_the_last_price(a_week_in: Market) -> None:
    now_ms = a_week_in.now_ms()
    day = klines(a_week_in, "BTCUSDT", KlineInterval.parse("1d"), limit=1)[0]
    minutes = [Kline.of(c) for c in a_week_in.klines("BTCUSDT", start_ms=day.open_time_ms, limit=24 * 60)]

    assert day.open_time_ms <= now_ms < day.close_time_ms + 1 == day.open_time_ms + 24 * 60 * MINUTE_MS
    assert len(minutes) == (now_ms - day.open_time_ms) // MINUTE_MS + 1
    assert day.close == minutes[-1].close == a_week_in.last_price("BTCUSDT")
    assert day.trades == sum(m.trades for m in minutes)
    assert day.high == max(m.high for m in minutes)


def test_a_month_closes_at_its_last_millisecond_and_the_next_starts_with_its_first_minute() -> None:
    market = Market.replay(start_ms=ms("2021-05-01T00:02:30"), clock=FakeClock())
    minutes = klines(market, "BTCUSDT", KlineInterval.parse("1m"), limit=4)

    april, may = klines(market, "BTCUSDT", KlineInterval.parse("1M"), limit=2)

    assert (april.open_time_ms, april.close_time_ms) == (ms("2021-04-01T00:00"), ms("2021-05-01T00:00") - 1)
    assert april.close == minutes[0].close and minutes[0].open_time_ms == ms("2021-04-30T23:59")
    assert (may.open_time_ms, may.close_time_ms) == (ms("2021-05-01T00:00"), ms("2021-06-01T00:00") - 1)
    assert may.open == minutes[1].open and may.close == minutes[-1].close
    assert may.volume == sum((m.volume for m in minutes[1:]), start=Decimal(0))
