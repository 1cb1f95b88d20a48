"""Replay speed in CPU time: the bundled 30 days of BTCUSDT + ETHUSDT 1m through the whole engine, interleaved with
a baseline checkout of the project and with backtesting.py.

Run::

    .venv/bin/python benchmarks/replay_speed.py [--rounds 5] [--baseline ../other-checkout]

Contenders, every run a fresh interpreter (so its peak RSS, ``resource.getrusage(...).ru_maxrss``, is its own):

* **papertrader** of this tree and, with ``--baseline DIR``, of that checkout:
  :func:`engine.cli.offline.bundled_replay` with ``Settings()`` (SMA 9/21, ATR stops/targets, risk checks, paper
  broker, circuit breaker; a ``papertrader.toml`` in the tree or ``PAPERTRADER_*`` variables would apply too) and
  every row recorded to a fresh DuckDB file (≈ 86,000 candles). The child runs with cwd = the tree and the tree
  first on ``PYTHONPATH``; it reports the ``engine`` it imported, printed once per tree, and a run that imported
  another tree's stops the benchmark.
  Measured: the replay loop only (candle building, engine, recording, flushes) — not the interpreter start, the
  imports, the dataset load, opening the store or the summary query. ``engine.replay.replay`` times that loop
  with two ``time.perf_counter()`` calls (its ``elapsed_s``); the child swaps that module's ``time`` for a stand-in
  that also reads ``time.process_time()`` at those two calls. No engine code is changed, and a run where that
  module did not make exactly those two calls (so the bracket would be something else) is refused.
* **backtesting.py** (peer reference; ``pip install -e '.[bench]'``; left out when not installed): an
  SMA(9)/SMA(21) crossover over the same candles, one ``Backtest.run`` per symbol, measured around the ``run``
  calls only.

Method: ``--rounds`` rounds (default and minimum 5); each round runs every contender once, in the order this tree,
baseline, backtesting.py (A, B, peer, A, B, peer, …), so a drift of the machine hits all of them alike. Speed is
candles per CPU-second, CPU = ``time.process_time()`` (user + system time of the child process, all its threads,
DuckDB's included); wall seconds are reported alongside but not compared.

Prints the load averages (``os.getloadavg()``) at start and end; one line per round; then per contender the median
candles per CPU-second (with every round's), the median CPU and wall seconds, the largest peak RSS and the replay's
results (trades, P&L, …) with whether every round gave the same; then the ratios of the medians, this tree /
baseline and this tree / backtesting.py. Targets for this tree: ≥ 100,000 candles per CPU-second and < 300 MB.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn
from unittest import mock

SYMBOLS = ("BTCUSDT", "ETHUSDT")
TARGET_CANDLES_PER_CPU_S = 100_000
TARGET_RSS_MB = 300
MIN_ROUNDS = 5
HERE = Path(__file__).resolve().parents[1]
MEASURES = ("candles", "cpu_s", "wall_s", "rss_mb", "imported")
"""Fields of a child's report that are measurements; the rest are the run's results, expected equal every round."""


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


class _LoopClock:
    """Stands in for the ``time`` module inside the module that defines ``engine.replay.replay`` (``engine/replay.py``
    in older trees, ``engine/replay/run.py`` since the column-wise replay): each ``perf_counter()`` also reads
    ``process_time()``, so the CPU time of exactly the interval the replay reports as ``elapsed_s`` is known."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, float]] = []  # (perf_counter, process_time)

    def perf_counter(self) -> float:
        cpu = time.process_time()
        wall = time.perf_counter()
        self.marks.append((wall, cpu))
        return wall

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def run_papertrader() -> dict[str, Any]:
    """One replay into a temporary file; returns candles, loop CPU and wall seconds, peak RSS, the ``engine`` file
    imported and the summary's results."""
    import engine
    import engine.replay
    from engine.cli.offline import bundled_replay
    from engine.config import Settings

    clock = _LoopClock()
    timed = sys.modules[engine.replay.replay.__module__]
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(timed, "time", clock):
        summary = bundled_replay(Settings(), symbols=SYMBOLS, db_path=Path(tmp) / "replay.duckdb")
    if len(clock.marks) != 2 or not math.isclose(clock.marks[1][0] - clock.marks[0][0], summary.elapsed_s, abs_tol=1e-9):
        raise SystemExit(
            f"{timed.__name__}'s time.perf_counter() calls ({len(clock.marks)}) are not the 2 that time its loop "
            "(elapsed_s): the benchmark cannot bracket the loop; update _LoopClock"
        )
    return {
        "candles": summary.candles,
        "cpu_s": clock.marks[1][1] - clock.marks[0][1],
        "wall_s": summary.elapsed_s,
        "rss_mb": _rss_mb(),
        "imported": engine.__file__,
        "trades": summary.trades,
        "fills": summary.fills,
        "pnl": str(summary.pnl),
        "max_drawdown_pct": summary.max_drawdown_pct,
        "breaker_trips": summary.breaker_trips,
        "denials": summary.denials,
    }


