"""The level-of-detail rollups always summarise exactly the rows on disk up to their ``max_recorded_at``: folded in
by the flush that makes the tail long enough (rows in any order, into buckets written before), in that flush's
transaction (a failed flush or a kill -9 leaves no half), and equal to a summary computed in plain Python."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from storage import rollups
from storage.errors import FlushError
from storage.recorder import Recorder
from storage.rollups import LEVELS_S, Extreme, Rollup
from storage.schema import MIGRATIONS, SCHEMA_VERSION
from storage.store import Store

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 1, 1, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NOW = datetime(2025, 6, 1, tzinfo=UTC)


def _us(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def _dicts(cur: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    relation = cur.sql(sql, params=params)
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def tail(cur: duckdb.DuckDBPyConnection, rollup: Rollup) -> int:
    """Source rows not summarised (``recorded_at`` after the rollup's latest ``max_recorded_at``)."""
    [(rows,)] = cur.sql(f"SELECT count(*) FROM ({rollup.tail_sql()})").fetchall()
    return rows


def reference(cur: duckdb.DuckDBPyConnection, rollup: Rollup) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The rollup computed in Python from the source rows it covers (every row up to the latest ``recorded_at`` it
    claims): per series, level and epoch-aligned bucket, the row count, the latest ``recorded_at``, the first/last
    row by (time, recorded_at) and each extreme: the lowest or highest by (its column, time, recorded_at)."""
    series = [rollup.series] if rollup.series else []
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    [(through,)] = cur.sql(f"SELECT max(max_recorded_at) FROM {rollup.name}").fetchall()
    covered = f"SELECT {', '.join(series + list(rollup.fields))} FROM {rollup.source} WHERE recorded_at <= $through"
    for row in _dicts(cur, covered, {"through": through}) if through is not None else []:
        at = _us(row[rollup.time])
        for width_s in LEVELS_S:
            key = (*[row[s] for s in series], width_s, at - at % (width_s * 1_000_000))
            groups.setdefault(key, []).append({f: row[f] for f in rollup.fields})

    def by_time(r: dict[str, Any]) -> tuple[Any, ...]:
        return r[rollup.time], r["recorded_at"]

    def extreme(rows: list[dict[str, Any]], e: Extreme) -> dict[str, Any]:
        pick = max if e.highest else min
        return pick(rows, key=lambda r: (r[e.column], r[rollup.time], r["recorded_at"]))

    return {
        key: {
            "row_count": len(rows), "max_recorded_at": max(r["recorded_at"] for r in rows),
            "first": min(rows, key=by_time), "last": max(rows, key=by_time),
        } | {e.name: extreme(rows, e) for e in rollup.extremes}
        for key, rows in groups.items()
    }


def stored(cur: duckdb.DuckDBPyConnection, rollup: Rollup) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The rollup table as ``{(series, width_s, bucket start in µs): {row_count, first, last, low, high}}``."""
    series = [rollup.series] if rollup.series else []
    out = {}
    for row in _dicts(cur, f"SELECT * FROM {rollup.name}"):
        key = (*[row.pop(s) for s in series], row.pop("width_s"), _us(row.pop("bucket_start")))
        out[key] = row
    return out


def equity_row(rng: random.Random, ts: datetime) -> dict[str, Any]:
    """Equity and drawdown drawn from a few values each (ties), independently, now and then a spike or a dip."""
    equity = Decimal(rng.choice([9_990, 10_000, 10_010])) + Decimal(rng.choice([0, 0, 0, 5_000, -5_000]))
    return {
        "ts": ts, "equity": equity, "cash": equity, "positions_value": Decimal(0), "realised_pnl": Decimal(rng.randint(-9, 9)),
        "unrealised_pnl": Decimal("0.12345678"), "peak_equity": Decimal(15_000), "drawdown_pct": float(rng.choice([0, 1, 2, 30])),
        "day_start_equity": Decimal(rng.randint(9_000, 11_000)), "daily_pnl_pct": 0.0, "symbol": "BTCUSDT",
        "source": "candle", "candle_open_time": ts - timedelta(minutes=1), "price": Decimal("42000.5"),
    }


def candle_row(rng: random.Random, symbol: str, open_time: datetime) -> dict[str, Any]:
    close = float(rng.choice([100, 101, 102, 250]))
    return {
        "symbol": symbol, "interval": "1m", "open_time": open_time, "close_time": open_time + timedelta(milliseconds=59_999),
        "open": 100.0, "high": 300.0, "low": 50.0, "close": close, "volume": 1.0, "source": "stream",
    }


def record_random(recorder: Recorder, rng: random.Random, rows: int, *, span_s: int) -> None:
    """``rows`` equity rows and as many candles (two symbols) at random market times within ``span_s`` seconds of T0
    (repeated times included), in random order."""
    for _ in range(rows):
        ts = T0 + timedelta(seconds=rng.randrange(span_s // 30) * 30)
        recorder.record("equity", equity_row(rng, ts))
        recorder.record("candles", candle_row(rng, rng.choice(["BTCUSDT", "ETHUSDT"]), ts))


def test_flush_after_flush_the_rollups_equal_a_summary_of_the_rows_computed_in_python(store) -> None:
    """Folded at every flush: rows in random time order, with equal times and equal values, across flushes that reach
    back into buckets written before (and across the 10-minute / 6-hour / day edges)."""
    rng = random.Random(5)
    stamps = iter(NOW + timedelta(seconds=i) for i in range(1_000))
    recorder = Recorder(store, clock=lambda: next(stamps), summarise_every_rows=1)
    cur = store.cursor()
    for size in (1, 7, 300, 40, 2, 500):
        record_random(recorder, rng, size, span_s=3 * 86_400)
        recorder.flush()
        for rollup in rollups.ROLLUPS:
            assert tail(cur, rollup) == 0
            assert stored(cur, rollup) == reference(cur, rollup), f"{rollup.name} after a flush of {size} rows"

    assert {w for (w,) in cur.sql("SELECT DISTINCT width_s FROM equity_rollup").fetchall()} == set(LEVELS_S)
    [(symbols,)] = cur.sql("SELECT count(DISTINCT symbol) FROM candle_rollup").fetchall()
    assert symbols == 2


def test_the_tail_is_folded_in_by_the_flush_that_makes_it_long_enough_even_across_recorders(store) -> None:
    """Below ``summarise_every_rows`` unsummarised rows a flush only appends; the flush reaching it folds all of them,
    and a new Recorder counts the tail an earlier one left."""
    rng = random.Random(6)
    cur = store.cursor()
    first = Recorder(store, summarise_every_rows=100)
    for _ in range(3):
        record_random(first, rng, 30, span_s=86_400)
        first.flush()
    assert [tail(cur, r) for r in rollups.ROLLUPS] == [90, 90]
    assert stored(cur, rollups.EQUITY) == {}
    first.stop()

    second = Recorder(store, summarise_every_rows=100)
    record_random(second, rng, 10, span_s=86_400)
    second.flush()

    assert [tail(cur, r) for r in rollups.ROLLUPS] == [0, 0]
    for rollup in rollups.ROLLUPS:
        assert stored(cur, rollup) == reference(cur, rollup)
        assert sum(v["row_count"] for k, v in stored(cur, rollup).items() if k[-2] == LEVELS_S[0]) == 100


def test_rebuild_gives_what_the_flushes_kept(store) -> None:
    """The migration's and the benchmark's way (summarise every row at once) and the Recorder's (fold tail after
    tail) agree exactly."""
    recorder = Recorder(store, summarise_every_rows=1)
    record_random(recorder, random.Random(8), 400, span_s=2 * 86_400)
    recorder.flush()
    record_random(recorder, random.Random(9), 400, span_s=2 * 86_400)
    recorder.flush()
    cur = store.cursor()
    kept = {rollup.name: stored(cur, rollup) for rollup in rollups.ROLLUPS}

    rollups.rebuild(cur)

    assert {rollup.name: stored(cur, rollup) for rollup in rollups.ROLLUPS} == kept


@pytest.mark.parametrize("broken", ["equity_rollup", "candles"])
def test_a_flush_failing_on_the_rollup_or_the_rows_commits_neither(store, broken: str) -> None:
    """The fold runs in the flush's transaction: when it fails, the rows are not committed either, and when the rows
    fail, the rollup is untouched; the next flush writes both."""
    rng = random.Random(3)
    recorder = Recorder(store, summarise_every_rows=1)
    cur = store.cursor()
    record_random(recorder, rng, 50, span_s=86_400)
    recorder.flush()
    tables = ("equity", "candles", "equity_rollup", "candle_rollup")
    before = {name: cur.sql(f"SELECT * FROM {name} ORDER BY ALL").fetchall() for name in tables}

    record_random(recorder, rng, 50, span_s=86_400)
    cur.execute(f"ALTER TABLE {broken} RENAME TO away")
    with pytest.raises(FlushError):
        recorder.flush()
    cur.execute(f"ALTER TABLE away RENAME TO {broken}")

    assert {name: cur.sql(f"SELECT * FROM {name} ORDER BY ALL").fetchall() for name in before} == before
    assert recorder.flush() == 100
    for rollup in rollups.ROLLUPS:
        assert tail(cur, rollup) == 0
        assert stored(cur, rollup) == reference(cur, rollup)


_WRITER = """
import random, sys
from tests.storage.test_rollups import record_random
from storage.recorder import Recorder
from storage.store import Store

recorder = Recorder(Store(sys.argv[1]), summarise_every_rows=500)
rng = random.Random(11)
while True:
    record_random(recorder, rng, 300, span_s=7 * 86_400)
    recorder.flush()
    print("flushed", flush=True)
"""


def test_after_kill_9_mid_writing_the_rollups_still_summarise_exactly_the_rows_on_disk(tmp_path) -> None:
    """A writer flushing back to back (every other flush folds its tail into both rollups) is SIGKILLed at an
    arbitrary moment, most likely inside a flush: the reopened file's rollups equal the summary of the rows they
    claim, and every later row is in the tail."""
    path = tmp_path / "killed.duckdb"
    with subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as writer:
        assert writer.stdout is not None
        for _ in range(6):
            assert writer.stdout.readline() == b"flushed\n", writer.stderr.read() if writer.stderr else ""
        writer.send_signal(signal.SIGKILL)
        writer.wait()

    with Store(path) as store, store.cursor() as cur:
        for rollup in rollups.ROLLUPS:
            [(rows,)] = cur.sql(f"SELECT count(*) FROM {rollup.source}").fetchall()
            summarised = sum(v["row_count"] for k, v in stored(cur, rollup).items() if k[-2] == LEVELS_S[0])
            assert rows >= 6 * 300 and summarised >= 3 * 300
            assert summarised + tail(cur, rollup) == rows
            assert stored(cur, rollup) == reference(cur, rollup)


def test_the_v5_migration_summarises_the_rows_of_an_older_file(tmp_path) -> None:
    """A version-4 file with equity snapshots and candles opens with both rollups built from its rows, no tail."""
    path = tmp_path / "v4.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL)")
    for version, migration in enumerate(MIGRATIONS[:4], start=1):
        con.execute(migration)
        con.execute("INSERT INTO schema_version VALUES (?, now())", [version])
    con.execute(
        "INSERT INTO equity BY NAME SELECT to_timestamp(1704067200 + 47 * i) AS ts, 10000 + hash(i) % 300 AS equity, "
        "0 AS cash, 0 AS positions_value, 0 AS realised_pnl, 0 AS unrealised_pnl, 0 AS peak_equity, 0 AS drawdown_pct, "
        "10000 AS day_start_equity, 0 AS daily_pnl_pct, to_timestamp(1750000000 + i) AS recorded_at FROM range(5000) r(i)"
    )
    con.execute(
        "INSERT INTO candles SELECT CASE WHEN i % 2 = 0 THEN 'BTCUSDT' ELSE 'ETHUSDT' END, '1m', to_timestamp(1704067200 + 60 * i), "
        "to_timestamp(1704067259.999 + 60 * i), 1, 1, 1, 100 + hash(i) % 7, 1, 'stream', to_timestamp(1750000000 + i) "
        "FROM range(3000) r(i)"
    )
    con.close()

    with Store(path) as store, store.cursor() as cur:
        assert store.schema_version == SCHEMA_VERSION == 5
        assert [cur.sql(f"SELECT count(*) FROM {t}").fetchall() for t in ("equity", "candles")] == [[(5000,)], [(3000,)]]
        for rollup in rollups.ROLLUPS:
            assert tail(cur, rollup) == 0
            assert stored(cur, rollup) == reference(cur, rollup)
