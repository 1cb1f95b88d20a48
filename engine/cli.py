"""``papertrader``: the command line (``python -m engine`` is the same).

::

    papertrader run                         the engine headless (no dashboard) until Ctrl-C / SIGTERM
    papertrader sim [--speed X] [--start T] the simulated exchange alone, printing its REST and WS URLs
    papertrader replay --db PATH [--force] [--symbols S ...] [--start T] [--end T]
                                            a bundled dataset through the whole engine, as fast as the CPU allows
    papertrader export TABLE --format csv|parquet --out PATH [--db PATH]
    papertrader reset-breaker --reason TEXT [--actor NAME]
    papertrader config                      the effective configuration as JSON, secrets masked

Configuration comes from ``Settings()`` (``PAPERTRADER_*`` and the TOML file), as for the dashboard. Exit codes:
0 done, 1 the engine failed while running, 2 refused (invalid configuration, database held by another process,
existing replay file, unknown table, breaker not tripped).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from engine.config import Settings, describe_validation_error
from engine.core.events import CommandApplied, CommandResult
from engine.errors import ConfigError

if TYPE_CHECKING:
    from engine.replay import ReplaySummary

EXIT_FAILED = 1
EXIT_REFUSED = 2
SECRET_MARKERS = ("token", "secret", "password", "key")
MASK = "***"
_STOP_POLL_S = 0.2

log = logging.getLogger(__name__)


@dataclass
class Refused(Exception):
    """A command that cannot proceed for a reason the user can fix; printed as ``papertrader: <message>``, exit 2."""

    message: str

    def __str__(self) -> str:
        return self.message


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the command, return its exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return args.handler(args)
    except Refused as exc:
        print(f"papertrader: {exc}", file=sys.stderr)
        return EXIT_REFUSED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="papertrader", description="Paper trader for Binance spot.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO (default: warnings and errors)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the engine headless until Ctrl-C or SIGTERM")
    run.set_defaults(handler=cmd_run)

    sim = sub.add_parser("sim", help="serve the simulated exchange alone until Ctrl-C or SIGTERM")
    sim.add_argument("--symbols", nargs="+", help="default: trading.symbols")
    sim.add_argument("--start", type=_utc_time, help="market time to start at, ISO 8601 UTC (default: sim.start)")
    sim.add_argument("--speed", type=float, help="market seconds per wall second (default: sim.speed)")
    sim.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default 0: a free one)")
    sim.set_defaults(handler=cmd_sim)

    replay = sub.add_parser("replay", help="replay a bundled dataset through the engine as fast as possible")
    replay.add_argument("--db", type=Path, default=Path("data/replay.duckdb"), help="new DuckDB file to write (default %(default)s)")
    replay.add_argument("--force", action="store_true", help="overwrite --db if it exists")
    replay.add_argument("--symbols", nargs="+", help="default: trading.symbols")
    replay.add_argument("--start", type=_utc_time, help="first candle open time, ISO 8601 UTC (default: dataset start)")
    replay.add_argument("--end", type=_utc_time, help="replay candles opening before this time (default: dataset end)")
    replay.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    replay.set_defaults(handler=cmd_replay)

    export = sub.add_parser("export", help="export a table to CSV or Parquet")
    export.add_argument("table")
    export.add_argument("--format", choices=("csv", "parquet"), required=True)
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--db", type=Path, help="default: storage.path")
    export.set_defaults(handler=cmd_export)

    reset = sub.add_parser("reset-breaker", help="re-arm a tripped portfolio breaker (audited)")
    reset.add_argument("--reason", required=True)
    reset.add_argument("--actor", default="cli")
    reset.set_defaults(handler=cmd_reset_breaker)

    config = sub.add_parser("config", help="print the effective configuration as JSON, secrets masked")
    config.set_defaults(handler=cmd_config)
    return parser


def _utc_time(text: str) -> datetime:
    """ISO 8601 date or date-time; naive values are UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r}") from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def load_settings() -> Settings:
    """``Settings()``, or :class:`Refused` with one line ``invalid configuration: ...``: each invalid key as
    ``key (PAPERTRADER_ENV): problem``, ``; ``-separated, or the :class:`ConfigError` (unreadable or malformed config
    file, unknown ``PAPERTRADER_*`` variable)."""
    try:
        return Settings()
    except ValidationError as exc:
        raise Refused("invalid configuration: " + "; ".join(describe_validation_error(exc))) from exc
    except ConfigError as exc:
        raise Refused(f"invalid configuration: {exc}") from exc


