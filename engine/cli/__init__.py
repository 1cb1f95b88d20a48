"""``papertrader``: the command line (``python -m engine`` is the same).

::

    papertrader run                         the engine headless (no dashboard) until Ctrl-C / SIGTERM
    papertrader sim [--speed X] [--start T] [--data DIR] [--time-mode historical|now]
                                            the simulated exchange alone, printing its REST and WS URLs
    papertrader replay --db PATH [--force] [--symbols S ...] [--start T] [--end T] [--data DIR]
                                            candle data through the whole engine, as fast as the CPU allows
    papertrader export TABLE --format csv|parquet --out PATH [--db PATH]
    papertrader reset-breaker --reason TEXT [--actor NAME]
    papertrader config                      the effective configuration as JSON, secrets masked
    papertrader data fetch SYMBOL ... --from YYYY-MM [--to YYYY-MM] [--interval 1m] [--dir DIR]
                                            Binance's public kline archive into DIR, verified (CHECKSUM), resumable

Configuration comes from ``Settings()`` (``PAPERTRADER_*`` and the TOML file), as for the dashboard. Exit codes:
0 done, 1 the engine failed while running (or a download failed), 2 refused (invalid configuration or arguments,
database held by another process, existing replay file, unknown table, breaker not tripped, missing or malformed
kline data). Every refusal is one line on stderr, a usage error included.

``--data DIR`` (default ``sim.data_dir``, else the bundled month) is a directory of Binance 1m kline files
(``<SYMBOL>-1m-*.zip|.csv|.csv.gz``): see :mod:`simulator.klines_files`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from engine.cli.common import EXIT_REFUSED, Refused, utc_time
from engine.cli.data import cmd_data_fetch
from engine.cli.live import cmd_run, cmd_sim
from engine.cli.offline import cmd_config, cmd_export, cmd_replay, cmd_reset_breaker

DATA_HELP = (
    "directory of Binance 1m kline files, <SYMBOL>-1m-*.zip|.csv|.csv.gz (archive or project format) "
    "(default: sim.data_dir, else the bundled data)"
)


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


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error said in one line (``papertrader replay: error: ...``), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_REFUSED, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="papertrader", description="Paper trader for Binance spot.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO (default: warnings and errors)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the engine headless until Ctrl-C or SIGTERM")
    run.set_defaults(handler=cmd_run)

    sim = sub.add_parser("sim", help="serve the simulated exchange alone until Ctrl-C or SIGTERM")
    sim.add_argument("--symbols", nargs="+", help="default: trading.symbols")
    sim.add_argument("--start", type=utc_time, help="market time to start at, ISO 8601 UTC (default: sim.start)")
    sim.add_argument("--speed", type=float, help="market seconds per wall second (default: sim.speed; 1 in time mode now)")
    sim.add_argument(
        "--time-mode", choices=("historical", "now"), help="now: the data moved to today, server time = wall clock (default: sim.time_mode)"
    )
    sim.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default 0: a free one)")
    sim.add_argument("--data", type=Path, metavar="DIR", help=DATA_HELP)
    sim.set_defaults(handler=cmd_sim)

    replay = sub.add_parser("replay", help="replay candle data through the engine as fast as possible")
    replay.add_argument("--db", type=Path, default=Path("data/replay.duckdb"), help="new DuckDB file to write (default %(default)s)")
    replay.add_argument("--force", action="store_true", help="overwrite --db if it exists")
    replay.add_argument("--symbols", nargs="+", help="default: trading.symbols")
    replay.add_argument("--start", type=utc_time, help="first candle open time, ISO 8601 UTC (default: dataset start)")
    replay.add_argument("--end", type=utc_time, help="replay candles opening before this time (default: dataset end)")
    replay.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    replay.add_argument("--data", type=Path, metavar="DIR", help=DATA_HELP)
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

    data = sub.add_parser("data", help="kline data files").add_subparsers(dest="data_command", required=True, metavar="COMMAND")
    fetch = data.add_parser(
        "fetch",
        help="download Binance's public kline archive (data.binance.vision) into a data directory, verified",
        description="Monthly files for past months (daily ones while a month's file is not published), daily files "
        "up to yesterday for the current month; each verified against its .CHECKSUM (SHA-256); an interrupted "
        "download continues where it stopped. The directory is what --data and sim.data_dir read (1m files).",
    )
    fetch.add_argument("symbols", nargs="+", metavar="SYMBOL", help="e.g. BTCUSDT ETHUSDT")
    fetch.add_argument("--from", dest="first", required=True, metavar="YYYY-MM", help="first month (UTC)")
    fetch.add_argument("--to", dest="last", metavar="YYYY-MM", help="last month, at most the current one (default: --from)")
    fetch.add_argument("--interval", default="1m", help="kline interval (default %(default)s; the simulator and replay read 1m)")
    fetch.add_argument("--dir", type=Path, metavar="DIR", help="where to put the files (default: sim.data_dir, else data/klines)")
    fetch.add_argument("--archive-url", metavar="URL", help="the archive's base URL (default https://data.binance.vision)")
    fetch.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    fetch.set_defaults(handler=cmd_data_fetch)
    return parser
