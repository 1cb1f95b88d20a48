"""The simulated exchange's state: the symbols' datasets replayed on one clock, plus request-weight accounting.

Everything a route answers comes from here, at one market time: a candle exists once it has opened (open time ≤
now), is closed once now ≥ open time + 60 s, and before that is served as its synthesised partial (see
:mod:`simulator.replay`). Nothing from the future is ever visible. Scripted price shocks (:mod:`simulator.shock`)
are applied here, to every candle REST or the streams serve, so both always agree.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path

from simulator.dataset import Dataset
from simulator.kline import INTERVAL_MS, Candle
from simulator.klines_files import load_datasets
from simulator.replay import ReplayClock, candle_at
from simulator.shock import PriceShock, shocked
from simulator.symbols import SYMBOL_RULES, SymbolRules
from simulator.weights import RequestWeights

WARMUP_CANDLES = 300


class UnknownSymbolError(LookupError):
    """The symbol is not traded on this simulated exchange."""

    def __init__(self, symbol: str, *, available: Iterable[str]) -> None:
        super().__init__(f"unknown symbol {symbol!r}; this market has {', '.join(available)}")
        self.symbol = symbol


def start_within(datasets: Mapping[str, Dataset], start_ms: int | None) -> int:
    """Where a replay of ``datasets`` starts: at ``start_ms`` when the datasets' common time range contains it,
    else (``None`` too) :data:`WARMUP_CANDLES` minutes after the common start, so that a client can bootstrap that
    much history over REST (e.g. ``sim.start`` left at its default, in the bundled month, while ``sim.data_dir``
    holds another year).

    Raises:
        ValueError: no datasets.
    """
    if not datasets:
        raise ValueError("a market needs at least one dataset")
    first = max(ds.start_ms for ds in datasets.values())
    end = min(ds.end_ms for ds in datasets.values()) + INTERVAL_MS
    if start_ms is not None and first <= start_ms < end:
        return start_ms
    return first + WARMUP_CANDLES * INTERVAL_MS


TIME_MODES = ("historical", "now")
"""``historical``: server time is the replay's time (the data's own timestamps, sped up); ``now``: the replay is moved
forward to the wall clock (:func:`shifted_to_now`) and runs in real time."""
DAY_MS = 86_400_000


def shifted_to_now(datasets: Mapping[str, Dataset], *, start_ms: int, now_ms: int) -> tuple[dict[str, Dataset], int]:
    """Time mode ``now``: ``datasets`` moved forward by whole days, so that their candles carry today's timestamps
    and a replay whose market time is the wall clock ``now_ms`` (Unix ms) plays the data from within a day after
    ``start_ms`` (the data time it would start at, :func:`start_within`) on — the minute of the day ``now_ms`` is at.
    Whole days keep the data's UTC days, times of day and the alignment of every kline interval up to ``1d``.

    Returns ``(the shifted datasets, the shift in ms)``: a candle opening at ``t`` in the data opens at ``t + shift``.

    Raises:
        ValueError: the data ends before that minute (it needs a day after ``start_ms``).
    """
    offset_ms = (now_ms - start_ms) // DAY_MS * DAY_MS
    end_ms = min(ds.end_ms for ds in datasets.values()) + INTERVAL_MS
    if now_ms - offset_ms >= end_ms:
        raise ValueError(
            "time mode now needs the data to reach a day past the replay's start (it plays the data at today's time "
            f"of day); it ends {(end_ms - start_ms) / 3_600_000:.1f} h after it"
        )
    return {symbol: ds.shifted(offset_ms) for symbol, ds in datasets.items()}, offset_ms


class Market:
    """Datasets + :class:`ReplayClock` + :class:`RequestWeights`: the one object the routes share.

    Args:
        datasets: one dataset per symbol (keyed by upper-case symbol, e.g. ``"BTCUSDT"``).
        clock: the replay clock; its market time is the exchange's server time.
        weights: request-weight accounting (default: 6000 per minute on the wall clock).

    Raises:
        ValueError: no datasets, a symbol without trading rules in :data:`simulator.symbols.SYMBOL_RULES`,
            or datasets whose time ranges do not overlap.
    """

    def __init__(
        self, datasets: Mapping[str, Dataset], *, clock: ReplayClock, weights: RequestWeights | None = None
    ) -> None:
        if not datasets:
            raise ValueError("a market needs at least one dataset")
        missing = sorted(set(datasets) - set(SYMBOL_RULES))
        if missing:
            raise ValueError(f"no trading rules for {', '.join(missing)}; known: {', '.join(SYMBOL_RULES)}")
        self._datasets = dict(datasets)
        self.clock = clock
        self.weights = weights if weights is not None else RequestWeights()
        self.dataset_start_ms = max(ds.start_ms for ds in self._datasets.values())
        self.dataset_end_ms = min(ds.end_ms for ds in self._datasets.values()) + INTERVAL_MS
        if self.dataset_start_ms >= self.dataset_end_ms:
            raise ValueError(f"the datasets of {', '.join(self._datasets)} have no time in common")
        self._shocks: tuple[PriceShock, ...] = ()
        self._shock_lock = threading.Lock()

    @classmethod
    def replay(
        cls,
        symbols: Iterable[str] = ("BTCUSDT", "ETHUSDT"),
        *,
        start_ms: int | None = None,
        speed: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        weights: RequestWeights | None = None,
        data_dir: Path | None = None,
    ) -> Market:
        """A market over the datasets of ``symbols``, replaying from ``start_ms`` at ``speed``.

        The datasets are the bundled ones, or with ``data_dir`` those of a directory of Binance kline files
        (:mod:`simulator.klines_files`). ``start_ms=None`` starts :data:`WARMUP_CANDLES` (300) minutes after
        :attr:`dataset_start_ms`, so a client can bootstrap that much history over REST; a given ``start_ms`` is
        kept as it is (see :func:`start_within` to fall back when it is outside the data). ``speed`` is market
        seconds per wall second; ``clock`` is the monotonic wall clock (seconds) the replay runs on.

        Raises:
            simulator.dataset.DatasetNotFoundError: a symbol has no dataset (bundled, or in ``data_dir``), or
                ``data_dir`` does not exist.
            simulator.klines_files.KlineFileError: a file in ``data_dir`` is malformed.
            ValueError: as for :class:`Market`, or a bad ``speed``.
        """
        datasets = load_datasets(symbols, data_dir)
        for dataset in datasets.values():
            dataset.trade_ids()  # served with every candle: worked out before the replay clock starts
        start = start_within(datasets, None) if start_ms is None else start_ms
        return cls(datasets, clock=ReplayClock(start, speed, clock), weights=weights)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._datasets)

    def now_ms(self) -> int:
        """Market (= server) time, Unix ms."""
        return self.clock.now_ms()

    def dataset(self, symbol: str) -> Dataset:
        """The dataset of ``symbol``; raises :class:`UnknownSymbolError`."""
        try:
            return self._datasets[symbol]
        except KeyError:
            raise UnknownSymbolError(symbol, available=self._datasets) from None

    def rules(self, symbol: str) -> SymbolRules:
        """The trading rules of ``symbol``; raises :class:`UnknownSymbolError`."""
        self.dataset(symbol)
        return SYMBOL_RULES[symbol]

    @property
    def shocks(self) -> tuple[PriceShock, ...]:
        """The price shocks scheduled so far, oldest first."""
        return self._shocks

    def shock(self, *, pct: float, candles: int) -> PriceShock:
        """Schedule a price fall of ``pct`` % over ``candles`` candles for every symbol, from the next candle on
        (the first candle opening after market now); it stays in the prices for the rest of the replay.

        Raises:
            ValueError: as for :class:`simulator.shock.PriceShock`.
        """
        start_ms = (self.now_ms() // INTERVAL_MS + 1) * INTERVAL_MS
        price_shock = PriceShock(start_ms=start_ms, pct=pct, candles=candles)
        with self._shock_lock:
            self._shocks = (*self._shocks, price_shock)
        return price_shock

    def candle(self, symbol: str, index: int) -> Candle:
        """The full candle at ``index`` of ``symbol``'s dataset, price shocks applied.

        Raises:
            UnknownSymbolError: ``symbol`` is not traded here.
            IndexError: ``index`` is outside the dataset.
        """
        candle = self.dataset(symbol).candle(index)
        return shocked(candle, self._shocks, tick_size=SYMBOL_RULES[symbol].tick_size)

    def klines(
        self, symbol: str, *, start_ms: int | None = None, end_ms: int | None = None, limit: int = 500
    ) -> list[Candle]:
        """Candles of ``symbol`` that exist at market now, ascending, at most ``limit``, with Binance's paging.

        With ``start_ms``: the first ``limit`` candles with open time ≥ ``start_ms`` (and ≤ ``end_ms`` if given);
        otherwise the last ``limit`` with open time ≤ ``end_ms`` (or ≤ now). The candle in progress, if any, is the
        last row, as its partial. Raises :class:`UnknownSymbolError`.
        """
        dataset = self.dataset(symbol)
        now_ms = self.now_ms()
        stop = dataset.index_after(now_ms)
        if end_ms is not None:
            stop = min(stop, dataset.index_after(end_ms))
        if start_ms is not None:
            first = dataset.index_at_or_after(start_ms)
            stop = min(stop, first + limit)
        else:
            first = max(0, stop - limit)
        return [candle_at(self.candle(symbol, i), now_ms)[0] for i in range(first, stop)]

    def last_price(self, symbol: str) -> Decimal:
        """Last traded price at market now: the close of the candle in progress, else of the last closed one.

        Before the dataset's first candle opens, the price is that candle's open. Raises :class:`UnknownSymbolError`.
        """
        dataset = self.dataset(symbol)
        now_ms = self.now_ms()
        latest = dataset.index_after(now_ms) - 1
        if latest < 0:
            return self.candle(symbol, 0).open
        return candle_at(self.candle(symbol, latest), now_ms)[0].close
