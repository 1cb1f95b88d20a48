"""A directory of Binance 1m kline files as :class:`~simulator.dataset.Dataset` s (``--data DIR``, ``sim.data_dir``).

Files. A symbol's files are every ``<SYMBOL>-1m-<anything>.zip``, ``.csv`` or ``.csv.gz`` in the directory (not in
subdirectories), e.g. the public archive's monthly ``BTCUSDT-1m-2021-11.zip`` and daily ``BTCUSDT-1m-2021-11-15.zip``
(https://data.binance.vision, ``data/spot/monthly|daily/klines/<SYMBOL>/1m/``), or a copy of the bundled
``BTCUSDT-1m-2021-04-20_2021-05-20.csv.gz``. A zip must hold exactly one file, the CSV. Other names (``.CHECKSUM``
files, notes) are ignored; so are kline files of other intervals (``BTCUSDT-1h-2021-11.zip``): only 1m data is read,
and a symbol that has only other intervals is reported as having no 1m files, naming the intervals found.

Two CSV layouts, told apart by the first line of each file:

- the public archive's: no header (a first line of 12 fields that does not start with a number, like the futures
  archive's ``open_time,open,...``, is taken as a header and skipped), 12 columns ``open time, open, high, low, close,
  volume, close time, quote volume, number of trades, taker-buy base volume, taker-buy quote volume, ignore``. Times
  are Unix **milliseconds** up to 2024 and **microseconds** from 2025-01-01 on: each time is read by its magnitude
  (10¹² ≤ ms < 10¹⁵ ≤ µs < 10¹⁸) and kept in ms. The close time must fall within the candle's minute (a file of
  another interval renamed ``-1m-`` fails there). The trade count is the file's; the quote and taker-buy volumes are
  checked to be numbers but not kept (the simulator derives them, see :mod:`simulator.kline`);
- the project's own: header ``open_time_ms,open,high,low,close,volume`` (as ``simulator/datasets/``), ms times, the
  trade count estimated as for the bundled data.

Every candle is checked: a whole-minute open time, prices that are positive decimal numbers with low ≤ open, close ≤
high, a volume ≥ 0. Prices and volumes stay the file's exact strings (nothing goes through ``float``). The files of a
symbol are merged in time order; a minute found in two files (overlapping months and days) must be the same candle
(equal numbers) and is kept once, from the file whose name sorts first. A missing minute stays missing.

Errors. A malformed file raises :class:`KlineFileError` whose message is one line naming the file and line (for a zip,
``archive.zip/member.csv``) and the field: ``/data/BTCUSDT-1m-2021-11.csv:17: close 'abc' is not a number``. A
missing directory, or a symbol without 1m files, raises :class:`~simulator.dataset.DatasetNotFoundError` naming the
directory and the symbols it has.
"""

from __future__ import annotations

import gzip
import re
import zipfile
import zlib
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from simulator.dataset import Dataset, DatasetNotFoundError, dataset_from_columns, load_candles
from simulator.kline import INTERVAL, INTERVAL_MS

FILE_NAME = re.compile(r"(?P<symbol>[A-Z0-9]+)-(?P<interval>\d+[smhdwM])-(?P<period>.+?)\.(?P<ext>zip|csv|csv\.gz)")
"""A kline file's name: ``<SYMBOL>-<interval>-<period>.<zip|csv|csv.gz>``."""
PROJECT_HEADER = "open_time_ms,open,high,low,close,volume"
ARCHIVE_FIELDS = 12
_NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_INTEGER = r"\d+"
_ANY = r"[^,]*"
_COLUMNS = (
    ("open time", _INTEGER),
    ("open", _NUMBER),
    ("high", _NUMBER),
    ("low", _NUMBER),
    ("close", _NUMBER),
    ("volume", _NUMBER),
    ("close time", _INTEGER),
    ("quote volume", _NUMBER),
    ("number of trades", _INTEGER),
    ("taker-buy base volume", _NUMBER),
    ("taker-buy quote volume", _NUMBER),
    ("ignore", _ANY),
)
"""The archive's columns and the shape of each; the project's format is the first six."""
_ARCHIVE_LINE = re.compile(",".join(f"(?:{shape})" for _, shape in _COLUMNS))
_PROJECT_LINE = re.compile(",".join(f"(?:{shape})" for _, shape in _COLUMNS[:6]))
_IS_INTEGER = re.compile(_INTEGER)
_MS_RANGE = range(10**12, 10**15)
_US_RANGE = range(10**15, 10**18)


class KlineFileError(ValueError):
    """A kline file that cannot be read or has a malformed line; the message is ``<file>[:<line>]: <problem>``."""


@dataclass(frozen=True, slots=True)
class _Row:
    open_ms: int
    open: str
    high: str
    low: str
    close: str
    volume: str
    trades: int | None
    label: str  # the file (one string per file, shared), for the message about a conflicting duplicate
    line: int

    @property
    def where(self) -> str:
        return f"{self.label}:{self.line}"


