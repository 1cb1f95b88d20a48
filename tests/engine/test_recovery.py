"""restore(): the engine's state rebuilt from a real DuckDB file with the project schema.

Rows are inserted with plain SQL, as the Recorder would leave them after a crash: cash and positions come
back exactly from the fills, the last candle per symbol and its close as the mark, the paused flag from the
last applied PAUSE/RESUME, and orders left NEW are cancelled by an appended CANCELLED row. Inserts name their
columns: migrations add columns after ``recorded_at``, so a positional ``VALUES`` list would not fit.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from engine.recovery import restore
from storage.store import Store

D = Decimal
T0 = datetime(2021, 4, 20, tzinfo=UTC)
T0_MS = 1618876800000
MINUTE_MS = 60_000
WALL = datetime(2024, 1, 1, 12, tzinfo=UTC)


def m(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def cur(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    store = Store(tmp_path / "t.duckdb")
    try:
        yield store.cursor()
    finally:
        store.close()


def add_fill(cur: duckdb.DuckDBPyConnection, fill_id: str, minute: int, symbol: str, side: str, qty: str, price: str, fee: str) -> None:
    quote = D(qty) * D(price)
    cur.execute(
        "INSERT INTO fills (fill_id, order_id, ts, symbol, side, price, quantity, quote_qty, fee, reference_price, recorded_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
        [fill_id, fill_id.removesuffix("-F"), m(minute), symbol, side, D(price), D(qty), quote, D(fee), D(price)],
    )


def add_candle(cur: duckdb.DuckDBPyConnection, symbol: str, minute: int, close: float) -> None:
    cur.execute(
        "INSERT INTO candles (symbol, interval, open_time, close_time, open, high, low, close, volume, source, recorded_at) "
        "VALUES (?, '1m', ?, ?, ?, ?, ?, ?, 1.0, 'stream', now())",
        [symbol, m(minute), m(minute) + timedelta(milliseconds=59_999), close, close, close, close],
    )


def add_order(cur: duckdb.DuckDBPyConnection, order_id: str, status: str, recorded_at: datetime, *, minute: int = 0) -> None:
    cur.execute(
        "INSERT INTO orders (order_id, ts, symbol, side, type, quantity, status, reason, recorded_at) "
        "VALUES (?, ?, 'BTCUSDT', 'BUY', 'MARKET', 0.1, ?, 'test', ?)",
        [order_id, m(minute), status, recorded_at],
    )


def add_command(cur: duckdb.DuckDBPyConnection, command: str, result: str, minute: int) -> None:
    cur.execute(
        "INSERT INTO commands (ts, command, actor, reason, result, detail, recorded_at) VALUES (?, ?, 'test', 'why', ?, '', now())",
        [WALL + timedelta(minutes=minute), command, result],
    )


def test_a_new_database_restores_a_fresh_account(cur: duckdb.DuckDBPyConnection) -> None:
    state = restore(cur, starting_balance=D("10000"), wall_now=WALL)

    assert state.portfolio.cash == D("10000")
    assert state.portfolio.positions == {}
    assert state.last_candle_ms == {}
    assert state.resume_from_ms(MINUTE_MS) is None
    assert state.paused is False
    assert state.cancelled_orders == 0


def test_cash_positions_and_realised_pnl_are_rebuilt_exactly_from_the_fills(cur: duckdb.DuckDBPyConnection) -> None:
    # inserted out of market-time order: restore replays them by ts
    add_fill(cur, "S1-F", 2, "BTCUSDT", "SELL", "0.1", "31000", "3.10")
    add_fill(cur, "B1-F", 0, "BTCUSDT", "BUY", "0.1", "30000", "3.00")
    add_fill(cur, "B3-F", 3, "BTCUSDT", "BUY", "0.05", "32000", "1.60")
    add_fill(cur, "B2-F", 1, "ETHUSDT", "BUY", "1", "2000", "2.00")

    state = restore(cur, starting_balance=D("10000"), wall_now=WALL)
    p = state.portfolio

    # cash 10,000 − 3,003 (B1) − 2,002 (B2) + 3,096.90 (S1: 3,100 − 3.10) − 1,601.60 (B3) = 6,490.30
    assert p.cash == D("6490.30")
    # realised on S1: 3,096.90 − 3,003 = 93.90
    assert p.realised_pnl == D("93.90")
    assert set(p.positions) == {"BTCUSDT", "ETHUSDT"}
    btc, eth = p.positions["BTCUSDT"], p.positions["ETHUSDT"]
    assert (btc.quantity, btc.avg_entry, btc.cost_basis, btc.entry_fees) == (D("0.05"), D("32000"), D("1601.60"), D("1.60"))
    assert btc.entry_time_ms == T0_MS + 3 * MINUTE_MS  # the re-entry, not the first buy
    assert (eth.quantity, eth.cost_basis) == (D("1"), D("2002"))


POSITION_COLUMNS = "ts, symbol, quantity, avg_entry, cost_basis, stop_price, target_price, stop_distance, trail_high, recorded_at"


def test_stops_and_targets_come_from_the_latest_position_row(cur: duckdb.DuckDBPyConnection) -> None:
    """Stops, targets and the trailing stop's state (initial distance, highest high) come back exactly as stored."""
    add_fill(cur, "B1-F", 0, "BTCUSDT", "BUY", "0.1", "30000", "3.00")
    base = WALL
    rows = [
        (0, "0.1", D("29000"), D("32000"), None, base),  # at the fill: no trail yet
        (1, "0.1", D("29500.12345678"), D("32000"), D("30500.12345678"), base + timedelta(seconds=1)),  # trailed
    ]
    for minute, qty, stop, target, trail_high, recorded in rows:
        cur.execute(
            f"INSERT INTO positions ({POSITION_COLUMNS}) VALUES (?, 'BTCUSDT', ?, 30000, 3003, ?, ?, 1000.5, ?, ?)",
            [m(minute), D(qty), stop, target, trail_high, recorded],
        )
    # a closed position of another symbol leaves nothing behind
    cur.execute(
        f"INSERT INTO positions ({POSITION_COLUMNS}) VALUES (?, 'ETHUSDT', 0, 0, 0, NULL, NULL, NULL, NULL, now())", [m(1)]
    )

    p = restore(cur, starting_balance=D("10000"), wall_now=WALL).portfolio

    btc = p.positions["BTCUSDT"]
    assert (btc.stop_price, btc.target_price) == (D("29500.12345678"), D("32000"))  # exactly as stored
    assert (btc.stop_distance, btc.trail_high) == (D("1000.5"), D("30500.12345678"))  # the trailing stop resumes
    assert "ETHUSDT" not in p.positions


