"""A user's own strategy, defined in this test module, run through ``papertrader replay`` by its import path
(``strategy.name = "tests.engine.cli.test_user_strategy:DipBuyer"``) with parameters from ``[strategy.params]``, as
a user runs it (``python -m engine`` in a subprocess)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from engine.core.models import Candle
from engine.core.strategy import Signal, SignalKind
from tests.engine.cli.test_cli import ROOT, SHORT, cli, env, one, refused

__all__ = ["env"]  # the fixture, shared with test_cli

NAME = "tests.engine.cli.test_user_strategy:DipBuyer"


class DipBuyer:
    """ENTER_LONG when a candle closes more than ``drop_pct`` below its open; EXIT_LONG when one closes more than
    ``drop_pct`` above it. ``label`` goes into the order's reason."""

    def __init__(self, *, drop_pct: Decimal = Decimal("0.3"), label: str = "dip") -> None:
        if drop_pct <= 0:
            raise ValueError(f"drop_pct must be above 0, got {drop_pct}")
        self.warmup = 1
        self._factor = drop_pct / 100
        self._label = label

    def on_candle(self, candle: Candle) -> Signal | None:
        move = (candle.close - candle.open) / candle.open
        if move < -self._factor:
            return Signal(candle.symbol, SignalKind.ENTER_LONG, f"{self._label} {move:.2%}")
        if move > self._factor:
            return Signal(candle.symbol, SignalKind.EXIT_LONG, f"{self._label} over {move:.2%}")
        return None


def test_a_strategy_of_a_test_module_trades_through_replay_by_import_path(tmp_path: Path, env: dict[str, str]) -> None:
    config = tmp_path / "papertrader.toml"
    config.write_text(
        f'[strategy]\nname = "{NAME}"\n\n[strategy.params]\ndrop_pct = 0.2\nlabel = "my dip"\n\n'
        "[trading]\nmin_stop_pct = 0.1\n",  # a quiet night: 1m ATR stops are tight
        encoding="utf-8",
    )
    env["PAPERTRADER_CONFIG"] = str(config)

    result = cli("replay", "--db", "user.duckdb", "--no-progress", *SHORT, env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"strategy         {NAME}(drop_pct=0.2, label=my dip)"
    db = tmp_path / "user.duckdb"
    # every entry was the user's signal, with its label and parameters; some filled
    assert one(db, "SELECT count(*) FROM orders WHERE side = 'BUY' AND status = 'NEW' AND starts_with(reason, 'my dip -')") > 0
    assert one(db, "SELECT count(*) FROM orders WHERE side = 'BUY' AND status = 'NEW' AND NOT starts_with(reason, 'my dip -')") == 0
    assert one(db, "SELECT count(*) FROM fills WHERE side = 'BUY'") > 0


def test_a_bad_parameter_of_a_user_strategy_is_refused_in_one_line_naming_it(tmp_path: Path, env: dict[str, str]) -> None:
    env["PAPERTRADER_STRATEGY__NAME"] = NAME
    env["PAPERTRADER_STRATEGY__PARAMS"] = '{"drop_pct": -1}'

    line = refused(cli("replay", "--db", "x.duckdb", "--no-progress", *SHORT, env=env, cwd=tmp_path))

    assert line == (
        "papertrader: invalid configuration: strategy.params (PAPERTRADER_STRATEGY__PARAMS): "
        f"Value error, {NAME}: drop_pct must be above 0, got -1"
    )
    assert not (tmp_path / "x.duckdb").exists()


def test_the_strategy_of_docs_strategies_md_runs_from_the_working_directory(tmp_path: Path, env: dict[str, str]) -> None:
    """The guide's example, as written: its module in the working directory, its configuration block."""
    guide = (ROOT / "docs" / "strategies.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(\w+)\n(.*?)```", guide, flags=re.DOTALL)
    module = next(code for lang, code in blocks if lang == "python" and "class Breakout" in code)
    config = next(code for lang, code in blocks if lang == "toml" and "mystrategies:Breakout" in code)
    (tmp_path / "mystrategies.py").write_text(module, encoding="utf-8")
    (tmp_path / "papertrader.toml").write_text(config + "\n[trading]\nmin_stop_pct = 0.1\n", encoding="utf-8")

    result = cli("replay", "--db", "breakout.duckdb", "--no-progress", *SHORT, env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert one(tmp_path / "breakout.duckdb", "SELECT count(*) FROM orders WHERE reason = 'close above the 60-candle high'") > 0
