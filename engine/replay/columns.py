"""A replay's candles as numpy columns: each symbol's window parsed once, then merged into market-time order.

Prices stay the dataset's decimal strings for the candles the core processes (exact ``Decimal``); for everything
computed over whole columns they are parsed once by Arrow: ``float64`` (correctly rounded, the same value as
``float(Decimal(text))``) for the ATR and the ``candles`` rows, and exact ``int64`` units of 10⁻⁸ for the
crossover's sums and the marks' ``price`` column (a price with more than 8 decimals is refused: Binance quotes at
most 8).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.core.models import MINUTE_MS, Candle
from storage.arrays import strings

_UNITS = pa.decimal128(38, 8)


class CandleColumns(Protocol):
    """One symbol's 1m candles, column-wise (``simulator.dataset.Dataset`` is one): ``open_time_ms`` ascending (Unix
    ms), prices and volumes as decimal strings (a slice of a column that also offers an Arrow string array as
    ``arrow`` is used without conversion); index ``i`` is the same candle in every column."""

    @property
    def symbol(self) -> str: ...
    @property
    def open_time_ms(self) -> Sequence[int]: ...
    @property
    def open(self) -> Sequence[str]: ...
    @property
    def high(self) -> Sequence[str]: ...
    @property
    def low(self) -> Sequence[str]: ...
    @property
    def close(self) -> Sequence[str]: ...
    @property
    def volume(self) -> Sequence[str]: ...

    def __len__(self) -> int: ...

    def index_at_or_after(self, time_ms: int) -> int: ...


@dataclass(frozen=True, slots=True, eq=False)
class SymbolColumns:
    """The candles ``lo <= index < hi`` of one dataset; index ``i`` here is the dataset's ``lo + i``.

    ``open_ms`` int64 Unix ms; ``open`` … ``volume`` float64; ``close_units`` int64, the close in units of 10⁻⁸.
    """

    symbol: str
    dataset: CandleColumns
    lo: int
    open_ms: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    close_units: np.ndarray

    @classmethod
    def parse(cls, dataset: CandleColumns, lo: int, hi: int) -> SymbolColumns:
        """Parse the window ``[lo, hi)`` of ``dataset``.

        Raises:
            ValueError: a close with more than 8 decimals (it cannot be counted in units of 10⁻⁸).
        """
        texts = {name: _arrow_text(getattr(dataset, name)[lo:hi]) for name in ("open", "high", "low", "close", "volume")}
        floats = {name: _values(pc.cast(text, pa.float64()), np.float64) for name, text in texts.items()}
        try:
            exact = pc.cast(texts["close"], _UNITS)
        except pa.ArrowInvalid as exc:
            raise ValueError(f"{dataset.symbol}: a close has more than 8 decimals: {exc}") from exc
        words = _values(exact, np.int64, per_value=2)
        return cls(
            symbol=dataset.symbol,
            dataset=dataset,
            lo=lo,
            open_ms=np.asarray(dataset.open_time_ms[lo:hi], dtype=np.int64),
            close_units=words[0::2].copy(),  # the low words: every price fits in 63 bits
            **floats,
        )

    def __len__(self) -> int:
        return len(self.open_ms)

    def candle(self, i: int) -> Candle:
        """Candle ``i``, exact (``Decimal`` from the dataset's strings)."""
        ds, j = self.dataset, self.lo + i
        open_ms = int(self.open_ms[i])
        return Candle(
            self.symbol,
            open_ms,
            open_ms + MINUTE_MS - 1,
            Decimal(ds.open[j]),
            Decimal(ds.high[j]),
            Decimal(ds.low[j]),
            Decimal(ds.close[j]),
            Decimal(ds.volume[j]),
        )


def _arrow_text(values: Sequence[str]) -> pa.Array:
    """``values`` as an Arrow string array: the column's own when it has one (``arrow``, as the simulator's
    ``TextColumn``: zero-copy), else built by :func:`storage.arrays.strings`."""
    arrow = getattr(values, "arrow", None)
    return arrow if isinstance(arrow, pa.Array) else strings(list(values))


def _values(array: pa.Array, dtype: type[np.generic], *, per_value: int = 1) -> np.ndarray:
    """The values buffer of a NULL-free fixed-width ``array`` as numpy (``per_value`` words a value), zero-copy;
    not ``Array.to_numpy``, which imports pandas on first use."""
    n = len(array)
    return np.frombuffer(array.buffers()[1], dtype=dtype)[per_value * array.offset : per_value * (array.offset + n)]


@dataclass(frozen=True, slots=True, eq=False)
class MergedOrder:
    """Candles of several symbols in market-time order (ties: in the order of the symbols), each by
    ``symbol`` (index into the symbols) and ``row`` (index into that symbol's columns); ``open_ms`` and
    ``close_units`` gathered in that order."""

    symbol: np.ndarray
    row: np.ndarray
    open_ms: np.ndarray
    close_units: np.ndarray

    @classmethod
    def of(cls, columns: Sequence[SymbolColumns], starts: Sequence[int]) -> MergedOrder:
        """The candles ``starts[k] <= row`` of each ``columns[k]``, merged."""
        symbol = np.concatenate([np.full(len(c) - s, k, dtype=np.int64) for k, (c, s) in enumerate(zip(columns, starts, strict=True))])
        row = np.concatenate([np.arange(s, len(c), dtype=np.int64) for c, s in zip(columns, starts, strict=True)])
        open_ms = np.concatenate([c.open_ms[s:] for c, s in zip(columns, starts, strict=True)])
        units = np.concatenate([c.close_units[s:] for c, s in zip(columns, starts, strict=True)])
        order = np.lexsort((symbol, open_ms))
        return cls(symbol=symbol[order], row=row[order], open_ms=open_ms[order], close_units=units[order])

    def __len__(self) -> int:
        return len(self.row)
