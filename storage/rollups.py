"""Level-of-detail rollups: per time bucket, the first, last and extreme rows of a long series, so that a chart over
millions of rows reads a few thousand (``docs/schema.md``, schema v5).

=================  ==========  ==============  ================  ===========================================
rollup table       summarises  series          time, extremes    each kept row carries
=================  ==========  ==============  ================  ===========================================
``equity_rollup``  ``equity``  the account     ``ts``; lowest,   ``ts``, ``recorded_at``, ``equity``,
                                               highest           ``realised_pnl``, ``unrealised_pnl``,
                                               ``equity``,       ``drawdown_pct``, ``day_start_equity``
                                               deepest
                                               ``drawdown_pct``
``candle_rollup``  ``candles`` per ``symbol``  ``close_time``;   ``close_time``, ``recorded_at``, ``close``
                                               lowest, highest
                                               ``close``
=================  ==========  ==============  ================  ===========================================

One row per series, level and bucket: ``width_s`` is one of :data:`LEVELS_S` (10 minutes, 1 hour, 6 hours) and
``bucket_start`` a multiple of it since the Unix epoch, so a bucket of a coarser level, or a UTC day, is a whole
number of buckets of a finer one. ``first``/``last`` are the bucket's earliest/latest row by (time, ``recorded_at``);
each :class:`Extreme` is its lowest or highest row by (column, time, ``recorded_at``). These are total orders,
``recorded_at`` being unique per table, so merging the summaries of two sets of rows gives exactly the summary of
their union.

**Summarised rows and the tail.** A rollup summarises exactly the source rows with ``recorded_at`` up to its
``max_recorded_at`` (the latest over its buckets, :meth:`Rollup.through_sql`); the later rows are its *tail*, which
readers merge with the rollup as they go (:mod:`storage.downsample`). The :class:`~storage.recorder.Recorder`, whose
``recorded_at`` stamps only increase, folds the tail into the rollup (:meth:`Rollup.merge_sql`) inside the flush
that makes it :data:`SUMMARISE_EVERY_ROWS` long, in that flush's transaction: rollup and rows are always consistent,
and a fold of thousands of rows costs far less per row than folding each flush's few (a fold costs ≈ 12 ms plus
≈ 1.5 µs per row at 10 M rows). :func:`rebuild` summarises every row again: after the migration to v5
(:func:`storage.schema.migrate`), and for rows written by other means with earlier ``recorded_at`` than the rollup's
(a benchmark's bulk ``INSERT``).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

LEVELS_S = (600, 3_600, 21_600)
"""Bucket widths kept, in seconds, finest first: 10 minutes, 1 hour and 6 hours (each a divisor of the next and of a
UTC day). Six times apart, so a chart reads at most about 12 rollup rows per bucket it draws."""

SUMMARISE_EVERY_ROWS = 50_000
"""The Recorder folds a rollup's tail in once it is this many rows long: readers merge at most about this many raw
rows (a few milliseconds), the Recorder folds rarely."""


@dataclass(frozen=True, slots=True)
class Extreme:
    """A row each bucket keeps for ``column``: its lowest (ties: the earliest) or highest (ties: the latest) by
    (``column``, time, ``recorded_at``). ``name`` is the rollup column holding it."""

    name: str
    column: str
    highest: bool

    @property
    def pick(self) -> str:
        """The DuckDB aggregate choosing it."""
        return "arg_max" if self.highest else "arg_min"


@dataclass(frozen=True, slots=True)
class Rollup:
    """One rollup table over one history table (names are trusted SQL identifiers).

    Attributes:
        name: the rollup table.
        source: the history table it summarises.
        series: the column that splits ``source`` into separate series (``symbol``), or ``None`` for one series.
        time: the market-time column rows are bucketed by.
        extremes: the extreme rows each bucket keeps.
        fields: the columns each kept row carries, ``time``, ``recorded_at`` and every extreme's column among them.
    """

    name: str
    source: str
    series: str | None
    time: str
    extremes: tuple[Extreme, ...]
    fields: tuple[str, ...]

    @property
    def keys(self) -> str:
        """The primary key columns: series (if any), ``width_s``, ``bucket_start``."""
        return ", ".join(([self.series] if self.series else []) + ["width_s", "bucket_start"])

    @property
    def snapshot(self) -> str:
        """SQL of a source row as the struct a rollup keeps."""
        return "{" + ", ".join(f"'{f}': {f}" for f in self.fields) + "}"

    def time_key(self, row: str = "") -> str:
        """SQL of the (time, ``recorded_at``) order key of a source row, or of the kept row ``row`` (a struct)."""
        return _key(row, self.time, "recorded_at")

    def value_key(self, extreme: Extreme, row: str = "") -> str:
        """SQL of the (column, time, ``recorded_at``) order key of ``extreme``, as :meth:`time_key`."""
        return _key(row, extreme.column, self.time, "recorded_at")

    def through_sql(self) -> str:
        """A scalar query: the ``recorded_at`` up to which source rows are summarised (NULL before any)."""
        return f"SELECT max(max_recorded_at) FROM {self.name} WHERE width_s = {LEVELS_S[-1]}"

    def tail_sql(self) -> str:
        """A query of the source rows not summarised yet (every column). DuckDB prunes the scan to the last row
        groups with the subquery's value (a dynamic filter on ``recorded_at``, which grows with the row order)."""
        return (
            f"SELECT * FROM {self.source} "
            f"WHERE recorded_at > coalesce(({self.through_sql()}), '-infinity'::TIMESTAMPTZ)"
        )

    def summary_sql(self, rows: str) -> str:
        """A ``WITH`` clause whose ``fresh`` summarises the rows of the query ``rows`` (the source's columns) at every
        level: one row per series, level and bucket, in the rollup table's columns. The finest level is computed from
        the rows, each coarser one from it (a coarser bucket is a whole number of finer ones)."""
        series = f"{self.series}, " if self.series else ""
        extremes = "".join(f", {e.pick}(s, {self.value_key(e)}) AS {e.name}" for e in self.extremes)
        coarser = " UNION ALL ".join(
            f"SELECT {series}{w} AS width_s, {_bucket('epoch_us(bucket_start)', w)} AS bucket_start, {self._merged()} "
            "FROM fine GROUP BY ALL"
            for w in LEVELS_S[1:]
        )
        return f"""
            WITH fine AS (
                SELECT {series}{LEVELS_S[0]} AS width_s, {_bucket(f'epoch_us({self.time})', LEVELS_S[0])} AS bucket_start,
                       count(*) AS row_count, max(recorded_at) AS max_recorded_at,
                       arg_min(s, {self.time_key()}) AS first, arg_max(s, {self.time_key()}) AS last{extremes}
                FROM (SELECT *, {self.snapshot} AS s FROM ({rows}))
                GROUP BY ALL
            ),
            fresh AS (SELECT * FROM fine UNION ALL BY NAME {coarser})
        """

    def build_sql(self) -> str:
        """Fill the (empty) rollup table from every row of the source table."""
        return f"{self.summary_sql(f'SELECT * FROM {self.source}')} INSERT INTO {self.name} BY NAME SELECT * FROM fresh;"

    def merge_sql(self) -> str:
        """Fold the tail into the rollup: each bucket it touches is replaced by the merge of its stored summary and
        the tail's."""
        return f"""
            {self.summary_sql(self.tail_sql())}
            INSERT OR REPLACE INTO {self.name} BY NAME
            SELECT {self.keys}, {self._merged()}
            FROM (SELECT * FROM fresh UNION ALL BY NAME SELECT * FROM {self.name} SEMI JOIN fresh USING ({self.keys}))
            GROUP BY {self.keys}
        """

    def _merged(self) -> str:
        """The aggregates merging summaries of disjoint rows into one."""
        extremes = "".join(f", {e.pick}({e.name}, {self.value_key(e, e.name)}) AS {e.name}" for e in self.extremes)
        return (
            "sum(row_count) AS row_count, max(max_recorded_at) AS max_recorded_at, "
            f"arg_min(first, {self.time_key('first')}) AS first, arg_max(last, {self.time_key('last')}) AS last"
            f"{extremes}"
        )