def run_backtesting() -> dict[str, Any]:
    """backtesting.py's SMA 9/21 crossover over the same candles, per symbol; returns candles, CPU and wall seconds
    of the ``run`` calls, peak RSS, the ``simulator`` file the candles came from and the trades."""
    import warnings

    import pandas as pd
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

    import simulator
    from simulator.dataset import load_candles

    class SmaCross(Strategy):
        fast, slow = 9, 21

        def init(self) -> None:
            self.sma_fast = self.I(SMA, self.data.Close, self.fast)
            self.sma_slow = self.I(SMA, self.data.Close, self.slow)

        def next(self) -> None:
            if crossover(self.sma_fast, self.sma_slow):
                self.buy()
            elif crossover(self.sma_slow, self.sma_fast):
                self.position.close()

    frames = []
    for symbol in SYMBOLS:
        ds = load_candles(symbol)
        frames.append(
            pd.DataFrame(
                {
                    "Open": pd.to_numeric(pd.Series(ds.open)).to_numpy(),
                    "High": pd.to_numeric(pd.Series(ds.high)).to_numpy(),
                    "Low": pd.to_numeric(pd.Series(ds.low)).to_numpy(),
                    "Close": pd.to_numeric(pd.Series(ds.close)).to_numpy(),
                    "Volume": pd.to_numeric(pd.Series(ds.volume)).to_numpy(),
                },
                index=pd.to_datetime(list(ds.open_time_ms), unit="ms", utc=True),
            )
        )
    candles, cpu_s, wall_s, trades = 0, 0.0, 0.0, 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for frame in frames:
            bt = Backtest(frame, SmaCross, cash=10_000_000, commission=0.001, finalize_trades=True)
            cpu, wall = time.process_time(), time.perf_counter()
            stats = bt.run()
            cpu_s += time.process_time() - cpu
            wall_s += time.perf_counter() - wall
            candles += len(frame)
            trades += int(stats["# Trades"])
    return {
        "candles": candles,
        "cpu_s": cpu_s,
        "wall_s": wall_s,
        "rss_mb": _rss_mb(),
        "imported": simulator.__file__,
        "trades": trades,
    }


RUNNERS: dict[str, Callable[[], dict[str, Any]]] = {"papertrader": run_papertrader, "backtesting": run_backtesting}


