"""``papertrader replay`` = the live path: every stored row of a fast replay equals what feeding each candle to the
core and recording its events, as the live engine loop does, stores — on whole real months.

The reference below is that plain path: the standard strategy and ATR fed candle by candle
(:meth:`TradingCore.on_candle`), every event through :class:`RecordSink` into a :class:`Recorder`. The fast replay
precomputes the indicators over columns, skips the candles on which nothing can happen and writes ``candles`` and
``equity`` as columns; any difference in a trade, a fill, a denial, a breaker event or the last unit of an equity
row fails here.
"""

from __future__ import annotations

import heapq
import operator
from decimal import Decimal
from itertools import islice, repeat
from pathlib import Path

import duckdb
import pytest

from engine.config import Settings
from engine.core.core import TradingCore
from engine.core.filters import parse_exchange_info
from engine.core.models import MINUTE_MS, Candle
from engine.core.portfolio import Portfolio
from engine.core.strategy import SmaCrossover
from engine.replay import replay
from engine.sinks.record import RecordSink
from simulator.klines_files import load_datasets
from simulator.symbols import SYMBOL_RULES
from storage.recorder import Recorder
from storage.store import Store

SYMBOLS = ("BTCUSDT", "ETHUSDT")
NOV_DEC_2021 = Path(__file__).resolve().parents[1] / "data" / "nov-dec-2021"
TABLES = ("candles", "equity", "orders", "fills", "trades", "positions", "breaker_events", "risk_denials")


def candles(ds, lo: int, hi: int) -> list[Candle]:
    times = ds.open_time_ms[lo:hi]
    return list(
        map(
            Candle,
            repeat(ds.symbol),
            times,
            map(operator.add, times, repeat(MINUTE_MS - 1)),
            *(map(Decimal, islice(getattr(ds, name), lo, hi)) for name in ("open", "high", "low", "close", "volume")),
        )
    )


def reference_replay(settings: Settings, datasets: list, exchange_info: dict, db_path: Path) -> None:
    """Each candle to ``TradingCore.on_candle`` (warm-up: ``warm_up``), each event recorded, as the live loop does."""
    settings = settings.model_copy(update={"trading": settings.trading.model_copy(update={"symbols": SYMBOLS})})
    with Store(db_path) as store:
        recorder = Recorder(store)
        sink = RecordSink(recorder, interval="1m")
        strategy = SmaCrossover(fast=settings.strategy.fast, slow=settings.strategy.slow)
        core = TradingCore(settings, strategy=strategy, portfolio=Portfolio(settings.trading.starting_balance))
        core.set_filters(parse_exchange_info(exchange_info))
        warmup = max(strategy.warmup, settings.trading.atr_period + 1)
        for ds in datasets:
            for candle in candles(ds, 0, warmup):
                sink.handle_all(core.warm_up(candle))
        later = [zip(ds.open_time_ms[warmup:], repeat(k), candles(ds, warmup, len(ds))) for k, ds in enumerate(datasets)]
        for _, _, candle in heapq.merge(*later):
            sink.handle_all(core.on_candle(candle, source="replay"))
        recorder.flush()


def stored(db_path: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        return {t: con.sql(f"SELECT * EXCLUDE (recorded_at) FROM {t} ORDER BY rowid").fetchall() for t in TABLES}


@pytest.mark.parametrize(
    ("data_dir", "sections"),
    [
        pytest.param(None, {}, id="april-may-defaults"),
        pytest.param(
            None, {"breaker": {"warning_pct": "1", "daily_loss_pct": "2", "flatten_on_trip": True}}, id="april-may-trip-and-flatten"
        ),
        pytest.param(NOV_DEC_2021, {"trading": {"trailing_stop": False}}, id="nov-dec-no-trailing"),
    ],
)
def test_every_stored_row_equals_the_candle_by_candle_path(tmp_path: Path, data_dir: Path | None, sections: dict) -> None:
    settings = Settings(**sections)
    datasets = list(load_datasets(SYMBOLS, data_dir).values())
    exchange_info = {"symbols": [SYMBOL_RULES[s].to_exchange_info() for s in SYMBOLS]}
    reference_replay(settings, datasets, exchange_info, tmp_path / "reference.duckdb")
    summary = replay(settings, datasets=datasets, exchange_info=exchange_info, db_path=tmp_path / "fast.duckdb")

    expected, got = stored(tmp_path / "reference.duckdb"), stored(tmp_path / "fast.duckdb")
    assert summary.trades > 20
    assert {t: len(rows) for t, rows in got.items()} == {t: len(rows) for t, rows in expected.items()}
    for table in TABLES:
        first_difference = next((i for i, (a, b) in enumerate(zip(expected[table], got[table], strict=True)) if a != b), None)
        assert first_difference is None, (
            f"{table} row {first_difference}: candle by candle {expected[table][first_difference]}, "
            f"replay {got[table][first_difference]}"
        )
