"""A replay's columns: floats equal to ``float(Decimal(text))``, closes in exact units of 1e-8, symbols merged by
market time with ties in dataset order."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pytest

from engine.replay.columns import MergedOrder, SymbolColumns
from simulator.dataset import load_candles


@dataclass
class Texts:
    symbol: str
    open_time_ms: list[int]
    open: list[str]
    high: list[str]
    low: list[str]
    close: list[str]
    volume: list[str]

    def __len__(self) -> int:
        return len(self.open_time_ms)

    def index_at_or_after(self, time_ms: int) -> int:
        return sum(t < time_ms for t in self.open_time_ms)


def texts(symbol: str, times: list[int], closes: list[str]) -> Texts:
    return Texts(symbol, times, closes, closes, closes, closes, ["1"] * len(closes))


def test_a_real_month_parses_to_the_exact_values() -> None:
    ds = load_candles("ETHUSDT")
    columns = SymbolColumns.parse(ds, 100, len(ds))

    assert len(columns) == len(ds) - 100
    for name in ("open", "high", "low", "close", "volume"):
        assert getattr(columns, name).tolist() == [float(Decimal(t)) for t in getattr(ds, name)[100:]]
    assert columns.close_units.tolist() == [int(Decimal(t).scaleb(8)) for t in ds.close[100:]]
    assert columns.candle(0).close == Decimal(ds.close[100]) and columns.candle(0).open_time_ms == ds.open_time_ms[100]


def test_a_close_with_more_than_eight_decimals_is_refused() -> None:
    with pytest.raises(ValueError, match="BTCUSDT: a close has more than 8 decimals"):
        SymbolColumns.parse(texts("BTCUSDT", [0], ["1.000000001"]), 0, 1)


def test_symbols_merge_by_open_time_ties_in_dataset_order() -> None:
    btc = SymbolColumns.parse(texts("BTCUSDT", [0, 60_000, 180_000], ["1", "2", "3"]), 0, 3)
    eth = SymbolColumns.parse(texts("ETHUSDT", [0, 120_000, 180_000], ["4", "5", "6"]), 0, 3)

    order = MergedOrder.of([btc, eth], [1, 0])  # BTC's first candle is warm-up: not in the order

    assert list(zip(order.symbol.tolist(), order.row.tolist(), strict=True)) == [(1, 0), (0, 1), (1, 1), (0, 2), (1, 2)]
    assert order.open_ms.tolist() == [0, 60_000, 120_000, 180_000, 180_000]
    assert np.array_equal(order.close_units, np.array([4, 2, 5, 3, 6]) * 100_000_000)
