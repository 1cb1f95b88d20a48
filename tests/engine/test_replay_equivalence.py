"""``papertrader replay`` = the live path: every stored row of a fast replay equals what feeding each candle to the
core and recording its events, as the live engine loop does, stores — on whole real months (ten days for a user's
strategy, which the replay feeds every candle).

The reference below is that plain path: the configured strategy and the ATR fed candle by candle
(:meth:`TradingCore.on_candle`), every event through :class:`RecordSink` into a :class:`Recorder`. The fast replay
precomputes the indicators over columns (the shipped strategies' signals too), skips the candles on which nothing can
happen (a user's strategy without a column method is fed every candle) and writes ``candles`` and ``equity`` as
columns; any difference in a trade, a fill, a denial, a breaker event or the last unit of an equity
row fails here.
"""

from __future__ import annotations

import heapq
import operator
from collections import deque
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
from engine.core.strategy import Signal, SignalKind
from engine.replay import replay
from engine.sinks.record import RecordSink
from simulator.dataset import Dataset, dataset_from_columns
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
        strategy = settings.strategy.build()
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


class Momentum:
    """A user's strategy without a column method (the replay feeds it every candle): ENTER_LONG when the close is
    more than ``rise_pct`` above the close ``lookback`` candles before, EXIT_LONG when it is below that close."""

    def __init__(self, *, lookback: int = 30, rise_pct: float = 1.0) -> None:
        self.warmup = lookback + 1
        self._lookback, self._factor = lookback, Decimal(1) + Decimal(str(rise_pct)) / 100
        self._closes: dict[str, deque[Decimal]] = {}

    def on_candle(self, candle: Candle) -> Signal | None:
        closes = self._closes.setdefault(candle.symbol, deque(maxlen=self._lookback))
        signal = None
        if len(closes) == self._lookback:
            if candle.close > closes[0] * self._factor:
                signal = Signal(candle.symbol, SignalKind.ENTER_LONG, "momentum")
            elif candle.close < closes[0]:
                signal = Signal(candle.symbol, SignalKind.EXIT_LONG, "momentum lost")
        closes.append(candle.close)
        return signal


def stored(db_path: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        return {t: con.sql(f"SELECT * EXCLUDE (recorded_at) FROM {t} ORDER BY rowid").fetchall() for t in TABLES}


def first_days(dataset: Dataset, days: int | None) -> Dataset:
    """The candles of ``dataset``'s first ``days`` days (all of them for ``None``)."""
    if days is None:
        return dataset
    n = dataset.index_at_or_after(dataset.start_ms + days * 86_400_000)
    columns = (getattr(dataset, name)[:n] for name in ("open", "high", "low", "close", "volume"))
    return dataset_from_columns(dataset.symbol, dataset.open_time_ms[:n], *columns)


@pytest.mark.parametrize(
    ("data_dir", "days", "sections"),
    [
        pytest.param(None, None, {}, id="april-may-defaults"),
        pytest.param(
            None, None, {"breaker": {"warning_pct": "1", "daily_loss_pct": "2", "flatten_on_trip": True}}, id="april-may-trip-and-flatten"
        ),
        pytest.param(NOV_DEC_2021, None, {"trading": {"trailing_stop": False}}, id="nov-dec-no-trailing"),
        pytest.param(
            NOV_DEC_2021,
            10,
            {"strategy": {"name": "tests.engine.test_replay_equivalence:Momentum", "params": {"lookback": 10, "rise_pct": 0.2}}},
            id="nov-dec-user-strategy-every-candle",
        ),
    ],
)
def test_every_stored_row_equals_the_candle_by_candle_path(tmp_path: Path, data_dir: Path | None, days: int | None, sections: dict) -> None:
    settings = Settings(**sections)
    datasets = [first_days(ds, days) for ds in load_datasets(SYMBOLS, data_dir).values()]
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