def _wait_for_signal(*, poll: Callable[[], bool] | None = None) -> None:
    """Block until SIGINT or SIGTERM, or until ``poll()`` (called every 0.2 s) returns true."""
    stop = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(_STOP_POLL_S):
            if poll is not None and poll():
                return
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# ====================================================================== commands
def cmd_run(args: argparse.Namespace) -> int:
    """The same Runtime as the dashboard, without it; stopped (flushed, closed) on SIGINT/SIGTERM."""
    from engine.runtime import Runtime
    from engine.sinks.status import EngineState
    from storage.errors import StoreError

    settings = load_settings()
    runtime = Runtime(settings)
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
        announced = False

        def poll() -> bool:
            """Say once when the engine is trading (exchange rules loaded); stop waiting if it failed."""
            nonlocal announced
            state = runtime.status().state
            if not announced and state in (EngineState.RUNNING, EngineState.PAUSED):
                print(f"engine {state.value}; Ctrl-C or SIGTERM stops it", flush=True)
                announced = True
            return state is EngineState.FAILED

        _wait_for_signal(poll=poll)
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
    from simulator.market import Market
    from simulator.server import SimulatorServer, SimulatorStartError

    settings = load_settings()
    symbols = tuple(s.upper() for s in args.symbols or settings.trading.symbols)
    start = args.start or settings.sim.start
    speed = args.speed if args.speed is not None else settings.sim.speed
    try:
        market = Market.replay(symbols, start_ms=_ms(start), speed=speed)
        server = SimulatorServer(market, port=args.port, update_interval_ms=settings.sim.update_interval_ms).start()
    except (LookupError, ValueError, SimulatorStartError) as exc:
        raise Refused(f"cannot start the simulator: {exc}") from exc
    try:
        print(f"REST {server.rest_url}\nWS   {server.ws_url}", flush=True)
        print(f"replaying {', '.join(symbols)} from {start.isoformat()} at {speed:g}x; Ctrl-C stops", flush=True)
        _wait_for_signal()
    finally:
        server.stop()
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not args.verbose:  # the summary counts breaker transitions and denials; one log line each would flood
        logging.getLogger("engine.core").setLevel(logging.ERROR)
    symbols = tuple(args.symbols or settings.trading.symbols)
    progress = None if args.no_progress else ProgressLine()
    try:
        summary = bundled_replay(
            settings,
            symbols=symbols,
            start_ms=_ms(args.start),
            end_ms=_ms(args.end),
            db_path=args.db,
            force=args.force,
            progress=progress,
        )
    except (OSError, LookupError, ValueError) as exc:  # OSError: --db exists (FileExistsError), is a directory, ...
        raise Refused(str(exc)) from exc
    finally:
        if progress is not None:
            progress.close()
    print(f"replay of {', '.join(symbols)} into {args.db}")
    print("\n".join(summary.lines()))
    return 0


def bundled_replay(settings: Settings, *, symbols: Sequence[str], **options: Any) -> ReplaySummary:
    """:func:`engine.replay.replay` of the simulator's bundled datasets of ``symbols``, with the simulator's exchange
    rules (so rounding and filters match venue ``sim``); ``options`` are the rest of ``replay``'s arguments.

    Raises:
        simulator.dataset.DatasetNotFoundError: no bundled dataset for a symbol.
        ValueError: no symbols, or a symbol without simulator trading rules.
    """
    from engine.replay import replay
    from simulator.dataset import load_candles
    from simulator.symbols import SYMBOL_RULES

    if not symbols:
        raise ValueError("replay needs at least one symbol")
    symbols = tuple(s.upper() for s in symbols)
    unknown = [s for s in symbols if s not in SYMBOL_RULES]
    if unknown:
        raise ValueError(f"no simulator trading rules for {', '.join(unknown)}; known: {', '.join(SYMBOL_RULES)}")
    datasets = [load_candles(s) for s in symbols]
    exchange_info = {"symbols": [SYMBOL_RULES[s].to_exchange_info() for s in symbols]}
    return replay(settings, datasets=datasets, exchange_info=exchange_info, **options)


