"""Min/max downsampling of a long series for a chart, read from its level-of-detail rollup (:mod:`storage.rollups`).

A series of more rows than a chart takes is cut into at most ``buckets`` equal time buckets; each keeps its extreme
rows (:attr:`Rollup.extremes <storage.rollups.Rollup.extremes>`: the lowest and highest value, and for the equity the
deepest drawdown, so spikes and dips survive), and the series' latest row is always kept. The buckets are aligned to
the rollup's grid (:func:`choose_grid`), so each is a whole number of rollup buckets and its extremes are exactly
the extremes of theirs and of the rollup's tail rows in it: the result is the one the raw rows give on the same
buckets, read from thousands of rollup rows (plus a tail of at most about
:data:`~storage.rollups.SUMMARISE_EVERY_ROWS` rows) instead of millions. Series short enough in time are read from
the raw rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from storage.frames import frame
from storage.rollups import LEVELS_S, Rollup

_US = 1_000_000
LEVEL_SPAN = 2
"""A rollup level is read once a chart bucket would span at least this many of its buckets: rounding the chart bucket
up to a whole number of them then keeps at least 2/3 of the buckets asked for."""


@dataclass(frozen=True, slots=True)
class Grid:
    """Chart buckets ``[origin_us + k * width_us, origin_us + (k + 1) * width_us)`` (Unix microseconds), read from the
    rollup level ``level_s`` (seconds; 0 = the raw rows)."""

    level_s: int
    origin_us: int
    width_us: int


@dataclass(frozen=True, slots=True)
class Extent:
    """A series' row count and the market times of its first and last row (Unix microseconds; ``None`` when empty)."""

    rows: int
    first_us: int | None
    last_us: int | None


