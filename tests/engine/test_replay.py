"""Fast replay (``engine.replay.replay``): the bundled candles through the whole engine into a new DuckDB file,
with a summary that matches what the file holds."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

import engine.replay.run as replay_run
from engine.cli.offline import bundled_replay as replay
from engine.config import BreakerSettings, Settings

START_MS = int(datetime(2021, 4, 25, tzinfo=UTC).timestamp() * 1000)
END_MS = int(datetime(2021, 4, 27, tzinfo=UTC).timestamp() * 1000)  # two days: 2 × 2,880 candles minus the gap
SYMBOLS = ("BTCUSDT", "ETHUSDT")


@pytest.fixture(scope="module")
def tripping(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object, list[tuple[int, int]]]:
    """One two-day replay with a breaker tight enough to trip (0.2 % daily loss), shared by the tests below."""
    db = tmp_path_factory.mktemp("replay") / "replay.duckdb"
    calls: list[tuple[int, int]] = []
    settings = Settings(breaker=BreakerSettings(warning_pct=0.1, daily_loss_pct=0.2))
    summary = replay(
        settings, symbols=SYMBOLS, start_ms=START_MS, end_ms=END_MS, db_path=db, progress=lambda d, t: calls.append((d, t))
    )
    return db, summary, calls


def _one(db: Path, sql: str) -> object:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchone()[0]


def test_replay_records_candles_equity_and_fills(tripping) -> None:
    db, summary, _ = tripping
    assert summary.candles == _one(db, "SELECT count(*) FROM candles") > 5_000
    assert _one(db, "SELECT min(epoch_ms(open_time)) FROM candles") == START_MS
    assert _one(db, "SELECT max(epoch_ms(open_time)) FROM candles") < END_MS
    # one equity snapshot per traded (non-warm-up) candle, one per fill, one per breaker reset (none here)
    assert _one(db, "SELECT count(*) FROM equity WHERE source = 'candle'") == summary.candles - summary.warmup_candles
    assert _one(db, "SELECT count(*) FROM equity WHERE source = 'fill'") == summary.fills
    assert summary.fills == _one(db, "SELECT count(*) FROM fills") > 0
    assert _one(db, "SELECT count(*) FROM candles WHERE source = 'bootstrap'") == summary.warmup_candles


def test_summary_numbers_match_the_database(tripping) -> None:
    db, summary, _ = tripping
    assert summary.trades == _one(db, "SELECT count(*) FROM trades") > 0
    assert summary.breaker_trips == _one(db, "SELECT count(*) FROM breaker_events WHERE kind = 'BreakerTripped'") == 1
    assert summary.denials == _one(db, "SELECT count(*) FROM risk_denials") > 0
    assert summary.max_drawdown_pct == pytest.approx(_one(db, "SELECT max(drawdown_pct) FROM equity"))
    # P&L from the fills alone (cash) plus open positions at their last close equals the summary's P&L, exactly:
    # equity is DECIMAL since schema v4
    last_equity = _one(db, "SELECT arg_max(equity, recorded_at) FROM equity")
    assert isinstance(last_equity, Decimal)
    assert summary.pnl == last_equity - Decimal(10_000)
    assert summary.final_equity == Decimal(10_000) + summary.pnl == last_equity


def test_a_tripped_breaker_stops_entries_for_the_rest_of_the_replay(tripping) -> None:
    db, _, _ = tripping
    tripped_at = _one(db, "SELECT epoch_ms(ts) FROM breaker_events WHERE kind = 'BreakerTripped'")
    assert _one(db, f"SELECT count(*) FROM fills WHERE side = 'BUY' AND epoch_ms(ts) > {tripped_at}") == 0
    assert _one(db, f"SELECT count(*) FROM risk_denials WHERE reason_code = 'BREAKER_TRIPPED' AND epoch_ms(ts) > {tripped_at}") > 0


def test_progress_reports_up_to_the_total(tripping) -> None:
    _, summary, calls = tripping
    assert calls[-1] == (summary.candles, summary.candles)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_replaying_into_an_existing_file_is_refused_unless_forced(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    window: dict = {"symbols": ("BTCUSDT",), "start_ms": START_MS, "end_ms": START_MS + 60 * 60_000}
    first = replay(Settings(), db_path=db, **window)
    with pytest.raises(FileExistsError, match="--force"):
        replay(Settings(), db_path=db, **window)
    again = replay(Settings(), db_path=db, force=True, **window)
    assert again.candles == first.candles == _one(db, "SELECT count(*) FROM candles") == 60


def test_an_empty_window_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no candle"):
        replay(Settings(), symbols=("BTCUSDT",), start_ms=0, end_ms=1, db_path=tmp_path / "r.duckdb")


def test_rows_are_the_same_whatever_the_batch_and_flush_sizes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Candles and equity appended every 1,000 candles and the other rows flushed every 3,000 (batch boundaries inside
    runs of skipped candles, positions open across them, a breaker trip) store exactly the rows of one batch."""
    settings = Settings(breaker=BreakerSettings(warning_pct=0.1, daily_loss_pct=0.2))
    window: dict = {"symbols": SYMBOLS, "start_ms": START_MS, "end_ms": END_MS}
    replay(settings, db_path=tmp_path / "one.duckdb", **window)
    monkeypatch.setattr(replay_run, "BATCH_CANDLES", 1_000)
    monkeypatch.setattr(replay_run, "FLUSH_EVERY_CANDLES", 3_000)
    progress: list[int] = []
    replay(settings, db_path=tmp_path / "many.duckdb", progress=lambda done, total: progress.append(done), **window)
    assert len(progress) > 5

    with (
        duckdb.connect(str(tmp_path / "one.duckdb"), read_only=True) as one,
        duckdb.connect(str(tmp_path / "many.duckdb"), read_only=True) as many,
    ):
        history = "SELECT table_name FROM information_schema.columns WHERE column_name = 'recorded_at'"
        tables = [t for (t,) in one.sql(history).fetchall()]
        assert {"candles", "equity", "orders", "fills", "trades", "risk_denials", "breaker_events"} <= set(tables)
        for table in tables:
            rows = f"SELECT * EXCLUDE (recorded_at) FROM {table} ORDER BY recorded_at"
            assert many.sql(rows).fetchall() == one.sql(rows).fetchall(), table


def test_a_replay_never_imports_pandas(tmp_path: Path) -> None:
    """pyarrow.array() would import it (≈ 35 MB of a replay's peak RSS): every table the replay writes, the fills,
    trades, denials and breaker events of a tripping run included, is built without it."""
    code = (
        "import sys\n"
        "from engine.cli.offline import bundled_replay\n"
        "from engine.config import BreakerSettings, Settings\n"
        "settings = Settings(breaker=BreakerSettings(warning_pct=0.1, daily_loss_pct=0.2))\n"
        f"s = bundled_replay(settings, symbols={SYMBOLS!r}, start_ms={START_MS}, end_ms={END_MS}, db_path={str(tmp_path / 'r.duckdb')!r})\n"
        "assert s.trades and s.breaker_trips and s.denials\n"
        "print('pandas' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
