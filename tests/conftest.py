"""Fixtures shared by every test package."""

from __future__ import annotations

import gzip
import os
import zipfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from itertools import groupby
from pathlib import Path

import duckdb
import pytest

from simulator.kline import Candle, Kline, estimated_trades, quote_volume, rest_row
from storage.store import Store

TEST_DATA = Path(__file__).with_name("data")
NOV_2021_BTC = TEST_DATA / "BTCUSDT-1m-2021-11-12_2021-11-13.csv.gz"
"""Two days of real BTCUSDT 1m candles (2021-11-12 and -13, 2,880 rows) in the project's format."""


def _random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(64 * 1024))


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _truncated(path: Path) -> None:
    """The first 4096 bytes of a real papertrader file (its header, nothing else)."""
    real = path.with_name("real.duckdb")
    Store(real).close()
    path.write_bytes(real.read_bytes()[:4096])
    real.unlink()


def _foreign(path: Path) -> None:
    """A valid DuckDB file of another program: tables, rows, no papertrader ``schema_version``."""
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE customers (id INTEGER, name VARCHAR)")
        con.execute("INSERT INTO customers VALUES (1, 'Ada'), (2, 'Grace')")
        con.execute("CREATE TABLE orders (id INTEGER, customer INTEGER)")


NOT_PAPERTRADER: dict[str, tuple[Callable[[Path], None], str]] = {
    "random-bytes": (_random_bytes, "not a DuckDB file"),
    "empty": (_empty, "empty file"),
    "truncated": (_truncated, "damaged or truncated DuckDB file"),
    "foreign-duckdb": (_foreign, "a DuckDB database with 2 tables and no papertrader schema_version"),
}
"""Files that are not papertrader databases, by kind: how to make one, and the reason ``Store`` gives."""


@pytest.fixture(params=list(NOT_PAPERTRADER))
def not_papertrader(request: pytest.FixtureRequest) -> tuple[Callable[[Path], None], str]:
    """``(make, reason)`` for each kind of file that is not a papertrader database (the test runs once per kind)."""
    return NOT_PAPERTRADER[request.param]


# ---------------------------------------------------------------------------------------------------- kline files
def project_rows(path: Path = NOV_2021_BTC) -> list[list[str]]:
    """The rows (``open_time_ms, open, high, low, close, volume`` strings) of a project-format ``.csv.gz``."""
    with gzip.open(path, "rt", encoding="ascii", newline="") as text:
        return [line.split(",") for line in text.read().splitlines()[1:]]


def archive_line(row: Sequence[str], *, micro: bool = False) -> str:
    """A project row as a line of Binance's public kline archive: 12 fields, prices with 8 decimals, the derived
    fields of :mod:`simulator.kline`, times in ms or (``micro``, the archive from 2025 on) µs."""
    o, h, lo, c, v = (Decimal(x) for x in row[1:6])
    trades = estimated_trades(quote_volume(v, h, lo, c))
    fields = rest_row(Kline.of(Candle(int(row[0]), o, h, lo, c, v, trades, first_trade_id=1)))
    if micro:
        fields[0], fields[6] = fields[0] * 1000, fields[6] * 1000 + 999
    return ",".join(map(str, fields))


def write_archive(
    directory: Path, symbol: str, rows: Sequence[Sequence[str]], *, by: str = "day", micro: bool = False, ext: str = "zip"
) -> list[Path]:
    """``rows`` as public-archive files in ``directory``: one per UTC day (``by="day"``: ``<SYMBOL>-1m-YYYY-MM-DD``)
    or month (``"month"``: ``<SYMBOL>-1m-YYYY-MM``), each a ``.zip`` holding the ``.csv`` of the same name (as
    data.binance.vision serves them), or a plain ``.csv`` / ``.csv.gz`` (``ext``). Returns the paths written."""
    stamp = "%Y-%m-%d" if by == "day" else "%Y-%m"

    def period(row: Sequence[str]) -> str:
        return datetime.fromtimestamp(int(row[0]) / 1000, tz=UTC).strftime(stamp)

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, group in groupby(rows, key=period):
        stem = f"{symbol}-1m-{name}"
        text = "".join(archive_line(row, micro=micro) + "\n" for row in group)
        path = directory / f"{stem}.{ext}"
        if ext == "zip":
            with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(f"{stem}.csv", text)
        elif ext == "csv.gz":
            path.write_bytes(gzip.compress(text.encode(), mtime=0))
        else:
            path.write_text(text, encoding="ascii")
        written.append(path)
    return written
