"""Shared reads: every browser session gets the same query result, computed once per refresh tick.

Twenty sessions refreshing once a second would otherwise run every query twenty times a second on the same
database (``../shared/SPEC.md`` §5: "query results are shared across sessions, not recomputed per session"). A
page asks for a result with :func:`read` (``read(runtime, queries.equity_curve)``, ``read(runtime,
queries.recent_trades, limit=20)``) instead of calling the query on a cursor of its own; :class:`SharedReads`
keeps the latest result of each (query, arguments) and decides when to compute it again:

- a result is reused while it is younger than ``ttl_s`` (0.5 s: half the dashboard's refresh period, so each
  once-a-second refresh of a page gets a result newer than its previous one), whatever the sessions asking, and
  for as long as the recorder has committed nothing since (its flush version,
  :attr:`storage.recorder.RecorderStatus.flushes`, is unchanged: the database holds the same rows), up to
  ``max_age_s`` (30 s, a bound for anything that changes without a flush);
- when it is due, the first session to ask computes it while the others asking for the same result wait for that
  computation instead of starting their own: a query runs at most once per tick (twice a second) whatever the
  number of sessions;
- the ``max_entries`` most recently used results are kept (queries with filters make one entry per filter).

A read must depend only on the database and its arguments: a query that measures against the wall clock takes the
time as an argument, and pages pass :func:`tick_now` (the time rounded down to the tick) so that every session of a
tick asks for the same result. Each caller gets its own copy of a DataFrame result (a deep copy of anything else),
so a page may change what it got without another session seeing it.

What a page builds from several results — a chart, a table — is shared the same way with :func:`shared`
(``shared(runtime, overview_views.curves, runtime)``): ``build(*args)`` runs once per tick for every session asking
with equal arguments. Built by each session, the Overview's four figures cost it ~25 ms a refresh, as much as all
the page's queries; so the Overview and Guards pages build every chart and table this way
(:mod:`dashboard.overview_views`, :mod:`dashboard.guard_views`), and a session only hands them to Streamlit. The
rules that make one value right for every session:

- ``build`` is a function of an imported module, not of a page (a page's script is executed again on every run, so
  a function defined there is a new object each time: a new key, nothing shared);
- its arguments name everything a session chooses (a symbol, a span): they are the key, with ``build``;
- besides its arguments it reads only what is the same for every session: the database (through these shared
  reads) and the present (the engine's status, :func:`tick_now`), as the first session of the tick sees them;
- the value is shared as it is, not copied (copying a figure costs as much as building it): hand it to
  ``dashboard.live_chart.live_chart`` or ``st.dataframe``, which only read it, and change nothing in it.
"""

from __future__ import annotations

import copy
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import duckdb
import pandas as pd

from engine.runtime import Runtime

TTL_S = 0.5
MAX_AGE_S = 30.0
MAX_ENTRIES = 256
CHART_POINTS = 600
"""Points per trace the dashboard's charts ask for (``max_points`` of the downsampling queries): about one per pixel
of a half-width chart. The chart payload grows with it (the equity chart ~21 bytes a point: time, equity, realised
and unrealised P&L); the time a browser takes to draw a refreshed chart hardly does (~10 ms for a line of 100 or of
2,000 points in headless Chromium: the axes and the layout cost more than the points)."""

P = ParamSpec("P")
T = TypeVar("T")
Query = Callable[Concatenate[duckdb.DuckDBPyConnection, P], T]