def test_a_reopened_position_does_not_inherit_the_previous_positions_trail(cur: duckdb.DuckDBPyConnection) -> None:
    """Only the latest row counts, NULLs included: the new position's trail has not started."""
    add_fill(cur, "B1-F", 0, "BTCUSDT", "BUY", "0.1", "30000", "3.00")
    add_fill(cur, "S1-F", 2, "BTCUSDT", "SELL", "0.1", "31000", "3.10")
    add_fill(cur, "B2-F", 3, "BTCUSDT", "BUY", "0.1", "30000", "3.00")
    rows = [
        (0, "0.1", D("29000"), D("32000"), None),  # first position, at the fill
        (1, "0.1", D("30000"), D("32000"), D("31000")),  # trailed
        (2, "0", None, None, None),  # closed
        (3, "0.1", D("29000"), D("32000"), None),  # reopened: no trail yet
    ]
    for minute, qty, stop, target, trail_high in rows:
        distance = None if stop is None else D("1000")
        cur.execute(
            f"INSERT INTO positions ({POSITION_COLUMNS}) VALUES (?, 'BTCUSDT', ?, 30000, 3003, ?, ?, ?, ?, ?)",
            [m(minute), D(qty), stop, target, distance, trail_high, WALL + timedelta(seconds=minute)],
        )

    btc = restore(cur, starting_balance=D("10000"), wall_now=WALL).portfolio.positions["BTCUSDT"]

    assert (btc.stop_price, btc.target_price, btc.stop_distance) == (D("29000"), D("32000"), D("1000"))
    assert btc.trail_high is None


