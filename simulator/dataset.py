"""The bundled candle datasets: finding, loading and indexing them by time.

Files live next to this module as ``datasets/{SYMBOL}-1m-{first day}_{last day}.csv.gz``: gzip CSV with the header
``open_time_ms,open,high,low,close,volume``, one row per closed 1m candle, ascending. A missing minute (exchange
outage) is simply absent and stays absent: nothing here invents candles. Prices and volumes are kept as the file's
exact decimal strings (:class:`~simulator.text_column.TextColumn`: one Arrow string array a column) and become
:class:`~decimal.Decimal` only when a :class:`~simulator.kline.Candle` is built.
A directory of Binance kline files (``sim.data_dir``, ``--data``) becomes the same :class:`Dataset` through
:mod:`simulator.klines_files`.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from simulator.kline import Candle, estimated_trades, quote_volume
from simulator.text_column import TextColumn

DATASETS_DIR = Path(__file__).with_name("datasets")
_HEADER = ["open_time_ms", "open", "high", "low", "close", "volume"]


class DatasetNotFoundError(LookupError):
    """No bundled dataset for a symbol; the message names the symbol and the available ones."""


@dataclass(frozen=True, slots=True, eq=False)
class Dataset:
    """One symbol's 1m candles, column-wise and immutable.

    ``open_time_ms`` is sorted ascending (Unix ms); ``open`` … ``volume`` are the file's decimal strings (a
    :class:`~simulator.text_column.TextColumn` each, so a replay can parse them as whole Arrow columns);
    ``known_trades`` the source's real trade count per candle where it has one (the Binance archive), ``None`` where
    not. Index ``i`` is the same candle in every column.
    """

    symbol: str
    open_time_ms: array
    open: TextColumn
    high: TextColumn
    low: TextColumn
    close: TextColumn
    volume: TextColumn
    known_trades: Sequence[int | None] | None = None
    _trade_ids: tuple[array, array] | None = field(default=None, init=False, repr=False)

    @property
    def trades(self) -> array:
        """Trades per candle: the known count, or the estimate ⌈quote volume / 1,000⌉ (:mod:`simulator.kline`);
        worked out on first use (a replay never needs them)."""
        return self.trade_ids()[0]

    @property
    def first_trade_id(self) -> array:
        """The id of each candle's first trade: ids run contiguously from 1 through the dataset."""
        return self.trade_ids()[1]

    def trade_ids(self) -> tuple[array, array]:
        """``(trades, first_trade_id)``, worked out once (about 0.1 s per bundled month) and kept."""
        ids = self._trade_ids
        if ids is None:
            known: Sequence[int | None] = [None] * len(self) if self.known_trades is None else self.known_trades
            counts = array(
                "q",
                (
                    estimated_trades(quote_volume(Decimal(v), Decimal(h), Decimal(lo), Decimal(c))) if n is None else n
                    for v, h, lo, c, n in zip(self.volume, self.high, self.low, self.close, known, strict=True)
                ),
            )
            first_ids = array("q", [0]) * len(counts)
            next_id = 1
            for i, count in enumerate(counts):
                first_ids[i] = next_id
                next_id += count
            ids = (counts, first_ids)
            object.__setattr__(self, "_trade_ids", ids)  # frozen: a cache, the same value whoever computes it
        return ids

    def __len__(self) -> int:
        return len(self.open_time_ms)

    @property
    def start_ms(self) -> int:
        """Open time of the first candle."""
        return self.open_time_ms[0]

    @property
    def end_ms(self) -> int:
        """Open time of the last candle."""
        return self.open_time_ms[-1]

    def shifted(self, offset_ms: int) -> Dataset:
        """The same candles with every open time moved by ``offset_ms`` (time mode ``now``); the trade counts and ids
        come along, worked out or not."""
        moved = Dataset(
            self.symbol,
            array("q", (t + offset_ms for t in self.open_time_ms)),
            self.open, self.high, self.low, self.close, self.volume,
            self.known_trades,
        )
        object.__setattr__(moved, "_trade_ids", self._trade_ids)  # frozen: the same cache, valid for the same candles
        return moved

    def candle(self, index: int) -> Candle:
        """The full candle at ``index`` (``IndexError`` outside ``0 ≤ index < len``)."""
        if not 0 <= index < len(self):
            raise IndexError(f"{self.symbol}: candle index {index} outside 0..{len(self) - 1}")
        return Candle(
            open_time_ms=self.open_time_ms[index],
            open=Decimal(self.open[index]),
            high=Decimal(self.high[index]),
            low=Decimal(self.low[index]),
            close=Decimal(self.close[index]),
            volume=Decimal(self.volume[index]),
            trades=self.trades[index],
            first_trade_id=self.first_trade_id[index],
        )

    def index_at_or_after(self, time_ms: int) -> int:
        """Index of the first candle with open time ≥ ``time_ms`` (``len`` when there is none)."""
        return bisect_left(self.open_time_ms, time_ms)

    def index_after(self, time_ms: int) -> int:
        """Index of the first candle with open time > ``time_ms``; equally, how many open at or before it."""
        return bisect_right(self.open_time_ms, time_ms)


