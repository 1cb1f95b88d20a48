"""Loading the configured strategy: built-ins by name, any class by import path (this module's own classes, a module
in the working directory), parameters checked against the constructor — every refusal one line naming the strategy
and the parameter."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from engine.core.models import Candle
from engine.core.rsi_reversion import RsiReversion
from engine.core.strategy import Signal, SignalKind, SmaCrossover
from engine.core.strategy_loader import StrategyError, build_strategy, validated_params

HERE = "tests.engine.core.test_strategy_loader"


class EveryNth:
    """A user's strategy: ENTER_LONG on every ``n``-th candle of a symbol."""

    def __init__(self, n: int, *, label: str = "nth") -> None:
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        self.n, self.label = n, label
        self.warmup = 0
        self._seen: dict[str, int] = {}

    def on_candle(self, candle: Candle) -> Signal | None:
        seen = self._seen[candle.symbol] = self._seen.get(candle.symbol, 0) + 1
        return Signal(candle.symbol, SignalKind.ENTER_LONG, self.label) if seen % self.n == 0 else None


class NoSignals:
    """Not a strategy: no ``on_candle``."""

    warmup = 0


class FractionalWarmup:
    warmup = 2.5

    def on_candle(self, candle: Candle) -> Signal | None:
        return None


def not_a_class() -> None:
    """A function where a class is expected."""


@pytest.fixture
def importable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp_path`` as the working directory, with ``sys.path`` and ``sys.modules`` restored afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    return tmp_path


def test_built_ins_by_name_with_the_parameters_converted_and_defaults_kept() -> None:
    sma = build_strategy("sma_crossover", {"fast": 5.0})  # a TOML float that is a whole number
    rsi = build_strategy("rsi_reversion", {"oversold": 20})

    assert isinstance(sma, SmaCrossover) and (sma.fast, sma.slow) == (5, 21)
    assert isinstance(rsi, RsiReversion) and (rsi.period, rsi.oversold, rsi.overbought) == (14, 20.0, 70.0)
    assert validated_params("rsi_reversion", RsiReversion, {"oversold": 20}) == {"period": 14, "oversold": 20.0, "overbought": 70.0}


def test_a_class_by_import_path_is_built_with_its_parameters() -> None:
    strategy = build_strategy(f"{HERE}:EveryNth", {"n": "3", "label": "every third"})

    assert type(strategy).__name__ == "EveryNth"
    signals = [strategy.on_candle(Candle("BTCUSDT", i, i + 1, *(1,) * 4, 1)) for i in range(6)]  # type: ignore[arg-type]
    assert [s.reason if s else None for s in signals] == [None, None, "every third", None, None, "every third"]


def test_a_module_in_the_working_directory_is_importable(importable: Path) -> None:
    (importable / "my_strategies_cwd.py").write_text(
        "class Quiet:\n    warmup = 3\n\n    def on_candle(self, candle):\n        return None\n", encoding="utf-8"
    )

    assert build_strategy("my_strategies_cwd:Quiet", {}).warmup == 3


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("sma_crossover", {"fst": 3}, "sma_crossover: unknown parameter 'fst' (it takes fast, slow)"),
        ("sma_crossover", {"fast": 30}, "sma_crossover: fast period (30) must be below slow period (21)"),
        (
            "sma_crossover",
            {"fast": 2.5},
            "sma_crossover: parameter 'fast': Input should be a valid integer, got a number with a fractional part (given 2.5)",
        ),
        (
            "rsi_reversion",
            {"period": "abc"},
            "rsi_reversion: parameter 'period': Input should be a valid integer, unable to parse string as an integer (given 'abc')",
        ),
        (f"{HERE}:EveryNth", {}, f"{HERE}:EveryNth: parameter 'n': Field required"),
        (f"{HERE}:EveryNth", {"n": 0}, f"{HERE}:EveryNth: n must be at least 1, got 0"),
        (f"{HERE}:NoSignals", {}, f"{HERE}:NoSignals does not implement the Strategy interface: it needs warmup and on_candle(candle)"),
        (f"{HERE}:FractionalWarmup", {}, f"{HERE}:FractionalWarmup: warmup must be a whole number of candles >= 0, got 2.5"),
        (f"{HERE}:not_a_class", {}, f"{HERE}:not_a_class: 'not_a_class' is not a class"),
        (f"{HERE}:Missing", {}, f"{HERE}:Missing: module '{HERE}' has no 'Missing'"),
        ("macd", {}, "'macd' is neither a built-in strategy (sma_crossover, rsi_reversion) nor an import path 'package.module:ClassName'"),
        (
            "no_such_package.strategies:Foo",
            {},
            "no_such_package.strategies:Foo: cannot import 'no_such_package.strategies' (No module named 'no_such_package'); "
            "is it on the Python path?",
        ),
    ],
)
def test_every_refusal_is_one_line_naming_the_strategy_and_parameter(name: str, params: dict[str, object], message: str) -> None:
    with pytest.raises(StrategyError) as caught:
        build_strategy(name, params)

    assert str(caught.value) == message


def test_a_module_failing_while_imported_is_named_with_its_error(importable: Path) -> None:
    (importable / "my_broken_strategies.py").write_text("raise RuntimeError('no API key')\n", encoding="utf-8")

    with pytest.raises(StrategyError, match=r"^my_broken_strategies:X: importing 'my_broken_strategies' failed: RuntimeError: no API key$"):
        build_strategy("my_broken_strategies:X", {})