def test_last_candle_per_symbol_sets_resume_point_and_mark(cur: duckdb.DuckDBPyConnection) -> None:
    add_fill(cur, "B1-F", 0, "BTCUSDT", "BUY", "0.1", "30000", "3.00")
    for minute, close in [(3, 32500.0), (0, 30000.0), (2, 32000.0), (1, 31000.0)]:  # out of order
        add_candle(cur, "BTCUSDT", minute, close)
    add_candle(cur, "ETHUSDT", 2, 2100.0)
    add_candle(cur, "ETHUSDT", 1, 2000.0)

    state = restore(cur, starting_balance=D("10000"), wall_now=WALL)

    assert state.last_candle_ms == {"BTCUSDT": T0_MS + 3 * MINUTE_MS, "ETHUSDT": T0_MS + 2 * MINUTE_MS}
    assert state.resume_from_ms(MINUTE_MS) == T0_MS + 4 * MINUTE_MS  # the minute after the newest candle
    assert state.portfolio.marks["BTCUSDT"] == D("32500")
    assert state.portfolio.marks["ETHUSDT"] == D("2100")
    # equity 6,997 + 0.1 × 32,500 = 10,247
    assert state.portfolio.equity() == D("10247")


def test_peak_and_day_baseline_come_from_the_last_equity_row_written(cur: duckdb.DuckDBPyConnection) -> None:
    """Since schema v4 the baselines are DECIMAL: restored to the last unit, as the breaker had them. The row written
    last counts, also when its market time is older (a backfilled candle processed after newer prices carries the
    account as it was then, baselines included)."""
    add_fill(cur, "B1-F", 0, "BTCUSDT", "BUY", "0.1", "30000", "3.00")
    add_candle(cur, "BTCUSDT", 5, 31000.0)  # equity 6,997 + 3,100 = 10,097
    peak, day_start = D("10300.12345678"), D("10000.00000001")  # no binary float holds either
    for minute, peak_equity, day_start_equity, written in [(5, D("99999"), D("99999"), 1), (1, peak, day_start, 2)]:
        cur.execute(
            "INSERT INTO equity (ts, equity, cash, positions_value, realised_pnl, unrealised_pnl, peak_equity, drawdown_pct, "
            "day_start_equity, daily_pnl_pct, recorded_at) VALUES (?, 0, 0, 0, 0, 0, ?, 0, ?, 0, ?)",
            [m(minute), peak_equity, day_start_equity, WALL + timedelta(seconds=written)],
        )

    p = restore(cur, starting_balance=D("10000"), wall_now=WALL).portfolio

    assert p.peak_equity == peak
    assert p.day_start_equity == day_start
    assert p.day_index == T0_MS // 86_400_000
    # the next mark on the same UTC day keeps the baseline: (10,097 − 10,000.00000001) / 10,000.00000001 ≈ 0.97 %
    snap = p.mark("BTCUSDT", D("31000"), T0_MS + 6 * MINUTE_MS)
    assert snap.day_start_equity == day_start
    assert snap.daily_pnl_pct == pytest.approx(0.97)