def available_symbols() -> tuple[str, ...]:
    """Symbols with a bundled dataset, sorted (e.g. ``("BTCUSDT", "ETHUSDT")``)."""
    return tuple(sorted({path.name.split("-", 1)[0] for path in DATASETS_DIR.glob("*-1m-*.csv.gz")}))


@cache
def load_candles(symbol: str) -> Dataset:
    """Load the bundled 1m dataset of ``symbol`` (e.g. ``"BTCUSDT"``); cached, as datasets are immutable.

    Raises:
        DatasetNotFoundError: no ``datasets/{symbol}-1m-*.csv.gz`` (or more than one).
        ValueError: the file's header is not ``open_time_ms,open,high,low,close,volume``, it has no rows, or its
            rows are not strictly ascending in time.
    """
    matches = sorted(DATASETS_DIR.glob(f"{symbol}-1m-*.csv.gz"))
    if len(matches) != 1:
        found = "none" if not matches else ", ".join(path.name for path in matches)
        raise DatasetNotFoundError(
            f"need exactly one bundled 1m dataset for {symbol!r} in {DATASETS_DIR} (found {found}); "
            f"available symbols: {', '.join(available_symbols()) or 'none'}"
        )
    return _read(symbol, matches[0])


def _read(symbol: str, path: Path) -> Dataset:
    """The file read by Arrow's CSV reader (gzip by the extension): times as int64, the rest as the file's text.

    The reader allocates from the system allocator (``malloc``), not from pyarrow's default pool (mimalloc): the
    reader's transient buffers (decompressed and parsed blocks) then return to the heap that numpy and Python reuse,
    where mimalloc kept them for Arrow alone (peak RSS of the bundled replay ≈ 20 MB lower,
    ``benchmarks/replay_speed.py``)."""
    try:
        table = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(use_threads=False),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.int64() if name == "open_time_ms" else pa.string() for name in _HEADER},
                strings_can_be_null=False,
            ),
            memory_pool=pa.system_memory_pool(),
        )
    except pa.ArrowInvalid as exc:
        raise ValueError(f"{path.name}: {exc}") from exc
    if table.column_names != _HEADER:
        raise ValueError(f"{path.name}: header {table.column_names!r}, expected {','.join(_HEADER)}")
    if table.num_rows == 0:
        raise ValueError(f"{path.name}: no candles")
    table = table.combine_chunks()
    times = table.column("open_time_ms").chunk(0)
    if times.null_count:
        raise ValueError(f"{path.name}: a row without an open time")
    ms = np.frombuffer(times.buffers()[1], dtype=np.int64, count=len(times), offset=8 * times.offset)
    if not (np.diff(ms) > 0).all():
        raise ValueError(f"{path.name}: open times are not strictly ascending")
    opens, highs, lows, closes, volumes = (TextColumn(table.column(name).chunk(0)) for name in _HEADER[1:])
    return dataset_from_columns(symbol, array("q", ms.tobytes()), opens, highs, lows, closes, volumes)


def dataset_from_columns(
    symbol: str,
    open_time_ms: array,
    opens: Sequence[str],
    highs: Sequence[str],
    lows: Sequence[str],
    closes: Sequence[str],
    volumes: Sequence[str],
    trades: Sequence[int | None] | None = None,
) -> Dataset:
    """A :class:`Dataset` from checked columns (``open_time_ms`` strictly ascending, prices and volumes decimal
    strings).

    ``trades`` holds a candle's real trade count where the source has one (the Binance archive does), ``None`` where
    it has not; ``None`` (or no ``trades`` at all) is replaced by the estimate ⌈quote volume / 1,000⌉ (see
    :attr:`Dataset.trades`). Trade ids then run contiguously from 1 through the dataset either way.
    """
    if trades is not None and len(trades) != len(volumes):
        raise ValueError(f"{symbol}: {len(trades)} trade counts for {len(volumes)} candles")
    o, h, lo, c, v = (TextColumn.of(column) for column in (opens, highs, lows, closes, volumes))
    return Dataset(symbol, open_time_ms, o, h, lo, c, v, known_trades=trades)