class ProgressLine:
    """A one-line progress bar on stderr, redrawn in place (``\\r``) at most every 0.1 s."""

    WIDTH = 30

    def __init__(self) -> None:
        self._started = time.perf_counter()
        self._drawn_at = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if done < total and now - self._drawn_at < 0.1:
            return
        self._drawn_at = now
        filled = self.WIDTH * done // max(total, 1)
        rate = done / max(now - self._started, 1e-9)
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done:,}/{total:,} candles {rate:,.0f}/s"
        )
        sys.stderr.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()


def cmd_export(args: argparse.Namespace) -> int:
    from storage.errors import StoreError
    from storage.export import export_table, table_names
    from storage.store import Store

    db = args.db or load_settings().storage.path
    if not Path(db).is_file():
        raise Refused(f"no database at {db}")
    try:
        store = Store(db, read_only=True)
    except StoreError as exc:
        raise Refused(str(exc)) from exc
    try:
        with store.cursor() as cur:
            tables = table_names(cur)
            if args.table not in tables:
                raise Refused(f"no table {args.table!r} in {db}; tables: {', '.join(tables)}")
            args.out.parent.mkdir(parents=True, exist_ok=True)
            rows = export_table(cur, args.table, args.out, fmt=args.format)
    finally:
        store.close()
    print(f"exported {rows} rows of {args.table} to {args.out} ({args.format})")
    return 0


def cmd_reset_breaker(args: argparse.Namespace) -> int:
    """Re-arm a tripped breaker in a stopped papertrader's database, exactly as the engine does from the dashboard:
    ``TradingCore.apply(RESET_BREAKER)`` on the state restored from the file, audited in ``commands``."""
    from engine.commands import Command, CommandKind
    from engine.core.core import TradingCore
    from engine.core.models import interval_ms
    from engine.core.strategy import SmaCrossover
    from engine.recovery import restore
    from engine.sinks.record import RecordSink
    from storage.errors import StoreError, StoreLockedError
    from storage.recorder import Recorder
    from storage.store import Store

    settings = load_settings()
    path = settings.storage.path
    if not Path(path).is_file():
        raise Refused(f"no database at {path}")
    try:
        store = Store(path)
    except StoreLockedError as exc:
        raise Refused(f"cannot reset the breaker now: {exc}") from exc
    except StoreError as exc:  # not a papertrader database, ...
        raise Refused(str(exc)) from exc
    try:
        recorder = Recorder(store)
        with store.cursor() as cur:
            restored = restore(cur, starting_balance=Decimal(str(settings.trading.starting_balance)))
        core = TradingCore(
            settings,
            strategy=SmaCrossover(fast=settings.strategy.fast, slow=settings.strategy.slow),
            portfolio=restored.portfolio,
            last_candle_ms=restored.last_candle_ms,
            paused=restored.paused,
            breaker_state=restored.breaker_state,
            entries_today=restored.entries_today,
        )
        if restored.last_candle_ms:  # the market time the engine stopped at: close of the last processed candle
            core.market_time_ms = max(restored.last_candle_ms.values()) + interval_ms(settings.trading.interval) - 1
        events = core.apply(Command(CommandKind.RESET_BREAKER, args.actor, args.reason))
        RecordSink(recorder, interval=settings.trading.interval).handle_all(events)
        recorder.stop()
    finally:
        store.close()
    applied = events[-1]
    assert isinstance(applied, CommandApplied)
    if applied.result is not CommandResult.OK:
        raise Refused(f"breaker reset refused: {applied.detail}")
    print(f"breaker reset by {args.actor}: {applied.detail}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    settings = load_settings()
    print(json.dumps(mask_secrets(settings.model_dump(mode="json")), indent=2))
    return 0


def mask_secrets(value: Any) -> Any:
    """``value`` (nested dicts/lists) with every value under a key containing token, secret, password or key
    replaced by ``"***"``."""
    if isinstance(value, dict):
        return {
            k: MASK if any(m in str(k).lower() for m in SECRET_MARKERS) else mask_secrets(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    return value