def test_a_peak_below_the_restored_equity_is_raised_to_it(cur: duckdb.DuckDBPyConnection) -> None:
    add_fill(cur, "B1-F", 0, "BTCUSDT", "BUY", "0.1", "30000", "3.00")
    add_candle(cur, "BTCUSDT", 5, 31000.0)  # equity 6,997 + 3,100 = 10,097
    cur.execute(
        "INSERT INTO equity (ts, equity, cash, positions_value, realised_pnl, unrealised_pnl, peak_equity, drawdown_pct, "
        "day_start_equity, daily_pnl_pct, recorded_at) VALUES (?, 0, 0, 0, 0, 0, 10050.5, 0, 10000, 0, now())",
        [m(4)],
    )

    p = restore(cur, starting_balance=D("10000"), wall_now=WALL).portfolio

    assert p.peak_equity == D("10097")


@pytest.mark.parametrize(
    ("commands", "paused"),
    [
        ([], False),
        ([("PAUSE", "OK")], True),
        ([("PAUSE", "OK"), ("RESUME", "OK")], False),
        ([("PAUSE", "OK"), ("RESUME", "OK"), ("PAUSE", "OK")], True),
        ([("PAUSE", "OK"), ("RESUME", "REFUSED")], True),  # a command not applied does not count
        ([("RESUME", "OK"), ("PAUSE", "IGNORED")], False),
    ],
)
def test_paused_flag_follows_the_last_applied_pause_or_resume(
    cur: duckdb.DuckDBPyConnection, commands: list[tuple[str, str]], paused: bool
) -> None:
    for minute, (command, result) in enumerate(commands):
        add_command(cur, command, result, minute)

    assert restore(cur, starting_balance=D("10000"), wall_now=WALL).paused is paused


def test_orders_left_new_are_cancelled_by_an_appended_row(cur: duckdb.DuckDBPyConnection) -> None:
    add_order(cur, "filled", "NEW", WALL)
    add_order(cur, "filled", "FILLED", WALL + timedelta(seconds=1))
    add_order(cur, "rejected", "NEW", WALL)
    add_order(cur, "rejected", "REJECTED", WALL + timedelta(seconds=1))
    add_order(cur, "orphan", "NEW", WALL, minute=7)
    now = WALL + timedelta(hours=1)

    state = restore(cur, starting_balance=D("10000"), wall_now=now)

    assert state.cancelled_orders == 1
    rows = cur.execute(
        "SELECT order_id, epoch_ms(ts), symbol, side, type, quantity, status, epoch_ms(recorded_at) FROM orders WHERE status = 'CANCELLED'"
    ).fetchall()
    # the order keeps its market time; recorded_at is the wall time of the restart
    assert rows == [("orphan", T0_MS + 7 * MINUTE_MS, "BTCUSDT", "BUY", "MARKET", D("0.1"), "CANCELLED", int(now.timestamp() * 1000))]
    assert cur.execute("SELECT count(*) FROM orders").fetchone() == (6,)  # appended, nothing rewritten


@pytest.mark.parametrize("new_offset_s", [0, 1], ids=["same-recorded-at", "new-row-later"])
def test_an_order_with_a_filled_row_is_never_cancelled(cur: duckdb.DuckDBPyConnection, new_offset_s: int) -> None:
    """Whatever ``recorded_at`` says about the row order, a FILLED row closes the order."""
    add_order(cur, "stop", "FILLED", WALL)
    add_order(cur, "stop", "NEW", WALL + timedelta(seconds=new_offset_s))

    state = restore(cur, starting_balance=D("10000"), wall_now=WALL)

    assert state.cancelled_orders == 0
    assert cur.execute("SELECT count(*) FROM orders WHERE status = 'CANCELLED'").fetchone() == (0,)


def test_restoring_twice_cancels_an_order_once(cur: duckdb.DuckDBPyConnection) -> None:
    add_order(cur, "orphan", "NEW", WALL)

    first = restore(cur, starting_balance=D("10000"), wall_now=WALL + timedelta(hours=1))
    second = restore(cur, starting_balance=D("10000"), wall_now=WALL + timedelta(hours=2))

    assert (first.cancelled_orders, second.cancelled_orders) == (1, 0)
    assert cur.execute("SELECT count(*) FROM orders WHERE status = 'CANCELLED'").fetchone() == (1,)
