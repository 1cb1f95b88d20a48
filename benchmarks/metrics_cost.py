"""What the Prometheus exporter costs: one scrape of a running engine's endpoint, and the metrics sink on the path of
every core event, as a share of replay time.

Run::

    .venv/bin/python benchmarks/metrics_cost.py [--rounds 5] [--scrapes 200]

**Scrape.** A Runtime on the embedded simulator at speed 3000 (50 candles a wall second: a busy engine thread
competing for the GIL), its endpoint on 127.0.0.1 port 0. After a 5 s warm-up, ``--scrapes`` GETs of ``/metrics``,
each on a new connection as Prometheus' are (the server speaks HTTP/1.0) with ``http.client``, timed on the wall clock
from connecting to the last byte; also the CPU of rendering the exposition alone (``prometheus_client.generate_latest``). Target: one scrape
≤ 10 ms (the median and the 95th percentile are compared).

**Replay.** ``papertrader replay`` does not run the exporter, so this measures what the exporter would add to it:
the bundled 30 days of BTCUSDT + ETHUSDT through the whole engine (:func:`engine.cli.offline.bundled_replay`, every row
recorded to a fresh DuckDB file) with and without the metrics sink fed every event of every candle the replay's core
processes (its ``TradingCore`` swapped for a subclass that hands the events on; no engine code changes; the candles
the replay skips have no events), plus, in the metrics runs, a thread rendering the
exposition every second (Prometheus scrapes every 15 s by default). Each run is a fresh interpreter; rounds interleave
the two (plain, metrics, plain, metrics, ...), ``--rounds`` ≥ 5. Measured: CPU time (``time.process_time``, every
thread) of the replay loop only, bracketed by the two ``time.perf_counter()`` calls with which ``engine.replay.replay``
times it (its ``elapsed_s``). Compared: the medians. Target: ≤ 2 % more.

Prints the load averages at start and end, one line per round, the medians and the verdicts.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from unittest import mock

HERE = Path(__file__).resolve().parents[1]
SYMBOLS = ("BTCUSDT", "ETHUSDT")
MIN_ROUNDS = 5
SCRAPE_TARGET_MS = 10.0
OVERHEAD_TARGET_PCT = 2.0
WARMUP_S = 5.0
RENDER_EVERY_S = 1.0


class _LoopClock:
    """Stands in for the ``time`` module inside the module defining ``engine.replay.replay``: each ``perf_counter()`` also reads
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


def replay_once(with_metrics: bool) -> dict[str, Any]:
    """One replay into a temporary file (in this process); candles, loop CPU and wall seconds, results."""
    import engine.replay
    from engine.cli.offline import bundled_replay
    from engine.config import Settings
    from engine.core.core import TradingCore
    from engine.core.events import CoreEvent
    from engine.core.models import Candle
    from engine.sinks.exporter import Exporter, Readings
    from engine.sinks.metrics import MetricsSink
    from engine.sinks.status import EngineState, EngineStatus

    sink = MetricsSink()

    class MeteredCore(TradingCore):
        """The replay's core with every event of every candle it processes also handed to the metrics sink, as the
        live loop does (the replay skips the candles on which nothing can happen: those have no events anywhere)."""

        def on_candle(self, candle: Candle, *, source: str = "stream") -> list[CoreEvent]:
            events = super().on_candle(candle, source=source)
            sink.handle_all(events)
            return events

    status = EngineStatus(state=EngineState.RUNNING, venue="replay")
    readings = Readings(status, sink, None, 0.0, None, 0.0, None, healthy=True, ready=True)
    exporter = Exporter(lambda: readings, venue="replay", quote_asset="USDT", strategy="sma_crossover", symbols=SYMBOLS)
    stop = threading.Event()
    renders = [0]

    def render() -> None:
        from prometheus_client import generate_latest

        while not stop.wait(RENDER_EVERY_S):
            generate_latest(exporter.registry)
            renders[0] += 1

    clock = _LoopClock()
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        timed = sys.modules[engine.replay.replay.__module__]  # engine/replay/run.py: times the loop, builds the core
        stack.enter_context(mock.patch.object(timed, "time", clock))
        if with_metrics:
            stack.enter_context(mock.patch.object(timed, "TradingCore", MeteredCore))
            threading.Thread(target=render, daemon=True).start()
        summary = bundled_replay(Settings(), symbols=SYMBOLS, db_path=Path(tmp) / "replay.duckdb")
    stop.set()
    if len(clock.marks) != 2 or not math.isclose(clock.marks[1][0] - clock.marks[0][0], summary.elapsed_s, abs_tol=1e-9):
        raise SystemExit("engine.replay.replay's time.perf_counter() calls are not the 2 that time its loop: update _LoopClock")
    if with_metrics and sink.account is None:
        raise SystemExit("the metrics sink saw no mark: it was not swapped into the replay")
    return {
        "candles": summary.candles,
        "cpu_s": clock.marks[1][1] - clock.marks[0][1],
        "wall_s": summary.elapsed_s,
        "results": [summary.trades, summary.fills, str(summary.pnl), summary.breaker_trips],
        "renders": renders[0],
    }