def choose_grid(first_us: int, last_us: int, *, buckets: int) -> Grid:
    """The chart buckets for a series spanning ``first_us`` .. ``last_us``: at most ``buckets`` of equal width.

    The width is the span divided by ``buckets``, rounded up to a whole number of buckets of the coarsest rollup level
    it spans at least :data:`LEVEL_SPAN` times (then there are at least 2/3 of ``buckets``), else to a microsecond
    (read from raw rows); the buckets start at the level bucket holding ``first_us``.

    Raises:
        ValueError: ``buckets`` < 1 or ``last_us`` < ``first_us``.
    """
    if buckets < 1 or last_us < first_us:
        raise ValueError(f"need buckets >= 1 and first <= last, got {buckets}, {first_us}, {last_us}")
    span_us = last_us - first_us + 1
    level_s = next((w for w in reversed(LEVELS_S) if span_us >= LEVEL_SPAN * w * _US * buckets), 0)
    step_us = level_s * _US or 1
    origin_us = first_us - first_us % step_us
    width_us = step_us * -(-(last_us - origin_us + 1) // (buckets * step_us))
    return Grid(level_s, origin_us, width_us)


def extent(cur: duckdb.DuckDBPyConnection, rollup: Rollup, series: str | None = None) -> Extent:
    """Row count, first and last market time of a series: from the rollup's coarsest level (a few rows per day)
    and its tail.

    ``series`` names the series of a split rollup (a symbol of ``candle_rollup``); ``None`` for ``equity_rollup``.
    """
    [(rows, first_us, last_us)] = cur.sql(
        f"""
        SELECT coalesce(sum(n), 0), epoch_us(min(first_at)), epoch_us(max(last_at)) FROM (
            SELECT sum(row_count) AS n, min(first.{rollup.time}) AS first_at, max(last.{rollup.time}) AS last_at
            FROM {rollup.name} WHERE width_s = {LEVELS_S[-1]}{_and_series(rollup)}
            UNION ALL
            SELECT count(*), min({rollup.time}), max({rollup.time}) FROM ({rollup.tail_sql()}) WHERE TRUE{_and_series(rollup)}
        )
        """,
        params=_series_param(rollup, series),
    ).fetchall()
    return Extent(int(rows), first_us, last_us)


def chart(
    cur: duckdb.DuckDBPyConnection, rollup: Rollup, *, max_points: int, columns: str, series: str | None = None
) -> pd.DataFrame:
    """A series for a chart, ascending by (time, ``recorded_at``): every row when there are at most ``max_points``,
    else :func:`downsampled` into ``(max_points - 1) // k`` buckets (:func:`choose_grid`), ``k`` being the number of
    extreme rows a bucket keeps (``len(rollup.extremes)``).

    Args:
        columns: the select list over ``s``, a row as the struct the rollup keeps (its ``fields``), e.g.
            ``"s.ts AS ts, s.equity AS equity"`` (trusted SQL).
        series: the series of a split rollup (a symbol); ``None`` for a rollup of one series.

    Raises:
        ValueError: ``max_points`` < ``k`` + 1 (a bucket's extremes and the latest row).
    """
    fewest = len(rollup.extremes) + 1
    if max_points < fewest:
        raise ValueError(f"max_points must be at least {fewest}, got {max_points}")
    span = extent(cur, rollup, series)
    if span.first_us is None or span.last_us is None or span.rows <= max_points:
        return frame(
            cur,
            f"SELECT {columns} FROM (SELECT {rollup.snapshot} AS s FROM {rollup.source} "
            f"WHERE {rollup.time} BETWEEN make_timestamptz($first) AND make_timestamptz($last){_and_series(rollup)}) "
            f"ORDER BY s.{rollup.time}, s.recorded_at",
            _series_param(rollup, series) | {"first": span.first_us, "last": span.last_us},
        )
    grid = choose_grid(span.first_us, span.last_us, buckets=(max_points - 1) // len(rollup.extremes))
    return downsampled(cur, rollup, grid, columns=columns, series=series)


def downsampled(
    cur: duckdb.DuckDBPyConnection, rollup: Rollup, grid: Grid, *, columns: str, series: str | None = None
) -> pd.DataFrame:
    """The extreme rows of each ``grid`` bucket (``rollup.extremes``: e.g. lowest and highest equity, deepest
    drawdown) plus the series' latest row, each once, ascending by (time, ``recorded_at``), as a display frame
    (:func:`storage.frames.frame`). ``columns`` and ``series`` as in :func:`chart`.

    One aggregation over the level's rollup rows and the tail (or the raw rows, for level 0): per chart bucket each
    extreme and the latest row, by the rollup's sort keys."""
    names = [e.name for e in rollup.extremes]
    where = f"WHERE TRUE{_and_series(rollup)}"
    if grid.level_s:
        points = f"""
            SELECT epoch_us(bucket_start) AS at_us, last, {", ".join(names)} FROM {rollup.name}
            WHERE width_s = {grid.level_s}{_and_series(rollup)}
            UNION ALL
            SELECT epoch_us({rollup.time}), s{", s" * len(names)}
            FROM (SELECT *, {rollup.snapshot} AS s FROM ({rollup.tail_sql()}) {where})
        """
    else:
        points = f"""
            SELECT epoch_us({rollup.time}) AS at_us, s AS last{"".join(f", s AS {n}" for n in names)}
            FROM (SELECT {rollup.time}, {rollup.snapshot} AS s FROM {rollup.source} {where})
        """
    picks = "".join(f", {e.pick}({e.name}, {rollup.value_key(e, e.name)}) AS {e.name}" for e in rollup.extremes)
    kept = " UNION ".join(f"SELECT {n} AS s FROM buckets" for n in names)
    return frame(
        cur,
        f"""
        WITH buckets AS (
            SELECT arg_max(last, {rollup.time_key("last")}) AS last{picks} FROM ({points})
            GROUP BY (at_us - $origin) // $width
        )
        SELECT {columns} FROM ({kept} UNION SELECT arg_max(last, {rollup.time_key("last")}) FROM buckets)
        ORDER BY s.{rollup.time}, s.recorded_at
        """,
        _series_param(rollup, series) | {"origin": grid.origin_us, "width": grid.width_us},
    )


def _and_series(rollup: Rollup) -> str:
    return f" AND {rollup.series} = $series" if rollup.series else ""


def _series_param(rollup: Rollup, series: str | None) -> dict[str, Any]:
    return {"series": series} if rollup.series else {}