class Contender:
    """One thing measured: a runner in a tree (whose packages the child imports), and its runs so far."""

    def __init__(self, label: str, runner: str, tree: Path) -> None:
        self.label, self.runner, self.tree = label, runner, tree
        self.runs: list[dict[str, Any]] = []

    def run_once(self) -> dict[str, Any]:
        """One run in a fresh interpreter, cwd = the tree, the tree first on PYTHONPATH; its report, checked to have
        imported from the tree."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(self.tree), env.get("PYTHONPATH")) if p)
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", self.runner],
            capture_output=True, text=True, cwd=self.tree, env=env, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
            raise SystemExit(f"{self.label}: child run failed: {tail[0]}")
        run: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        if not Path(run["imported"]).resolve().is_relative_to(self.tree):
            raise SystemExit(f"{self.label}: the child imported {run['imported']}, not from {self.tree}")
        if not self.runs:
            print(f"{self.label:<15} imports {run['imported']}", flush=True)
        self.runs.append(run)
        return run

    @property
    def median_rate(self) -> float:
        """Median candles per CPU-second over the runs."""
        return statistics.median(r["candles"] / r["cpu_s"] for r in self.runs)

    def report(self) -> None:
        rates = [r["candles"] / r["cpu_s"] for r in self.runs]
        cpu = statistics.median(r["cpu_s"] for r in self.runs)
        wall = statistics.median(r["wall_s"] for r in self.runs)
        rss = max(r["rss_mb"] for r in self.runs)
        print(
            f"{self.label:<15} {self.runs[0]['candles']:,} candles: median {self.median_rate:,.0f} candles/CPU-s "
            f"(rounds: {', '.join(f'{r:,.0f}' for r in rates)})"
        )
        print(f"{'':<15} median CPU {cpu:.3f} s, wall {wall:.3f} s; peak RSS {rss:,.0f} MB")
        results = [json.dumps({k: v for k, v in r.items() if k not in MEASURES}) for r in self.runs]
        distinct = list(dict.fromkeys(results))
        if len(distinct) == 1:
            print(f"{'':<15} results, same in all {len(results)} rounds: {distinct[0]}")
        else:
            print(f"{'':<15} results DIFFER between rounds:")
            for result in distinct:
                print(f"{'':<15}   {results.count(result)}x {result}")


def _load(when: str) -> None:
    one, five, fifteen = os.getloadavg()
    print(f"load average {when}: {one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min; {os.cpu_count()} CPUs)", flush=True)


def _refuse(message: str) -> NoReturn:
    print(f"replay_speed.py: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=MIN_ROUNDS, help=f"interleaved rounds, at least {MIN_ROUNDS}")
    parser.add_argument("--baseline", type=Path, metavar="DIR", help="another checkout of papertrader to compare with")
    parser.add_argument("--child", choices=tuple(RUNNERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import logging

        logging.disable(logging.WARNING)  # breaker transitions are logged; not what is measured
        print(json.dumps(RUNNERS[args.child]()))
        return
    if args.rounds < MIN_ROUNDS:
        _refuse(f"--rounds must be at least {MIN_ROUNDS} (medians of fewer rounds are not worth comparing), got {args.rounds}")
    baseline: Path | None = args.baseline
    if baseline is not None:
        if not baseline.is_dir():
            _refuse(f"--baseline {baseline}: not a directory")
        if not (baseline / "engine" / "__init__.py").is_file():
            _refuse(f"--baseline {baseline}: no engine package there (no engine/__init__.py); not a papertrader checkout")
        baseline = baseline.resolve()

    ours = Contender("this tree", "papertrader", HERE)
    contenders = [ours]
    base = Contender("baseline", "papertrader", baseline) if baseline is not None else None
    if base is not None:
        contenders.append(base)
    try:
        import backtesting  # noqa: F401

        peer: Contender | None = Contender("backtesting.py", "backtesting", HERE)
    except ImportError:
        peer = None
    if peer is not None:
        contenders.append(peer)

    _load("at start")
    if peer is None:
        print("backtesting.py not installed (pip install -e '.[bench]'): no peer reference")
    if len(contenders) == 1:
        print("nothing to compare with (no --baseline, no backtesting.py): this tree's numbers alone")
    for n in range(1, args.rounds + 1):
        parts = [f"{c.label} {c.run_once()['cpu_s']:.3f} s" for c in contenders]
        print(f"round {n}/{args.rounds} (CPU): {', '.join(parts)}", flush=True)

    for contender in contenders:
        contender.report()
    rss = max(r["rss_mb"] for r in ours.runs)
    print(
        f"targets (this tree): >= {TARGET_CANDLES_PER_CPU_S:,} candles/CPU-s "
        f"({'met' if ours.median_rate >= TARGET_CANDLES_PER_CPU_S else 'NOT met'}), < {TARGET_RSS_MB} MB "
        f"({'met' if rss < TARGET_RSS_MB else 'NOT met'})"
    )
    if base is not None:
        print(f"ratio this tree / baseline (median candles/CPU-s): {ours.median_rate / base.median_rate:.2f}")
    if peer is not None:
        print(f"ratio this tree / backtesting.py (median candles/CPU-s): {ours.median_rate / peer.median_rate:.2f}")
    _load("at end")


if __name__ == "__main__":
    main()
