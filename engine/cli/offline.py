"""The commands that work on a database without the engine running: ``replay``, ``export``, ``reset-breaker``, and
``config`` (the effective settings)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.cli.common import Refused, load_settings, ms
from engine.config import Settings
from engine.core.events import CommandApplied, CommandResult

if TYPE_CHECKING:
    from engine.replay import ReplaySummary

SECRET_MARKERS = ("token", "secret", "password", "key")
MASK = "***"


def cmd_replay(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not args.verbose:  # the summary counts breaker transitions and denials; one log line each would flood
        logging.getLogger("engine.core").setLevel(logging.ERROR)
    symbols = tuple(args.symbols or settings.trading.symbols)
    data_dir = args.data or settings.sim.data_dir
    progress = None if args.no_progress else ProgressLine()
    try:
        summary = bundled_replay(
            settings,
            symbols=symbols,
            data_dir=data_dir,
            start_ms=ms(args.start),
            end_ms=ms(args.end),
            db_path=args.db,
            force=args.force,
            progress=progress,
        )
    except (OSError, LookupError, ValueError) as exc:  # OSError: --db exists (FileExistsError), is a directory, ...
        raise Refused(str(exc)) from exc  # LookupError: no data; ValueError: no rules, a malformed kline file, ...
    finally:
        if progress is not None:
            progress.close()
    print(f"replay of {', '.join(symbols)} into {args.db}" + ("" if data_dir is None else f" (data: {data_dir})"))
    print("\n".join(summary.lines()))
    print(f"strategy         {settings.strategy.describe()}")
    return 0


def bundled_replay(
    settings: Settings, *, symbols: Sequence[str], data_dir: Path | None = None, **options: Any
) -> ReplaySummary:
    """:func:`engine.replay.replay` of the simulator's datasets of ``symbols`` — the bundled ones, or with ``data_dir``
    those of a directory of Binance kline files (:mod:`simulator.klines_files`) — with the simulator's exchange rules
    (so rounding and filters match venue ``sim``); ``options`` are the rest of ``replay``'s arguments.

    Raises:
        simulator.dataset.DatasetNotFoundError: no dataset for a symbol (bundled, or in ``data_dir``), or no
            directory ``data_dir``.
        simulator.klines_files.KlineFileError: a malformed file in ``data_dir`` (the message names file and line).
        ValueError: no symbols, or a symbol without simulator trading rules (checked first: the simulator has them
            for BTCUSDT and ETHUSDT only and invents none for the other symbols of a data directory).
    """
    from engine.replay import replay
    from simulator.klines_files import load_datasets
    from simulator.symbols import SYMBOL_RULES

    if not symbols:
        raise ValueError("replay needs at least one symbol")
    symbols = tuple(s.upper() for s in symbols)
    unknown = [s for s in symbols if s not in SYMBOL_RULES]
    if unknown:
        raise ValueError(f"no simulator trading rules for {', '.join(unknown)}; known: {', '.join(SYMBOL_RULES)}")
    datasets = list(load_datasets(symbols, data_dir).values())
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
            restored = restore(cur, starting_balance=settings.trading.starting_balance)
        core = TradingCore(
            settings,
            strategy=settings.strategy.build(),
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
