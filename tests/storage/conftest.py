"""Fixtures of the storage tests: a real DuckDB file in ``tmp_path`` and hand-made rows of every table."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from storage.recorder import Recorder
from storage.store import Store

T0 = datetime(2024, 1, 1, tzinfo=UTC)
"""Market time of minute 0 in the hand-made rows."""


def at(minute: float) -> datetime:
    """Market time ``minute`` minutes after :data:`T0`."""
    return T0 + timedelta(minutes=minute)


def equity(minute: float = 0, **values: Any) -> dict[str, Any]:
    """Money is exact (``DECIMAL`` since schema v4); the percentages are ``DOUBLE``."""
    return {
        "ts": at(minute),
        "equity": Decimal("10000"),
        "cash": Decimal("10000"),
        "positions_value": Decimal(0),
        "realised_pnl": Decimal(0),
        "unrealised_pnl": Decimal(0),
        "peak_equity": Decimal("10000"),
        "drawdown_pct": 0.0,
        "day_start_equity": Decimal("10000"),
        "daily_pnl_pct": 0.0,
        "symbol": "BTCUSDT",
        "source": "candle",
        "candle_open_time": at(minute - 1),
        "price": Decimal("30000"),
    } | values


def candle(minute: float = 0, **values: Any) -> dict[str, Any]:
    return {
        "symbol": "BTCUSDT",
        "interval": "1m",
        "open_time": at(minute),
        "close_time": at(minute + 1) - timedelta(milliseconds=1),
        "open": 42_000.0,
        "high": 42_100.0,
        "low": 41_900.0,
        "close": 42_050.0,
        "volume": 12.5,
        "source": "stream",
    } | values


def fill(minute: float = 0, **values: Any) -> dict[str, Any]:
    return {
        "fill_id": f"o{minute}-F",
        "order_id": f"o{minute}",
        "ts": at(minute),
        "symbol": "BTCUSDT",
        "side": "BUY",
        "price": Decimal("42000.01"),
        "quantity": Decimal("0.12345678"),
        "quote_qty": Decimal("5185.18601234"),
        "fee": Decimal("5.18518601"),
        "reference_price": Decimal("41995.81"),
        "exit_reason": None,
    } | values


def position(minute: float = 0, **values: Any) -> dict[str, Any]:
    return {
        "ts": at(minute),
        "symbol": "BTCUSDT",
        "quantity": Decimal("0.5"),
        "avg_entry": Decimal("42000"),
        "cost_basis": Decimal("21021"),
        "stop_price": Decimal("41000"),
        "target_price": Decimal("44000"),
        "stop_distance": Decimal("1000"),
        "trail_high": None,
    } | values


def trade(minute: float = 0, **values: Any) -> dict[str, Any]:
    return {
        "trade_id": f"t{minute}",
        "symbol": "BTCUSDT",
        "entry_time": at(minute - 10),
        "exit_time": at(minute),
        "quantity": Decimal("0.5"),
        "entry_price": Decimal("42000"),
        "exit_price": Decimal("42500"),
        "fees": Decimal("42.25"),
        "pnl": Decimal("207.75"),
        "pnl_pct": 0.99,
        "exit_reason": "TARGET",
    } | values


def command(minute: float = 0, **values: Any) -> dict[str, Any]:
    return {
        "ts": at(minute),
        "command_id": f"c{minute}",
        "command": "PAUSE",
        "actor": "test",
        "reason": "checking",
        "result": "OK",
        "detail": "entries stopped",
    } | values


@pytest.fixture
def rows() -> SimpleNamespace:
    """Row builders, one per table: ``rows.equity(minute, **overrides)`` etc. (``recorded_at`` excluded)."""
    return SimpleNamespace(
        at=at, equity=equity, candle=candle, fill=fill, position=position, trade=trade, command=command
    )


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    """A fresh, migrated database file, closed after the test."""
    with Store(tmp_path / "papertrader.duckdb") as opened:
        yield opened


WALL = datetime(2025, 6, 1, tzinfo=UTC)
"""Wall-clock time the ``write`` fixture's Recorder stamps as ``recorded_at``."""


@pytest.fixture
def write(store: Store) -> Callable[..., None]:
    """``write(table, *rows)``: commit rows through the Recorder, ``recorded_at`` increasing in argument order."""
    recorder = Recorder(store, clock=lambda: WALL)

    def _write(table: str, *rows: dict) -> None:
        for row in rows:
            recorder.record(table, row)
        recorder.flush()

    return _write


@pytest.fixture
def cur(store: Store):
    return store.cursor()
