"""Replay speed: the bundled 30 days of BTCUSDT + ETHUSDT 1m through the whole engine, against backtesting.py.

Run::

    .venv/bin/python benchmarks/replay_speed.py [--repeats 3]

* **papertrader**: :func:`engine.replay.replay` with the default settings (SMA 9/21, ATR stops/targets, risk checks,
  paper broker, circuit breaker) and every row recorded to a fresh DuckDB file (≈ 86,000 candles). Each run is a
  separate subprocess, so its peak RSS (``resource.getrusage(...).ru_maxrss``) is that run's own. Candles/s counts
  the replay loop (candle building, engine, recording, flushes), not the interpreter start or the dataset load.
* **backtesting.py** (peer reference; ``pip install -e '.[bench]'``): an SMA(9)/SMA(21) crossover over the same
  candles, one ``Backtest.run`` per symbol, also one subprocess per run. Candles/s = candles / run time.

It prints the median candles/s over ``--repeats`` runs (with each run), the largest peak RSS, and the ratio
papertrader / backtesting.py. Targets: ≥ 100,000 candles/s and < 300 MB.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SYMBOLS = ("BTCUSDT", "ETHUSDT")
TARGET_CANDLES_PER_S = 100_000
TARGET_RSS_MB = 300


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run_papertrader() -> dict:
    """One replay into a temporary file; returns candles, seconds, peak RSS (MB) and the summary."""
    from engine.cli.offline import bundled_replay as replay
    from engine.config import Settings

    with tempfile.TemporaryDirectory() as tmp:
        summary = replay(Settings(), symbols=SYMBOLS, db_path=Path(tmp) / "replay.duckdb")
    return {
        "candles": summary.candles,
        "seconds": summary.elapsed_s,
        "rss_mb": _rss_mb(),
        "trades": summary.trades,
        "pnl": str(round(summary.pnl, 2)),
        "max_drawdown_pct": round(summary.max_drawdown_pct, 2),
        "breaker_trips": summary.breaker_trips,
        "denials": summary.denials,
    }


def run_backtesting() -> dict:
    """backtesting.py's SMA 9/21 crossover over the same candles, per symbol; returns candles, seconds, RSS."""
    import warnings

    import pandas as pd
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

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
    candles, seconds, trades = 0, 0.0, 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for frame in frames:
            bt = Backtest(frame, SmaCross, cash=10_000_000, commission=0.001, finalize_trades=True)
            started = time.perf_counter()
            stats = bt.run()
            seconds += time.perf_counter() - started
            candles += len(frame)
            trades += int(stats["# Trades"])
    return {"candles": candles, "seconds": seconds, "rss_mb": _rss_mb(), "trades": trades}


RUNNERS = {"papertrader": run_papertrader, "backtesting": run_backtesting}


def measure(name: str, repeats: int) -> list[dict]:
    """``repeats`` runs of ``name``, each in a fresh interpreter."""
    runs = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, __file__, "--child", name], check=True, capture_output=True, text=True, cwd=Path(__file__).parents[1]
        ).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    return runs


def report(name: str, runs: list[dict]) -> float:
    rates = [r["candles"] / r["seconds"] for r in runs]
    median = statistics.median(rates)
    rss = max(r["rss_mb"] for r in runs)
    print(f"{name:<13} {runs[0]['candles']:,} candles: median {median:,.0f} candles/s "
          f"(runs: {', '.join(f'{r:,.0f}' for r in rates)}), peak RSS {rss:,.0f} MB")
    extra = {k: v for k, v in runs[0].items() if k not in ("candles", "seconds", "rss_mb")}
    print(f"{'':<13} {json.dumps(extra)}")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=tuple(RUNNERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import logging

        logging.disable(logging.WARNING)  # breaker transitions are logged; not what is measured
        print(json.dumps(RUNNERS[args.child]()))
        return
    ours_runs = measure("papertrader", args.repeats)
    ours = report("papertrader", ours_runs)
    rss = max(r["rss_mb"] for r in ours_runs)
    print(f"{'':<13} targets: >= {TARGET_CANDLES_PER_S:,} candles/s "
          f"({'met' if ours >= TARGET_CANDLES_PER_S else 'NOT met'}), < {TARGET_RSS_MB} MB "
          f"({'met' if rss < TARGET_RSS_MB else 'NOT met'})")
    try:
        import backtesting  # noqa: F401
    except ImportError:
        print("backtesting.py not installed (pip install -e '.[bench]'): no peer reference")
        return
    theirs = report("backtesting.py", measure("backtesting", args.repeats))
    print(f"ratio papertrader / backtesting.py: {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