def kline_files(directory: Path) -> dict[str, list[Path]]:
    """The 1m kline files of ``directory`` by symbol, each list sorted by file name.

    Raises:
        DatasetNotFoundError: ``directory`` does not exist or is not a directory.
    """
    return _scan(Path(directory))[0]


def dir_symbols(directory: Path) -> tuple[str, ...]:
    """Symbols with at least one 1m kline file in ``directory``, sorted. Raises as :func:`kline_files`."""
    return tuple(sorted(kline_files(directory)))


def load_dir(directory: Path, symbol: str) -> Dataset:
    """The 1m candles of ``symbol`` (e.g. ``"BTCUSDT"``, upper-cased here) from every one of its files in ``directory``.

    Read afresh on every call (the files may change between runs): about 0.3 s for a month of candles, 4 s a year.

    Raises:
        DatasetNotFoundError: no such directory, or no 1m file of ``symbol`` in it (the message lists the symbols
            it has, and the other intervals ``symbol`` has if any).
        KlineFileError: a file cannot be read or has a malformed line, or two files disagree about a minute.
    """
    directory = Path(directory)
    symbol = symbol.upper()
    files, other_intervals = _scan(directory)
    if symbol not in files:
        others = sorted(other_intervals.get(symbol, ()))
        found = f" (only {', '.join(others)} files; only {INTERVAL} data can be replayed)" if others else ""
        raise DatasetNotFoundError(
            f"{directory}: no {INTERVAL} kline files for {symbol}{found}; it has {', '.join(sorted(files)) or 'none'}"
        )
    rows = [row for path in files[symbol] for row in _read_file(path)]
    rows.sort(key=lambda row: row.open_ms)  # stable: for one minute, the file whose name sorts first comes first
    kept: list[_Row] = []
    for row in rows:
        if kept and kept[-1].open_ms == row.open_ms:
            _check_same(kept[-1], row)
            continue
        kept.append(row)
    return dataset_from_columns(
        symbol,
        array("q", (row.open_ms for row in kept)),
        [row.open for row in kept],
        [row.high for row in kept],
        [row.low for row in kept],
        [row.close for row in kept],
        [row.volume for row in kept],
        [row.trades for row in kept],
    )


def load_datasets(symbols: Iterable[str], data_dir: Path | None = None) -> dict[str, Dataset]:
    """The datasets of ``symbols`` (keyed by upper-case symbol, in the given order): from ``data_dir`` when given
    (:func:`load_dir`), else the bundled ones (:func:`simulator.dataset.load_candles`).

    Raises:
        DatasetNotFoundError: as :func:`load_dir` or :func:`~simulator.dataset.load_candles`.
        KlineFileError: as :func:`load_dir`.
        ValueError: a bundled file is malformed.
    """
    upper = [symbol.upper() for symbol in symbols]
    if data_dir is None:
        return {symbol: load_candles(symbol) for symbol in upper}
    return {symbol: load_dir(data_dir, symbol) for symbol in upper}


def _scan(directory: Path) -> tuple[dict[str, list[Path]], dict[str, set[str]]]:
    """(1m files by symbol, other intervals by symbol)."""
    if not directory.exists():
        raise DatasetNotFoundError(f"{directory}: no such data directory")
    if not directory.is_dir():
        raise DatasetNotFoundError(f"{directory}: not a directory")
    files: dict[str, list[Path]] = {}
    other_intervals: dict[str, set[str]] = {}
    for path in sorted(directory.iterdir()):
        match = FILE_NAME.fullmatch(path.name)
        if match is None or not path.is_file():
            continue
        symbol, interval = match["symbol"], match["interval"]
        if interval == INTERVAL:
            files.setdefault(symbol, []).append(path)
        else:
            other_intervals.setdefault(symbol, set()).add(interval)
    return files, other_intervals


def _read_file(path: Path) -> list[_Row]:
    """Every candle of one file, in file order."""
    try:
        if path.name.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                members = [info for info in archive.infolist() if not info.is_dir()]
                if len(members) != 1:
                    names = ", ".join(info.filename for info in members) or "nothing"
                    raise KlineFileError(f"{path}: a kline zip must hold exactly one CSV file; it holds {names}")
                with archive.open(members[0]) as member:
                    return _parse(f"{path}/{members[0].filename}", member)
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as unzipped:
                return _parse(str(path), unzipped)
        with path.open("rb") as plain:
            return _parse(str(path), plain)
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:  # gzip.BadGzipFile is an OSError
        raise KlineFileError(f"{path}: cannot be read: {exc}") from exc