def _key(row: str, *columns: str) -> str:
    """SQL of a sort key ordering rows by ``columns`` (of the struct ``row`` unless empty) as ``ORDER BY`` does: a
    blob, compared faster than a tuple."""
    prefix = f"{row}." if row else ""
    return "create_sort_key(" + ", ".join(f"{prefix}{c}, 'ASC NULLS LAST'" for c in columns) + ")"


def _bucket(at_us: str, width_s: int) -> str:
    """SQL of the start of the ``width_s`` bucket holding ``at_us`` (Unix microseconds; floored, before 1970 too)."""
    width_us = width_s * 1_000_000
    return f"make_timestamptz({at_us} - (({at_us}) % {width_us} + {width_us}) % {width_us})"


EQUITY = Rollup(
    name="equity_rollup",
    source="equity",
    series=None,
    time="ts",
    extremes=(
        Extreme("low", "equity", highest=False),
        Extreme("high", "equity", highest=True),
        Extreme("deepest", "drawdown_pct", highest=True),  # the drawdown chart's dip (not always the lowest equity)
    ),
    fields=("ts", "recorded_at", "equity", "realised_pnl", "unrealised_pnl", "drawdown_pct", "day_start_equity"),
)
CANDLES = Rollup(
    name="candle_rollup",
    source="candles",
    series="symbol",
    time="close_time",
    extremes=(Extreme("low", "close", highest=False), Extreme("high", "close", highest=True)),
    fields=("close_time", "recorded_at", "close"),
)
ROLLUPS = (EQUITY, CANDLES)


def rebuild(cur: duckdb.DuckDBPyConnection) -> None:
    """Summarise every row of every rollup's source again, in one transaction.

    Raises:
        duckdb.Error: the rollup tables are missing (schema before v5) or the statement failed (rolled back).
    """
    cur.execute("BEGIN TRANSACTION")
    try:
        for rollup in ROLLUPS:
            cur.execute(f"DELETE FROM {rollup.name}")
            cur.execute(rollup.build_sql())
        cur.execute("COMMIT")
    except BaseException:
        cur.execute("ROLLBACK")
        raise
