"""``papertrader run`` (the engine headless, the same Runtime as the dashboard) and ``papertrader sim`` (the simulated
exchange alone)."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from engine.cli.common import EXIT_FAILED, Refused, load_settings, ms, wait_for_signal
from engine.config import ADMIN_TOKEN_ENV
from engine.errors import ConfigError


def cmd_run(args: argparse.Namespace) -> int:
    """The same Runtime as the dashboard, without it; stopped (flushed, closed) on SIGINT/SIGTERM. The admin token
    (``PAPERTRADER_ADMIN_TOKEN``) guards the operations endpoint."""
    from engine.runtime import Runtime
    from engine.sinks.status import EngineState
    from storage.errors import StoreError

    settings = load_settings()
    runtime = Runtime(settings, admin_token=os.environ.get(ADMIN_TOKEN_ENV))
    try:
        runtime.start()
    except StoreError as exc:  # held by another process, not a papertrader database, ...
        raise Refused(str(exc)) from exc
    except ConfigError as exc:
        raise Refused(f"invalid configuration: {exc}") from exc
    try:
        venue: str = settings.venue.name
        if runtime.simulator is not None:
            venue += f" (embedded simulator: REST {runtime.simulator.rest_url}, WS {runtime.simulator.ws_url})"
        print(f"database {Path(settings.storage.path).resolve()}\nvenue    {venue}", flush=True)
        print(f"strategy {settings.strategy.describe()} on {settings.trading.interval} candles", flush=True)
        if runtime.metrics_url is not None:
            print(f"metrics  {runtime.metrics_url} (health: /healthz, /readyz)", flush=True)
        announced = False

        def poll() -> bool:
            """Say once when the engine is trading (exchange rules loaded); stop waiting if it failed."""
            nonlocal announced
            state = runtime.status().state
            if not announced and state in (EngineState.RUNNING, EngineState.PAUSED):
                print(f"engine {state.value}; Ctrl-C or SIGTERM stops it", flush=True)
                announced = True
            return state is EngineState.FAILED

        wait_for_signal(poll=poll)
        status = runtime.status()
    finally:
        runtime.stop()
    if status.state is EngineState.FAILED:
        if status.config_error:
            raise Refused(f"invalid configuration: {status.error}")
        print(f"papertrader: the engine failed: {status.error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"stopped after {status.candles_processed} candles", flush=True)
    return 0


def cmd_sim(args: argparse.Namespace) -> int:
    """The simulated exchange over the bundled data, or ``--data`` / ``sim.data_dir``; when that data does not
    contain ``--start`` / ``sim.start``, the replay starts 300 minutes (the REST warm-up) after the data's start
    (:func:`simulator.market.start_within`) and says so. In time mode ``now`` (``--time-mode`` / ``sim.time_mode``)
    the data is moved forward to today and server time is the wall clock (:func:`simulator.market.shifted_to_now`)."""
    import time

    from simulator.klines_files import load_datasets
    from simulator.market import Market, shifted_to_now, start_within
    from simulator.replay import ReplayClock
    from simulator.server import SimulatorServer, SimulatorStartError

    settings = load_settings()
    symbols = tuple(s.upper() for s in args.symbols or settings.trading.symbols)
    start = args.start or settings.sim.start
    time_mode = args.time_mode or settings.sim.time_mode
    speed = args.speed if args.speed is not None else 1.0 if time_mode == "now" else settings.sim.speed
    if time_mode == "now" and speed != 1:
        raise Refused(f"--speed {speed:g}: in time mode now the replay runs in real time (server time is the wall clock)")
    data_dir = args.data or settings.sim.data_dir
    try:
        datasets = load_datasets(symbols, data_dir)
        start_ms = start_within(datasets, ms(start))
        clock_ms = start_ms
        if time_mode == "now":
            clock_ms = int(time.time() * 1000)
            datasets, offset_ms = shifted_to_now(datasets, start_ms=start_ms, now_ms=clock_ms)
        market = Market(datasets, clock=ReplayClock(clock_ms, speed))
        server = SimulatorServer(market, port=args.port, update_interval_ms=settings.sim.update_interval_ms).start()
    except (LookupError, ValueError, SimulatorStartError) as exc:
        raise Refused(f"cannot start the simulator: {exc}") from exc
    try:
        print(f"REST {server.rest_url}\nWS   {server.ws_url}", flush=True)
        if start_ms != ms(start):
            print(f"{start.isoformat()} is outside the data; starting 300 minutes into it instead", flush=True)
        source = "the bundled data" if data_dir is None else str(data_dir)
        if time_mode == "now":
            played = datetime.fromtimestamp((clock_ms - offset_ms) / 1000, tz=UTC)
            print(
                f"replaying {', '.join(symbols)} ({source}) from {played.isoformat()} as now, in real time "
                "(server time is the wall clock); Ctrl-C stops",
                flush=True,
            )
        else:
            began = datetime.fromtimestamp(start_ms / 1000, tz=UTC)
            print(f"replaying {', '.join(symbols)} ({source}) from {began.isoformat()} at {speed:g}x; Ctrl-C stops", flush=True)
        wait_for_signal()
    finally:
        server.stop()
    return 0
