"""Datasets: trade counts known where the source has them, estimated where not, worked out on first use."""

from __future__ import annotations

from array import array

import pytest

from simulator.dataset import dataset_from_columns


def test_trade_counts_known_or_estimated_and_ids_contiguous() -> None:
    # quote volume ≈ volume × (high + low + close) / 3: 2 × 3,000 = 6,000 → ⌈6,000 / 1,000⌉ = 6 trades
    ds = dataset_from_columns(
        "BTCUSDT", array("q", [0, 60_000]), ["3000", "3000"], ["3000", "3000"], ["3000", "3000"], ["3000", "3000"], ["2", "2"],
        trades=[None, 42],
    )  # fmt: skip

    assert list(ds.trades) == [6, 42]
    assert list(ds.first_trade_id) == [1, 7]
    assert ds.candle(1).trades == 42 and ds.candle(1).first_trade_id == 7


def test_a_trade_count_per_candle_is_required() -> None:
    with pytest.raises(ValueError, match="BTCUSDT: 1 trade counts for 2 candles"):
        dataset_from_columns("BTCUSDT", array("q", [0, 60_000]), ["1", "1"], ["1", "1"], ["1", "1"], ["1", "1"], ["1", "1"], trades=[3])