def child(variant: str) -> dict[str, Any]:
    """A fresh interpreter running :func:`replay_once`; its report."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", variant], capture_output=True, text=True, cwd=HERE, env=env, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"{variant}: child run failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return report


def replay_overhead(rounds: int) -> None:
    runs: dict[str, list[dict[str, Any]]] = {"plain": [], "metrics": []}
    for n in range(1, rounds + 1):
        for variant in runs:
            runs[variant].append(child(variant))
        plain, metered = runs["plain"][-1]["cpu_s"], runs["metrics"][-1]["cpu_s"]
        print(f"round {n}/{rounds} (replay loop CPU): plain {plain:.3f} s, with metrics {metered:.3f} s", flush=True)
    results = {json.dumps(r["results"]) for rs in runs.values() for r in rs}
    if len(results) != 1:
        raise SystemExit(f"the replays disagree: {sorted(results)}")
    plain = statistics.median(r["cpu_s"] for r in runs["plain"])
    metered = statistics.median(r["cpu_s"] for r in runs["metrics"])
    candles = runs["plain"][0]["candles"]
    overhead_pct = (metered / plain - 1) * 100
    renders = statistics.median(r["renders"] for r in runs["metrics"])
    print(f"replay: {candles:,} candles; median loop CPU plain {plain:.3f} s, with metrics {metered:.3f} s ({renders:.0f} renders)")
    verdict = "met" if overhead_pct <= OVERHEAD_TARGET_PCT else "NOT met"
    print(f"replay: the exporter adds {overhead_pct:+.2f} % (target <= {OVERHEAD_TARGET_PCT:g} %: {verdict})")


def scrape_once(host: str, port: int) -> bytes:
    """``GET /metrics`` on a new connection (``http.client``: no TLS context to build, so the client costs little)."""
    connection = http.client.HTTPConnection(host, port, timeout=5)
    try:
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"/metrics answered {response.status}")
        return body
    finally:
        connection.close()


def scrape_cost(scrapes: int) -> None:
    from prometheus_client import generate_latest

    from engine.config import MetricsSettings, Settings, SimSettings, StorageSettings
    from engine.runtime import Runtime

    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):  # no papertrader.toml of the tree applies
        settings = Settings(
            storage=StorageSettings(path=Path(tmp) / "pt.duckdb"),
            sim=SimSettings(speed=3000, update_interval_ms=20),
            metrics=MetricsSettings(port=0),
        )
        with Runtime(settings) as runtime:
            assert runtime.ops is not None and runtime.exporter is not None
            time.sleep(WARMUP_S)
            wall_ms, body = [], b""
            for _ in range(scrapes):
                started = time.perf_counter()
                body = scrape_once(runtime.ops.host, runtime.ops.port)
                wall_ms.append((time.perf_counter() - started) * 1000)
            render_ms = []
            for _ in range(scrapes):
                started = time.process_time()
                generate_latest(runtime.exporter.registry)
                render_ms.append((time.process_time() - started) * 1000)
            series = sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))
            processed = runtime.status().candles_processed
    wall_ms.sort()
    p95 = wall_ms[int(0.95 * (len(wall_ms) - 1))]
    median = statistics.median(wall_ms)
    print(f"scrape: {scrapes} GETs of /metrics ({len(body):,} bytes, {series} series) while the engine processed {processed:,} candles")
    print(f"scrape: wall ms median {median:.2f}, p95 {p95:.2f}, max {wall_ms[-1]:.2f}")
    print(f"scrape: rendering the exposition alone, CPU ms median {statistics.median(render_ms):.2f}")
    verdict = "met" if median <= SCRAPE_TARGET_MS and p95 <= SCRAPE_TARGET_MS else "NOT met"
    print(f"scrape: target <= {SCRAPE_TARGET_MS:g} ms (median and p95): {verdict}")


def _load(when: str) -> None:
    one, five, fifteen = os.getloadavg()
    print(f"load average {when}: {one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min; {os.cpu_count()} CPUs)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=MIN_ROUNDS, help=f"interleaved replay rounds, at least {MIN_ROUNDS}")
    parser.add_argument("--scrapes", type=int, default=200, help="scrapes of the running engine's endpoint")
    parser.add_argument("--child", choices=("plain", "metrics"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import logging

        logging.disable(logging.WARNING)
        print(json.dumps(replay_once(args.child == "metrics")))
        return
    if args.rounds < MIN_ROUNDS or args.scrapes < 1:
        print(f"metrics_cost.py: error: --rounds must be at least {MIN_ROUNDS} and --scrapes at least 1", file=sys.stderr)
        raise SystemExit(2)
    _load("at start")
    replay_overhead(args.rounds)
    import logging

    logging.disable(logging.WARNING)
    scrape_cost(args.scrapes)
    _load("at end")


if __name__ == "__main__":
    main()
