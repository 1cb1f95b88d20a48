"""Replay speed in CPU time: the bundled 30 days of BTCUSDT + ETHUSDT 1m through the whole engine with every table
persisted, interleaved with a baseline checkout of the project and with peer backtesters; and, with ``--scaling``,
how the replay's cost grows with symbols and length.

Run::

    .venv/bin/python benchmarks/replay_speed.py [--rounds 5] [--baseline ../other-checkout]
    .venv/bin/python benchmarks/replay_speed.py --scaling [--rounds 5]

Method (both modes):

* **fresh processes**: every run is a fresh interpreter (``--child``), so nothing is warm from a previous run and
  its peak RSS (``resource.getrusage(...).ru_maxrss``) is its own;
* **interleaved**: ``--rounds`` rounds (default and minimum 5), each running every contender once in a fixed
  order (A, B, peer1, peer2, …, A, B, …), so a drift of the machine (the other engineers' test runs) hits all of
  them alike;
* **CPU time**: speed is candles per CPU-second, CPU = ``time.process_time()`` of the child (user + system time,
  all its threads: DuckDB's and nautilus_trader's included), around the measured call only; wall seconds are
  printed alongside but not compared;
* **medians**: per contender the median over the rounds, with every round's figure; per pair, the median of the
  per-round ratios (same round, same machine state) and the ratio of the medians;
* the load averages (``os.getloadavg()``) are printed at start and end: figures taken under load are suspect.

Contenders of the comparison (default mode), in this order within a round:

* **this tree** and, with ``--baseline DIR``, **baseline** (that checkout): :func:`engine.cli.offline.bundled_replay`
  with ``Settings()`` — SMA(9)/SMA(21) crossover (exact integer sums; a cross is ``prev <= 0 < diff``), market
  orders filled at the next candle's open with 2 bps slippage and the 0.1 % taker fee, sized at the fill (2 % of
  equity at risk, at most 20 % of equity per position: with the 0.5 % minimum stop the 20 % cap is what binds), a
  stop 1.5 × ATR(14, Wilder) below the fill and a target 2 × that distance above, a trailing stop, exits on the
  cross down, no entry when the stop would be closer than 0.5 %, the pre-trade risk checks (3 positions at most,
  50 entries a day, correlation scaling), the portfolio circuit breaker, and every row (candles, equity, orders,
  fills, trades, denials, breaker events, …) recorded into a fresh DuckDB file (≈ 86,000 candles). The child runs
  with cwd = the tree and the tree first on ``PYTHONPATH``; it reports the ``engine`` it imported, printed once
  per tree, and a run that imported another tree's stops the benchmark.
  Measured: the interval the replay reports as ``elapsed_s`` — parsing the columns, precomputing the indicators,
  the engine, recording, and closing the file — not the interpreter start, the imports or the dataset load.
  ``engine.replay.replay`` times it with two ``time.perf_counter()`` calls; the child swaps the ``time`` of the
  module that defines ``replay`` (``engine/replay/run.py``; ``engine/replay.py`` in older trees) for a stand-in
  that also reads ``time.process_time()`` at those two calls. No engine code is changed, and a run where that
  module did not make exactly those two calls (so the bracket would be something else) is refused.
  Startup is measured apart, for this tree: from the process's start (``/proc/self/stat``) to the first of those
  two calls — interpreter, imports, loading the datasets, creating the database — as CPU (``process_time()`` at
  that call) and wall seconds; the target is 1 s.
* **peers** (``pip install -e '.[bench]'``; one that is not installed is printed as "not installed" and left
  out), on the same candles parsed to float64 (the loading and the frames are not measured). Each runs the same
  rules as far as the framework states them simply: SMA(9)/SMA(21) of closes; entry on a cross up (previous
  ``fast − slow`` strictly below 0, this one strictly above: backtesting.py's ``crossover`` and backtrader's
  ``CrossOver`` define it so, and the nautilus_trader strategy writes out the same test) when the symbol is flat
  with no order pending, unless 1.5 × ATR(14) is under 0.5 % of the close; a market order for 20 % of equity
  (what binds in this tree, above), filled at the next candle's open; a stop 1.5 × ATR(14, Wilder) below the
  **signal candle's close** and a take-profit 2 × that distance above it (fixed prices: none of them re-anchors
  to the fill); exit at market on the cross down, cancelling the stop and target; 0.1 % commission; no slippage,
  no trailing stop, no risk checks, no breaker, and nothing persisted:

  - **backtesting.py** (``backtesting``): one ``Backtest`` per symbol (it has one instrument per run), each with
    its own cash of 10,000,000 (it buys whole units: 20 % of 10,000 USDT would be 0 BTC), ``buy(size=0.2, sl=,
    tp=)``, SMA = ``backtesting.test.SMA``, ATR a Wilder ATR computed with pandas in ``Strategy.init`` (inside
    ``run``); measured around the two ``Backtest.run`` calls; its tqdm progress bar disabled (``TQDM_DISABLE``).
  - **backtrader** (``backtrader``): one ``Cerebro`` with both symbols (``PandasData`` feeds), 10,000 cash
    shared, fractional sizes, ``bt.ind.SMA``, ``bt.ind.CrossOver``, ``bt.ind.ATR`` (Wilder), ``buy_bracket``
    with a market entry, a stop and a limit (OCO); ``setcommission(0.001)``; measured around ``cerebro.run()``
    (which preloads the feeds, computes the indicators and runs the strategy).
  - **nautilus_trader** (``nautilus_trader``): one ``BacktestEngine`` with both symbols on one simulated Binance
    venue, a spot CASH account of 10,000 USDT, its test instruments ``btcusdt_binance`` / ``ethusdt_binance``
    (tick 0.01, taker fee 0.1 %), 1-minute LAST bars timestamped at their close; one strategy per symbol with
    ``SimpleMovingAverage`` 9/21 and ``AverageTrueRange(14, WILDER)``, a bracket order list (market entry,
    stop-market, limit take-profit, OCO), 20 % of the USDT balance (not of equity) per entry, exits by
    ``cancel_all_orders`` + ``close_all_positions``; log level ERROR; measured around ``engine.run()``.

Scaling (``--scaling``): this tree's replay only (``engine.replay.replay`` with the simulator's rules), on
datasets built from the real candles, in this order within a round:

* 1 symbol, 1×: BTCUSDT, the bundled 2021-04-20 … 05-20 (≈ 43,000 candles);
* 2 symbols, 1×: BTCUSDT and ETHUSDT, the bundled month (≈ 86,000);
* 4 symbols, 1×: those two, plus BTC2USDT and ETH2USDT: the 2021-11-11 … 12-11 candles of BTC and ETH
  (``tests/data/nov-dec-2021``) renamed and moved back 205 whole days so that the four trade side by side over
  the same UTC days (≈ 173,000); the new symbols get BTCUSDT's / ETHUSDT's exchange rules under their names;
* 1 symbol, 2×: BTCUSDT, the bundled month followed by Nov–Dec (a gap of six months between; ≈ 86,000).

Cost linear in candles and symbols = roughly the same candles per CPU-second in every layout; printed as each
layout's rate relative to the first.

Prints the load at start and end; one line per round; then per contender the median candles per CPU-second (with
every round's), the median CPU and wall seconds, the largest peak RSS and the run's results (trades, P&L, …) with
whether every round gave the same; then the ratios. Targets for this tree (issue 10): ≥ 1.0 × backtesting.py (aim
1.5 ×) and a peak RSS ≤ 250 MB for the bundled replay.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from unittest import mock

if TYPE_CHECKING:
    import pandas as pd

    from simulator.dataset import Dataset

SYMBOLS = ("BTCUSDT", "ETHUSDT")
TARGET_RATIO = 1.0
AIM_RATIO = 1.5
TARGET_RSS_MB = 250
MIN_ROUNDS = 5
HERE = Path(__file__).resolve().parents[1]
NOV_DEC = HERE / "tests" / "data" / "nov-dec-2021"
DAY_MS = 86_400_000
TARGET_STARTUP_S = 1.0
MEASURES = ("candles", "cpu_s", "wall_s", "rss_mb", "rss_before_mb", "startup_cpu_s", "startup_wall_s", "imported")
"""Fields of a child's report that are measurements; the rest are the run's results, expected equal every round."""

PRICE_COLUMNS = ("open", "high", "low", "close", "volume")
FAST, SLOW, ATR_PERIOD = 9, 21, 14
STOP_ATR, REWARD_RISK, MIN_STOP, POSITION, FEE = 1.5, 2.0, 0.005, 0.2, 0.001
"""The peers' rules: SMA periods, ATR period; stop = STOP_ATR × ATR below the signal close, target REWARD_RISK stop
distances above it, no entry when the stop distance is under MIN_STOP of the close, POSITION of equity per entry,
FEE commission per side (fractions)."""


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _since_process_start_s() -> float:
    """Wall seconds since this process started (Linux: ``/proc/self/stat`` field 22, in clock ticks since boot)."""
    ticks = os.sysconf("SC_CLK_TCK")
    started = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19]) / ticks
    return float(Path("/proc/uptime").read_text().split()[0]) - started


class _LoopClock:
    """Stands in for the ``time`` module inside the module that defines ``engine.replay.replay`` (``engine/replay.py``
    in older trees, ``engine/replay/run.py`` since the column-wise replay): each ``perf_counter()`` also reads
    ``process_time()``, so the CPU time of exactly the interval the replay reports as ``elapsed_s`` is known."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, float]] = []  # (perf_counter, process_time)
        self.rss_before_mb = 0.0
        self.startup_wall_s = 0.0

    def perf_counter(self) -> float:
        if not self.marks:
            self.rss_before_mb = _rss_mb()
            self.startup_wall_s = _since_process_start_s()
        cpu = time.process_time()
        wall = time.perf_counter()
        self.marks.append((wall, cpu))
        return wall

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


