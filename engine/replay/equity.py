"""The ``equity`` rows of a replay, built as columns.

Each candle the core processes leaves its own rows (the :class:`~engine.core.events.Marked` events: a fill's, then
the candle's mark). A candle it skips (:meth:`engine.core.core.TradingCore.advance`: a flat symbol, nothing
pending, no signal, no new day) would have left exactly one row: the account unchanged since the last row, marked
by that candle — its time, symbol, open and close, and every money figure and percentage of the row before it.
:class:`EquityColumns` collects both kinds in candle order and turns them into Arrow columns for
:class:`storage.bulk.BulkWriter`; the result is row for row what recording every candle's events would store.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from engine.core.events import Marked
from engine.core.models import MINUTE_MS
from engine.core.portfolio import Snapshot
from engine.replay.columns import MergedOrder
from engine.sinks.rows import EquityRows
from storage.arrays import decimals, dictionary, fixed
from storage.columns import units

MONEY = ("equity", "cash", "positions_value", "realised_pnl", "unrealised_pnl", "peak_equity", "day_start_equity")
"""The money columns, in the order of :meth:`EquityRows.money`."""
_SOURCES = ("candle", "price", "fill", "reset")
"""``equity.source`` values (:class:`engine.core.events.MarkSource`), a skipped candle's first."""
_DECIMAL = pa.decimal128(38, 8)
_TIMESTAMP = pa.timestamp("us", tz="UTC")


class EquityColumns:
    """Equity rows of candles ``[start, stop)`` of ``order``, then :meth:`columns`; the next batch continues from
    the last row (:meth:`next_batch`).

    Args:
        symbols: the symbols, by index in ``order``.
        order: the replay's candles in processing order.
        first: the account before the first candle (what a skipped first candle's row shows).
    """

    def __init__(self, symbols: Sequence[str], order: MergedOrder, *, first: Snapshot) -> None:
        self._names = [*symbols, None]  # the last: no symbol (a reset's row)
        self._code = {symbol: i for i, symbol in enumerate(symbols)} | {None: len(symbols)}
        self._order = order
        self._money = EquityRows()
        self._last: tuple[tuple[int, ...], float, float] = (self._money.money(first), first.drawdown_pct, first.daily_pnl_pct)
        self._reset()

    def _reset(self) -> None:
        self._quiet: list[np.ndarray] = []
        self._k: list[int] = []
        self._time_ms: list[int] = []
        self._symbol: list[int] = []
        self._source: list[int] = []
        self._open_ms: list[int | None] = []
        self._price: list[int | None] = []
        self._rows: list[tuple[int, ...]] = []
        self._percent: list[tuple[float, float]] = []

    def quiet(self, start: int, stop: int) -> None:
        """Candles ``[start, stop)`` were skipped: one unchanged row each."""
        self._quiet.append(np.arange(start, stop, dtype=np.int64))

    def marked(self, k: int, event: Marked) -> None:
        """A row of candle ``k``, from the core."""
        s = event.snapshot
        self._k.append(k)
        self._time_ms.append(s.time_ms)
        self._symbol.append(self._code[event.symbol])
        self._source.append(_SOURCES.index(event.source.value))
        self._open_ms.append(event.candle_open_ms)
        self._price.append(None if event.price is None else units(event.price))
        self._rows.append(self._money.money(s))
        self._percent.append((s.drawdown_pct, s.daily_pnl_pct))

    def columns(self) -> dict[str, pa.Array]:
        """The rows collected so far, in candle order (a candle's own rows in the order made), as the ``equity``
        table's columns; then starts the next batch from the last of them."""
        order = self._order
        quiet = np.concatenate(self._quiet) if self._quiet else np.empty(0, dtype=np.int64)
        made = np.array(self._k, dtype=np.int64)
        # A skipped candle copies the account of the last row made before it (index 0: the batch's first row).
        money = np.array([self._last[0], *self._rows], dtype=np.int64).reshape(-1, len(MONEY))
        percent = np.array([self._last[1:], *self._percent], dtype=np.float64).reshape(-1, 2)
        source_of_quiet = np.searchsorted(made, quiet, side="left")
        within = np.concatenate([np.zeros(len(quiet), np.int64), np.arange(1, len(made) + 1)])  # made rows: in their order
        position = np.lexsort((within, np.concatenate([quiet, made])))

        def both(quiet_values: np.ndarray, made_values: np.ndarray) -> np.ndarray:
            return np.concatenate([quiet_values, made_values])[position]

        account = both(source_of_quiet, np.arange(1, len(made) + 1))
        quiet_open = order.open_ms[quiet]
        made_open = np.array([-1 if t is None else t for t in self._open_ms], dtype=np.int64)
        made_price = np.array([-1 if p is None else p for p in self._price], dtype=np.int64)
        open_ms = both(quiet_open, made_open)
        price = both(order.close_units[quiet], made_price)
        symbols = both(order.symbol[quiet], np.array(self._symbol, dtype=np.int64)).astype(np.int32)
        sources = both(np.zeros(len(quiet), np.int32), np.array(self._source, dtype=np.int32))
        columns = {
            "ts": fixed(both(quiet_open + MINUTE_MS - 1, np.array(self._time_ms, dtype=np.int64)) * 1000, _TIMESTAMP),
            "symbol": dictionary(symbols, self._names),
            "source": dictionary(sources, _SOURCES),
            "candle_open_time": fixed(open_ms * 1000, _TIMESTAMP, null=open_ms < 0),
            "price": decimals(price, _DECIMAL, null=price < 0),
            "drawdown_pct": fixed(percent[account, 0], pa.float64()),
            "daily_pnl_pct": fixed(percent[account, 1], pa.float64()),
        }
        for i, name in enumerate(MONEY):
            columns[name] = decimals(money[account, i], _DECIMAL)
        if len(made):
            self._last = (tuple(int(v) for v in money[-1]), float(percent[-1, 0]), float(percent[-1, 1]))
        self._reset()
        return columns

