"""``papertrader data fetch``: Binance's public kline archive into a data directory (:mod:`engine.kline_archive`),
readable at once by ``--data`` / ``sim.data_dir`` (:mod:`simulator.klines_files`)."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from engine.cli.common import EXIT_FAILED, Refused, load_settings
from engine.errors import ArchiveError

if TYPE_CHECKING:
    from engine.kline_archive import ProgressBar

DEFAULT_DATA_DIR = Path("data/klines")
EXIT_INTERRUPTED = 130
"""Ctrl-C, as shells report SIGINT (128 + 2)."""
_SYMBOL = re.compile(r"[A-Z0-9]{2,20}")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_TIMEOUT_S = 30.0


def cmd_data_fetch(args: argparse.Namespace) -> int:
    """Fetch every archive file of ``args.symbols`` / ``args.interval`` from ``--from`` to ``--to`` (months, UTC)
    into ``--dir`` (default ``sim.data_dir``, else ``data/klines``): one line per file on stdout, a progress bar per
    download on stderr, then, for 1m data, what the directory now holds per symbol.

    Exit codes: 0 done; 2 refused (bad input, or a symbol of which the archive has no file in the range);
    1 a download failed (network, HTTP error, checksum mismatch: one line; the files fetched before it stay);
    130 interrupted (Ctrl-C; a partial download is kept and continued by the next run).
    """
    import httpx

    from engine.kline_archive import ARCHIVE_URL, KlineArchive, Outcome, archive_interval, month_range

    today = datetime.now(UTC).date()
    symbols = [_symbol(text) for text in args.symbols]
    try:
        interval = archive_interval(args.interval)
    except ValueError as exc:
        raise Refused(f"--interval: {exc}") from exc
    first = _month(args.first, "--from")
    last = first if args.last is None else _month(args.last, "--to")
    if last < first:
        raise Refused(f"--to {last:%Y-%m} is before --from {first:%Y-%m}")
    if last > today.replace(day=1):
        raise Refused(f"--to {last:%Y-%m} has not begun yet (today is {today.isoformat()}, UTC)")
    base_url = args.archive_url or ARCHIVE_URL
    if httpx.URL(base_url).scheme not in ("http", "https"):
        raise Refused(f"--archive-url must be an http:// or https:// URL, got {base_url!r}")
    directory: Path = args.dir or load_settings().sim.data_dir or DEFAULT_DATA_DIR
    if directory.exists() and not directory.is_dir():
        raise Refused(f"--dir {directory} is not a directory")

    counts = dict.fromkeys(Outcome, 0)
    client = httpx.Client(timeout=_TIMEOUT_S, follow_redirects=True, headers={"User-Agent": "papertrader"})
    archive = KlineArchive(client, base_url=base_url, progress=None if args.no_progress else _bar)
    try:
        for symbol in symbols:
            found = 0
            for month in month_range(first, last):
                for fetched in archive.fetch_month(symbol, interval, month, directory, today=today):
                    counts[fetched.outcome] += 1
                    if fetched.outcome is Outcome.MISSING:
                        continue
                    found += 1
                    resumed = f", continued from {fetched.resumed_from_bytes:,} bytes" if fetched.resumed_from_bytes else ""
                    what = f"{fetched.outcome.value} ({fetched.size_bytes:,} bytes, SHA-256 verified{resumed})"
                    print(f"{fetched.file.name}  {what}", flush=True)
            if not found:
                raise Refused(
                    f"the archive has no {interval} klines of {symbol} from {first:%Y-%m} to {last:%Y-%m} "
                    f"(is it a Binance spot symbol, listed then?)"
                )
    except ArchiveError as exc:
        print(f"papertrader: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("\npapertrader: interrupted; the same command continues where this one stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        raise Refused(f"--dir {directory}: {exc.strerror or exc}") from exc
    finally:
        client.close()
    print(
        f"{directory}: {counts[Outcome.DOWNLOADED]} downloaded, {counts[Outcome.UP_TO_DATE]} up to date, "
        f"{counts[Outcome.MISSING]} not in the archive"
    )
    if interval == "1m":
        return _describe(directory, symbols)
    print(f"(the simulator and the replay read 1m files; these {interval} files are for your own use)")
    return 0


def _describe(directory: Path, symbols: list[str]) -> int:
    """Read each symbol's 1m files as the simulator will, and say what they cover (a file that cannot be read is a
    failure: one line, exit code 1)."""
    from simulator.klines_files import KlineFileError, load_dir

    for symbol in symbols:
        try:
            dataset = load_dir(directory, symbol)
        except (LookupError, KlineFileError) as exc:
            print(f"papertrader: {exc}", file=sys.stderr)
            return EXIT_FAILED
        first, last = (datetime.fromtimestamp(t / 1000, tz=UTC) for t in (dataset.start_ms, dataset.end_ms))
        print(f"{symbol}: {len(dataset):,} candles, {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC")
    return 0


def _symbol(text: str) -> str:
    symbol = text.upper()
    if _SYMBOL.fullmatch(symbol) is None:
        raise Refused(f"{text!r} is not a Binance spot symbol (2 to 20 letters and digits, e.g. BTCUSDT)")
    return symbol


def _month(text: str, option: str) -> date:
    match = _MONTH.fullmatch(text)
    if match is None or not 1 <= int(match[2]) <= 12:
        raise Refused(f"{option} {text!r} is not a month YYYY-MM (e.g. 2024-11)")
    return date(int(match[1]), int(match[2]), 1)


def _bar(name: str, total: int | None, initial: int) -> ProgressBar:
    """A tqdm byte counter on stderr for one download."""
    from tqdm import tqdm

    return tqdm(desc=name, total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024, leave=False, file=sys.stderr)