# ---------------------------------------------------------------------------------------------------- this tree


def _scaling_datasets(layout: str) -> tuple[list[Dataset], dict[str, Any]]:
    """The datasets of a ``--scaling`` layout (see the module docstring) and their exchangeInfo payload."""
    from simulator.dataset import dataset_from_columns, load_candles
    from simulator.klines_files import load_dir
    from simulator.symbols import SYMBOL_RULES

    def renamed(ds: Dataset, symbol: str, shift_ms: int = 0) -> Dataset:
        times = array("q", (t - shift_ms for t in ds.open_time_ms))
        return dataset_from_columns(symbol, times, ds.open, ds.high, ds.low, ds.close, ds.volume)

    def rules(symbol: str, like: str) -> dict[str, Any]:
        entry = SYMBOL_RULES[like].to_exchange_info()
        entry.update(symbol=symbol, baseAsset=symbol.removesuffix(entry["quoteAsset"]))
        return entry

    btc, eth = load_candles("BTCUSDT"), load_candles("ETHUSDT")
    if layout == "1 symbol, 1x":
        pairs = [(btc, "BTCUSDT")]
    elif layout == "2 symbols, 1x":
        pairs = [(btc, "BTCUSDT"), (eth, "ETHUSDT")]
    elif layout == "4 symbols, 1x":
        later = {s: load_dir(NOV_DEC, s) for s in SYMBOLS}
        shift_ms = (later["BTCUSDT"].start_ms // DAY_MS - btc.start_ms // DAY_MS) * DAY_MS  # whole days: same UTC days
        pairs = [
            (btc, "BTCUSDT"),
            (eth, "ETHUSDT"),
            (renamed(later["BTCUSDT"], "BTC2USDT", shift_ms), "BTCUSDT"),
            (renamed(later["ETHUSDT"], "ETH2USDT", shift_ms), "ETHUSDT"),
        ]
    elif layout == "1 symbol, 2x":
        nov = load_dir(NOV_DEC, "BTCUSDT")
        both = [[*getattr(btc, name), *getattr(nov, name)] for name in PRICE_COLUMNS]
        times = array("q", [*btc.open_time_ms, *nov.open_time_ms])
        pairs = [(dataset_from_columns("BTCUSDT", times, *both), "BTCUSDT")]
    else:
        raise ValueError(f"unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")
    return [ds for ds, _ in pairs], {"symbols": [rules(ds.symbol, like) for ds, like in pairs]}


LAYOUTS = ("1 symbol, 1x", "2 symbols, 1x", "4 symbols, 1x", "1 symbol, 2x")
"""The ``--scaling`` layouts, in the order of a round: 1, 2, 4 symbols at 1× length, then 1 symbol at 2×."""


def run_papertrader(layout: str | None) -> dict[str, Any]:
    """One replay into a temporary file — of the bundled BTCUSDT + ETHUSDT through ``bundled_replay`` (``layout``
    ``None``), or of a scaling layout through ``replay`` — returning candles, CPU and wall seconds of the replay's
    own timed interval, peak RSS, the ``engine`` file imported and the summary's results."""
    import engine
    import engine.replay
    from engine.config import Settings

    clock = _LoopClock()
    timed = sys.modules[engine.replay.replay.__module__]
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "replay.duckdb"
        if layout is None:
            from engine.cli.offline import bundled_replay

            with mock.patch.object(timed, "time", clock):
                summary = bundled_replay(Settings(), symbols=SYMBOLS, db_path=db_path)
        else:
            datasets, exchange_info = _scaling_datasets(layout)
            with mock.patch.object(timed, "time", clock):
                summary = engine.replay.replay(Settings(), datasets=datasets, exchange_info=exchange_info, db_path=db_path)
    if len(clock.marks) != 2 or not math.isclose(clock.marks[1][0] - clock.marks[0][0], summary.elapsed_s, abs_tol=1e-9):
        raise SystemExit(
            f"{timed.__name__}'s time.perf_counter() calls ({len(clock.marks)}) are not the 2 that time the replay "
            "(elapsed_s): the benchmark cannot bracket it; update _LoopClock"
        )
    return {
        "candles": summary.candles,
        "cpu_s": clock.marks[1][1] - clock.marks[0][1],
        "wall_s": summary.elapsed_s,
        "rss_mb": _rss_mb(),
        "rss_before_mb": clock.rss_before_mb,
        "startup_cpu_s": clock.marks[0][1],  # process CPU before the replay's first candle: start, imports, load, open
        "startup_wall_s": clock.startup_wall_s,
        "imported": engine.__file__,
        "trades": summary.trades,
        "fills": summary.fills,
        "pnl": str(summary.pnl),
        "max_drawdown_pct": summary.max_drawdown_pct,
        "breaker_trips": summary.breaker_trips,
        "denials": summary.denials,
    }


# ---------------------------------------------------------------------------------------------------- peers


def _frames() -> dict[str, pd.DataFrame]:
    """The bundled candles of :data:`SYMBOLS` as float64 frames (``Open`` … ``Volume``, index: open time, UTC)."""
    import pandas as pd

    from simulator.dataset import load_candles

    frames = {}
    for symbol in SYMBOLS:
        ds = load_candles(symbol)
        columns = {name.capitalize(): pd.to_numeric(pd.Series(getattr(ds, name))).to_numpy() for name in PRICE_COLUMNS}
        frames[symbol] = pd.DataFrame(columns, index=pd.to_datetime(list(ds.open_time_ms), unit="ms", utc=True))
    return frames


def _report(candles: int, cpu_s: float, wall_s: float, rss_before_mb: float, **results: Any) -> dict[str, Any]:
    """A peer child's report: measurements, the ``simulator`` file the candles came from, then the results."""
    import simulator

    measures = {"candles": candles, "cpu_s": cpu_s, "wall_s": wall_s, "rss_mb": _rss_mb(), "rss_before_mb": rss_before_mb}
    return {**measures, "imported": simulator.__file__, **results}


def run_backtesting() -> dict[str, Any]:
    """backtesting.py (see the module docstring): one ``Backtest.run`` per symbol; trades and return per symbol."""
    os.environ["TQDM_DISABLE"] = "1"  # its progress bar: tqdm reads TQDM_* variables as defaults
    import warnings

    import numpy as np
    import pandas as pd
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

    def wilder_atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
        previous = np.concatenate(([np.nan], close[:-1]))
        true_range = np.fmax(np.fmax(high - low, np.abs(high - previous)), np.abs(low - previous))
        atr = np.full(len(close), np.nan)
        seeded = np.concatenate(([true_range[:period].mean()], true_range[period:]))
        atr[period - 1 :] = pd.Series(seeded).ewm(alpha=1 / period, adjust=False).mean().to_numpy()
        return atr

    class SmaAtr(Strategy):
        def init(self) -> None:
            self.fast = self.I(SMA, self.data.Close, FAST)
            self.slow = self.I(SMA, self.data.Close, SLOW)
            self.atr = self.I(wilder_atr, self.data.High, self.data.Low, self.data.Close, ATR_PERIOD)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                close, distance = self.data.Close[-1], STOP_ATR * self.atr[-1]
                if not self.position and not self.orders and distance >= MIN_STOP * close:
                    self.buy(size=POSITION, sl=close - distance, tp=close + REWARD_RISK * distance)
            elif crossover(self.slow, self.fast) and self.position:
                self.position.close()

    candles, cpu_s, wall_s, trades, returns = 0, 0.0, 0.0, {}, {}
    frames = _frames()
    rss_before_mb = _rss_mb()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for symbol, frame in frames.items():
            bt = Backtest(frame, SmaAtr, cash=10_000_000, commission=FEE, finalize_trades=True)
            cpu, wall = time.process_time(), time.perf_counter()
            stats = bt.run()
            cpu_s += time.process_time() - cpu
            wall_s += time.perf_counter() - wall
            candles += len(frame)
            trades[symbol] = int(stats["# Trades"])
            returns[symbol] = round(float(stats["Return [%]"]), 4)
    return _report(candles, cpu_s, wall_s, rss_before_mb, trades=trades, return_pct=returns)


def run_backtrader() -> dict[str, Any]:
    """backtrader (see the module docstring): one ``cerebro.run()`` over both symbols; closed trades and final value."""
    import backtrader as bt

    class SmaAtr(bt.Strategy):
        def __init__(self) -> None:
            self.indicators = {
                d: (bt.ind.CrossOver(bt.ind.SMA(d.close, period=FAST), bt.ind.SMA(d.close, period=SLOW)), bt.ind.ATR(d, period=ATR_PERIOD))
                for d in self.datas
            }
            self.brackets: dict[Any, list[Any]] = {d: [] for d in self.datas}
            self.closed = 0

        def next(self) -> None:
            for d in self.datas:
                cross, atr = self.indicators[d]
                if cross[0] > 0:
                    if self.getposition(d).size or any(o.alive() for o in self.brackets[d]):
                        continue
                    close, distance = d.close[0], STOP_ATR * atr[0]
                    if distance >= MIN_STOP * close:
                        self.brackets[d] = self.buy_bracket(
                            data=d, size=POSITION * self.broker.getvalue() / close, exectype=bt.Order.Market,
                            stopprice=close - distance, limitprice=close + REWARD_RISK * distance,
                        )  # fmt: skip
                elif cross[0] < 0 and self.getposition(d).size:
                    for order in self.brackets[d]:
                        if order.alive():
                            self.cancel(order)
                    self.close(data=d)

        def notify_trade(self, trade: Any) -> None:
            if trade.isclosed:
                self.closed += 1

    cerebro = bt.Cerebro(stdstats=False)
    candles = 0
    for symbol, frame in _frames().items():
        frame = frame.tz_localize(None)  # backtrader's feeds take naive datetimes (these are UTC)
        cerebro.adddata(bt.feeds.PandasData(dataname=frame), name=symbol)
        candles += len(frame)
    cerebro.addstrategy(SmaAtr)
    cerebro.broker.setcash(10_000)
    cerebro.broker.setcommission(commission=FEE)
    rss_before_mb = _rss_mb()
    cpu, wall = time.process_time(), time.perf_counter()
    (strategy,) = cerebro.run()
    cpu_s, wall_s = time.process_time() - cpu, time.perf_counter() - wall
    return _report(candles, cpu_s, wall_s, rss_before_mb, trades=strategy.closed, final_value=round(cerebro.broker.getvalue(), 4))


def run_nautilus() -> dict[str, Any]:
    """nautilus_trader (see the module docstring): one ``BacktestEngine.run`` over both symbols; closed positions
    per symbol and the final USDT balance."""
    import pandas as pd
    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.config import LoggingConfig, StrategyConfig
    from nautilus_trader.indicators import AverageTrueRange, MovingAverageType, SimpleMovingAverage
    from nautilus_trader.model.currencies import USDT
    from nautilus_trader.model.data import Bar, BarType
    from nautilus_trader.model.enums import AccountType, OmsType, OrderSide, OrderType
    from nautilus_trader.model.identifiers import InstrumentId, Venue
    from nautilus_trader.model.objects import Money
    from nautilus_trader.persistence.wranglers import BarDataWrangler
    from nautilus_trader.test_kit.providers import TestInstrumentProvider
    from nautilus_trader.trading.strategy import Strategy

    class SmaAtrConfig(StrategyConfig, frozen=True):
        instrument_id: InstrumentId
        bar_type: BarType

    class SmaAtr(Strategy):
        def __init__(self, config: SmaAtrConfig) -> None:
            super().__init__(config)
            self.instrument_id, self.bar_type = config.instrument_id, config.bar_type
            self.fast, self.slow = SimpleMovingAverage(FAST), SimpleMovingAverage(SLOW)
            self.atr = AverageTrueRange(ATR_PERIOD, MovingAverageType.WILDER)
            self.previous: float | None = None
            self.closed = 0

        def on_start(self) -> None:
            self.instrument = self.cache.instrument(self.instrument_id)
            for indicator in (self.fast, self.slow, self.atr):
                self.register_indicator_for_bars(self.bar_type, indicator)
            self.subscribe_bars(self.bar_type)

        def on_bar(self, bar: Bar) -> None:
            if not (self.slow.initialized and self.atr.initialized):
                return
            diff = self.fast.value - self.slow.value
            previous, self.previous = self.previous, diff
            if previous is None:
                return
            iid = self.instrument_id
            if previous < 0 < diff:
                close, distance = bar.close.as_double(), STOP_ATR * self.atr.value
                if self.portfolio.is_flat(iid) and not self.cache.orders_open(instrument_id=iid) and distance >= MIN_STOP * close:
                    cash = self.portfolio.account(iid.venue).balance_total(USDT).as_double()
                    self.submit_order_list(
                        self.order_factory.bracket(
                            instrument_id=iid,
                            order_side=OrderSide.BUY,
                            quantity=self.instrument.make_qty(POSITION * cash / close),
                            entry_order_type=OrderType.MARKET,
                            sl_trigger_price=self.instrument.make_price(close - distance),
                            tp_price=self.instrument.make_price(close + REWARD_RISK * distance),
                        )
                    )
            elif previous > 0 > diff and not self.portfolio.is_flat(iid):
                self.cancel_all_orders(iid)
                self.close_all_positions(iid)

        def on_position_closed(self, event: Any) -> None:
            self.closed += 1

    instruments = {"BTCUSDT": TestInstrumentProvider.btcusdt_binance(), "ETHUSDT": TestInstrumentProvider.ethusdt_binance()}
    venue = Venue("BINANCE")
    engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR")))
    engine.add_venue(venue, oms_type=OmsType.NETTING, account_type=AccountType.CASH, starting_balances=[Money(10_000, USDT)])
    strategies, candles = {}, 0
    for n, (symbol, frame) in enumerate(_frames().items()):
        instrument = instruments[symbol]
        bar_type = BarType.from_str(f"{instrument.id}-1-MINUTE-LAST-EXTERNAL")
        bars = frame.rename(columns=str.lower)
        bars.index = bars.index + pd.Timedelta(minutes=1)  # a nautilus bar is timestamped at its close
        engine.add_instrument(instrument)
        engine.add_data(BarDataWrangler(bar_type, instrument).process(bars))
        strategies[symbol] = SmaAtr(SmaAtrConfig(instrument_id=instrument.id, bar_type=bar_type, order_id_tag=f"{n:03d}"))
        engine.add_strategy(strategies[symbol])
        candles += len(bars)
    rss_before_mb = _rss_mb()
    cpu, wall = time.process_time(), time.perf_counter()
    engine.run()
    cpu_s, wall_s = time.process_time() - cpu, time.perf_counter() - wall
    balance = str(engine.portfolio.account(venue).balance_total(USDT))
    engine.dispose()
    return _report(candles, cpu_s, wall_s, rss_before_mb, trades={s: st.closed for s, st in strategies.items()}, balance=balance)


PEERS = {
    "backtesting.py": ("backtesting", "backtesting"),
    "backtrader": ("backtrader", "backtrader"),
    "nautilus_trader": ("nautilus", "nautilus_trader"),
}
"""Peer label → (runner, module that must be importable)."""
RUNNERS: dict[str, Callable[[str | None], dict[str, Any]]] = {
    "papertrader": run_papertrader,
    "backtesting": lambda _: run_backtesting(),
    "backtrader": lambda _: run_backtrader(),
    "nautilus": lambda _: run_nautilus(),
}


# ---------------------------------------------------------------------------------------------------- the parent


class Contender:
    """One thing measured: a runner (with a scaling layout, for this tree) in a tree whose packages the child
    imports, and its runs so far."""

    def __init__(self, label: str, runner: str, tree: Path, layout: str | None = None) -> None:
        self.label, self.runner, self.tree, self.layout = label, runner, tree, layout
        self.runs: list[dict[str, Any]] = []

    def run_once(self) -> dict[str, Any]:
        """One run in a fresh interpreter, cwd = the tree, the tree first on PYTHONPATH; its report, checked to have
        imported from the tree."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(self.tree), env.get("PYTHONPATH")) if p)
        command = [sys.executable, str(Path(__file__).resolve()), "--child", self.runner]
        if self.layout is not None:
            command += ["--layout", self.layout]
        proc = subprocess.run(command, capture_output=True, text=True, cwd=self.tree, env=env, check=False)
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
            raise SystemExit(f"{self.label}: child run failed: {tail[0]}")
        run: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        if not Path(run["imported"]).resolve().is_relative_to(self.tree):
            raise SystemExit(f"{self.label}: the child imported {run['imported']}, not from {self.tree}")
        if not self.runs and self.layout is None:
            print(f"{self.label:<16} imports {run['imported']}", flush=True)
        self.runs.append(run)
        return run

    @property
    def rates(self) -> list[float]:
        """Candles per CPU-second of each round."""
        return [r["candles"] / r["cpu_s"] for r in self.runs]

    @property
    def median_rate(self) -> float:
        return statistics.median(self.rates)

    @property
    def startup_cpu_s(self) -> float:
        return statistics.median(r["startup_cpu_s"] for r in self.runs)

    @property
    def peak_rss_mb(self) -> float:
        return max(r["rss_mb"] for r in self.runs)

    def report(self) -> None:
        cpu = statistics.median(r["cpu_s"] for r in self.runs)
        wall = statistics.median(r["wall_s"] for r in self.runs)
        print(
            f"{self.label:<16} {self.runs[0]['candles']:,} candles: median {self.median_rate:,.0f} candles/CPU-s "
            f"(rounds: {', '.join(f'{r:,.0f}' for r in self.rates)})"
        )
        before = max(r["rss_before_mb"] for r in self.runs)
        print(
            f"{'':<16} median CPU {cpu:.3f} s, wall {wall:.3f} s; "
            f"peak RSS {self.peak_rss_mb:,.0f} MB ({before:,.0f} MB already before the measured call)"
        )
        if "startup_cpu_s" in self.runs[0]:
            print(
                f"{'':<16} startup (process start to the first candle: interpreter, imports, dataset load, new "
                f"database): median CPU {self.startup_cpu_s:.3f} s, wall {statistics.median(r['startup_wall_s'] for r in self.runs):.3f} s"
            )
        results = [json.dumps({k: v for k, v in r.items() if k not in MEASURES}) for r in self.runs]
        distinct = list(dict.fromkeys(results))
        if len(distinct) == 1:
            print(f"{'':<16} results, same in all {len(results)} rounds: {distinct[0]}")
        else:
            print(f"{'':<16} results DIFFER between rounds:")
            for result in distinct:
                print(f"{'':<16}   {results.count(result)}x {result}")


def _ratio(ours: Contender, other: Contender) -> tuple[float, float]:
    """(median of the per-round ratios ours / other, ratio of the medians), of candles per CPU-second; printed."""
    per_round = [a / b for a, b in zip(ours.rates, other.rates, strict=True)]
    median_ratio, of_medians = statistics.median(per_round), ours.median_rate / other.median_rate
    print(
        f"ratio {ours.label} / {other.label}: median of per-round ratios {median_ratio:.2f} "
        f"(rounds: {', '.join(f'{r:.2f}' for r in per_round)}); ratio of medians {of_medians:.2f}"
    )
    return median_ratio, of_medians


def _load(when: str) -> None:
    one, five, fifteen = os.getloadavg()
    print(f"load average {when}: {one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min; {os.cpu_count()} CPUs)", flush=True)


def _refuse(message: str) -> NoReturn:
    print(f"replay_speed.py: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _rounds(contenders: Sequence[Contender], rounds: int) -> None:
    """Run ``rounds`` interleaved rounds, one line per round, then each contender's report."""
    for n in range(1, rounds + 1):
        parts = [f"{c.label} {c.run_once()['cpu_s']:.3f} s" for c in contenders]
        print(f"round {n}/{rounds} (CPU): {', '.join(parts)}", flush=True)
    for contender in contenders:
        contender.report()


def compare(rounds: int, baseline: Path | None) -> None:
    """The default mode: this tree, the baseline and the installed peers, interleaved."""
    ours = Contender("this tree", "papertrader", HERE)
    contenders = [ours]
    if baseline is not None:
        contenders.append(Contender("baseline", "papertrader", baseline))
    missing = []
    for label, (runner, module) in PEERS.items():
        if importlib.util.find_spec(module) is None:
            missing.append(label)
        else:
            contenders.append(Contender(label, runner, HERE))
    _load("at start")
    for label in missing:
        print(f"{label:<16} not installed (pip install -e '.[bench]'): left out")
    if len(contenders) == 1:
        print("nothing to compare with (no --baseline, no peer installed): this tree's numbers alone")
    _rounds(contenders, rounds)
    ratios = {other.label: _ratio(ours, other) for other in contenders[1:]}
    if "backtesting.py" in ratios:
        ratio = ratios["backtesting.py"][0]
        verdict = "NOT met" if ratio < TARGET_RATIO else ("met, aim met" if ratio >= AIM_RATIO else "met, aim not met")
        print(
            f"target: this tree >= {TARGET_RATIO:.1f}x backtesting.py (aim {AIM_RATIO:.1f}x): "
            f"median per-round ratio {ratio:.2f}, {verdict}"
        )
    rss = ours.peak_rss_mb
    print(f"target: peak RSS of the bundled replay <= {TARGET_RSS_MB} MB: {rss:,.0f} MB, {'met' if rss <= TARGET_RSS_MB else 'NOT met'}")
    startup = ours.startup_cpu_s
    print(
        f"target: replay startup <= {TARGET_STARTUP_S:.0f} s (median CPU): {startup:.3f} s, "
        f"{'met' if startup <= TARGET_STARTUP_S else 'NOT met'}"
    )
    _load("at end")


def scaling(rounds: int) -> None:
    """``--scaling``: this tree's replay over the layouts, interleaved; rates relative to the first layout."""
    contenders = [Contender(layout, "papertrader", HERE, layout) for layout in LAYOUTS]
    _load("at start")
    _rounds(contenders, rounds)
    first = contenders[0]
    for contender in contenders[1:]:
        _ratio(contender, first)
    print("linear cost = every ratio near 1.00 (the same candles per CPU-second at any size)")
    _load("at end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=MIN_ROUNDS, help=f"interleaved rounds, at least {MIN_ROUNDS}")
    parser.add_argument("--baseline", type=Path, metavar="DIR", help="another checkout of papertrader to compare with")
    parser.add_argument("--scaling", action="store_true", help="this tree's replay at 1, 2, 4 symbols and 1x, 2x length")
    parser.add_argument("--child", choices=tuple(RUNNERS), help=argparse.SUPPRESS)
    parser.add_argument("--layout", choices=LAYOUTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import logging

        logging.disable(logging.WARNING)  # breaker transitions are logged; not what is measured
        print(json.dumps(RUNNERS[args.child](args.layout)))
        return
    if args.rounds < MIN_ROUNDS:
        _refuse(f"--rounds must be at least {MIN_ROUNDS} (medians of fewer rounds are not worth comparing), got {args.rounds}")
    baseline: Path | None = args.baseline
    if baseline is not None:
        if args.scaling:
            _refuse("--scaling measures this tree alone; it takes no --baseline")
        if not baseline.is_dir():
            _refuse(f"--baseline {baseline}: not a directory")
        if not (baseline / "engine" / "__init__.py").is_file():
            _refuse(f"--baseline {baseline}: no engine package there (no engine/__init__.py); not a papertrader checkout")
        baseline = baseline.resolve()
    if args.scaling:
        scaling(args.rounds)
    else:
        compare(args.rounds, baseline)


if __name__ == "__main__":
    main()