def _parse(label: str, lines: Iterable[bytes]) -> list[_Row]:
    """The candles of one CSV; ``label`` names it in errors (``<file>`` or ``<zip>/<member>``)."""
    rows: list[_Row] = []
    archive: bool | None = None  # decided by the first line
    number = 0
    try:
        for number, raw in enumerate(lines, start=1):
            try:
                line = raw.decode("ascii").rstrip("\r\n")
            except UnicodeDecodeError:
                raise _Bad("not ASCII text") from None
            if not line:
                continue
            fields = line.split(",")
            if archive is None:
                archive = line != PROJECT_HEADER
                if _IS_INTEGER.fullmatch(fields[0]) is None:  # a header
                    if archive and len(fields) != ARCHIVE_FIELDS:
                        raise _Bad(f"header {line!r} is neither {PROJECT_HEADER!r} nor one of the archive's {ARCHIVE_FIELDS} columns")
                    continue
            rows.append(_archive_row(line, fields, label, number) if archive else _project_row(line, fields, label, number))
    except _Bad as exc:
        raise KlineFileError(f"{label}:{number}: {exc}") from None
    if not rows:
        raise KlineFileError(f"{label}: no candles")
    return rows


class _Bad(ValueError):
    """A problem of the line being read; :func:`_parse` adds the file and line."""


def _project_row(line: str, fields: list[str], label: str, number: int) -> _Row:
    if len(fields) != 6:
        raise _Bad(f"expected 6 fields ({PROJECT_HEADER}), got {len(fields)}")
    if _PROJECT_LINE.fullmatch(line) is None:
        _explain(fields)
    return _candle(_time_ms(fields[0], "open time"), fields, None, label, number)


def _archive_row(line: str, fields: list[str], label: str, number: int) -> _Row:
    if len(fields) != ARCHIVE_FIELDS:
        hint = f" (a file in the project's format starts with the header {PROJECT_HEADER})" if len(fields) == 6 else ""
        raise _Bad(f"expected {ARCHIVE_FIELDS} fields (the Binance kline archive's), got {len(fields)}{hint}")
    if _ARCHIVE_LINE.fullmatch(line) is None:
        _explain(fields)
    open_ms = _time_ms(fields[0], "open time")
    close_ms = _time_ms(fields[6], "close time", whole_minute=False)
    if not open_ms < close_ms < open_ms + INTERVAL_MS:
        raise _Bad(f"close time {fields[6]} is not within the minute opening at {fields[0]} (not 1m data?)")
    return _candle(open_ms, fields, int(fields[8]), label, number)


def _explain(fields: list[str]) -> None:
    """Raise for the first field that has not the shape of its column (a line the fast whole-line match refused)."""
    for text, (name, shape) in zip(fields, _COLUMNS, strict=False):
        if re.fullmatch(shape, text) is None:
            raise _Bad(f"{name} {text!r} is not {'a whole number' if shape == _INTEGER else 'a number'}")
    raise _Bad("malformed line")  # not reached: the whole-line pattern is the columns' patterns joined


def _time_ms(text: str, name: str, *, whole_minute: bool = True) -> int:
    """A Unix time (digits) in ms or µs, by magnitude, as ms; µs are floored to the ms (a close time's …999 µs)."""
    value = int(text)
    if value in _MS_RANGE:
        time_ms = value
    elif value in _US_RANGE:
        time_ms = value // 1000
        if whole_minute and value % 1000:
            raise _Bad(f"{name} {text} is not a whole minute")
    else:
        raise _Bad(f"{name} {text} is neither Unix milliseconds nor microseconds")
    if whole_minute and time_ms % INTERVAL_MS:
        stamp = datetime.fromtimestamp(time_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        raise _Bad(f"{name} {text} ({stamp} UTC) is not a whole minute")
    return time_ms


def _candle(open_ms: int, fields: list[str], trades: int | None, label: str, number: int) -> _Row:
    """Fields 1–5 (open, high, low, close, volume; numbers already) checked: low ≤ open, close ≤ high, low > 0."""
    o_text, h_text, l_text, c_text, v_text = fields[1:6]
    o, h, lo, c = Decimal(o_text), Decimal(h_text), Decimal(l_text), Decimal(c_text)
    if not (lo <= o <= h and lo <= c <= h and lo > 0):
        for value, text, name in ((o, o_text, "open"), (c, c_text, "close"), (lo, l_text, "low")):
            if h < value:
                raise _Bad(f"high {h_text!r} is below {name} {text!r}")
        for value, text, name in ((o, o_text, "open"), (c, c_text, "close")):
            if lo > value:
                raise _Bad(f"low {l_text!r} is above {name} {text!r}")
        raise _Bad(f"low {l_text!r} is not a positive price")
    return _Row(open_ms, o_text, h_text, l_text, c_text, v_text, trades, label, number)


def _check_same(first: _Row, again: _Row) -> None:
    """A minute read twice must be the same candle, numerically (``"56840.3"`` = ``"56840.30000000"``)."""
    names = ("open", "high", "low", "close", "volume")
    for name in names:
        a, b = getattr(first, name), getattr(again, name)
        if Decimal(a) != Decimal(b):
            stamp = datetime.fromtimestamp(first.open_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
            raise KlineFileError(
                f"{again.where}: the candle opening at {stamp} UTC ({first.open_ms}) differs from {first.where} "
                f"({name} {b!r} vs {a!r})"
            )