class Read(Protocol):
    """The type of :meth:`SharedReads.read`, for code handed the shared reads of one Runtime."""

    def __call__(self, query: Query[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T: ...


@dataclass(frozen=True, slots=True)
class _Entry:
    value: Any
    version: int
    computed_at: float


class SharedReads:
    """Query results shared by every caller, recomputed at most once per ``ttl_s`` and only after new rows.

    Args:
        cursor: opens a cursor for the calling thread, as a context manager (closed after each computation).
        version: the database's version, a number that changes whenever rows are committed (the recorder's flush
            count).
        ttl_s: seconds a result is reused even when the version has moved on.
        max_age_s: seconds a result is reused at most, even when the version has not moved.
        max_entries: results kept, least recently used dropped first.
        clock: monotonic seconds.

    Thread-safe: any number of script threads may call :meth:`read` at once.
    """

    def __init__(
        self,
        cursor: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]],
        version: Callable[[], int],
        *,
        ttl_s: float = TTL_S,
        max_age_s: float = MAX_AGE_S,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= ttl_s <= max_age_s or max_entries < 1:
            raise ValueError("need 0 ≤ ttl_s ≤ max_age_s and max_entries ≥ 1")
        self._cursor = cursor
        self._version = version
        self._ttl_s = ttl_s
        self._max_age_s = max_age_s
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._computing: dict[Hashable, threading.Lock] = {}
        self.computations = 0
        """How many values have been computed (queries run and shared values built), for tests and benchmarks."""

    def read(self, query: Query[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``query(cursor, *args, **kwargs)``, shared: see the module docstring. Returns the caller's own copy.

        Raises:
            TypeError: an argument that cannot be a key (lists, tuples, sets and dicts of hashable values can).
            Whatever ``query`` raises (nothing is stored then; the next caller tries again).
        """

        def compute() -> T:
            with self._cursor() as cur:
                return query(cur, *args, **kwargs)

        return _copy(self._shared((query, _frozen(args), _frozen(kwargs)), compute))

    def shared(self, build: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``build(*args, **kwargs)``, built once per tick for every caller with equal arguments and shared as it is,
        **not copied**: see the module docstring for what ``build`` may depend on. It may read through this object
        (its reads are shared with every other caller of the tick) and ask for other shared values.

        Raises:
            TypeError: ``build`` or an argument cannot be a key (as :meth:`read`).
            Whatever ``build`` raises (nothing is stored then; the next caller tries again).
        """
        hash(build)
        return self._shared(("shared", build, _frozen(args), _frozen(kwargs)), lambda: build(*args, **kwargs))

    def _shared(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The stored value of ``key`` while fresh, else ``compute()``: once, however many callers wait for it."""
        entry = self._fresh(key)
        if entry is None:
            with self._lock:
                computing = self._computing.setdefault(key, threading.Lock())
            with computing:
                entry = self._fresh(key)  # computed by another caller while this one waited
                if entry is None:
                    try:
                        entry = self._compute(key, compute)
                    except BaseException:
                        with self._lock:
                            self._computing.pop(key, None)
                        raise
        value: T = entry.value
        return value

    def _fresh(self, key: Hashable) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            age = self._clock() - entry.computed_at
            if age < self._ttl_s or (age < self._max_age_s and entry.version == self._version()):
                self._entries.move_to_end(key)
                return entry
            return None

    def _compute(self, key: Hashable, compute: Callable[[], Any]) -> _Entry:
        version, started = self._version(), self._clock()  # before computing: rows committed meanwhile mean "due"
        value = compute()
        entry = _Entry(value, version, started)
        with self._lock:
            self.computations += 1
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                dropped, _ = self._entries.popitem(last=False)
                self._computing.pop(dropped, None)
        return entry


def _frozen(value: Any) -> Hashable:
    """``value`` as a hashable key: lists and tuples as tuples, sets as frozensets, mappings as sorted item tuples."""
    if isinstance(value, Mapping):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, set | frozenset):
        return frozenset(_frozen(v) for v in value)
    hash(value)  # TypeError for anything else unhashable
    return value


def _copy(value: T) -> T:
    if isinstance(value, pd.DataFrame):
        return value.copy()
    return copy.deepcopy(value)


_SHARED: weakref.WeakKeyDictionary[Runtime, SharedReads] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def shared_reads(runtime: Runtime) -> SharedReads:
    """The :class:`SharedReads` of the started ``runtime`` (one per Runtime, created on first use), on its store and
    its recorder's flush count.

    Raises:
        RuntimeError: ``runtime`` has not been started (it has no store or recorder yet).
    """
    store, recorder = runtime.store, runtime.recorder
    if store is None or recorder is None:
        raise RuntimeError("the Runtime has not been started: it has no store")
    with _SHARED_LOCK:
        reads = _SHARED.get(runtime)
        if reads is None:
            reads = _SHARED[runtime] = SharedReads(store.cursor, lambda: recorder.status().flushes)
        return reads


def read(runtime: Runtime, query: Query[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``query(cursor, *args, **kwargs)`` on ``runtime``'s database, shared by every session (:meth:`SharedReads.read`)."""
    return shared_reads(runtime).read(query, *args, **kwargs)


def shared(runtime: Runtime, build: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``build(*args, **kwargs)``, built once per tick for every session of ``runtime`` and shared as it is, not
    copied (:meth:`SharedReads.shared`)."""
    return shared_reads(runtime).shared(build, *args, **kwargs)


def tick_now(*, ttl_s: float = TTL_S, clock: Callable[[], float] = time.time) -> datetime:
    """The wall time (aware UTC) rounded down to a multiple of ``ttl_s``: the same value for every session within one
    tick, so a read that takes the time as an argument is shared too."""
    now = clock()
    return datetime.fromtimestamp(now - now % ttl_s if ttl_s > 0 else now, tz=UTC)
