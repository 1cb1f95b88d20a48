"""How the dashboard's read queries run: a relation read through Arrow, returned as a DataFrame in UTC.

Shared by :mod:`storage.queries` and :mod:`storage.guard_queries`. Queries run as relations (``cur.sql``) read
through Arrow: nothing is left unfinished on the cursor, and TIMESTAMPTZ values need no ``pytz``. Money is exact
(``DECIMAL``) in the database and ``float`` in these display tables (:func:`display_table`): charts and tiles plot
and format floats.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa


def check_limit(limit: int) -> int:
    """``limit`` itself, for a ``LIMIT $limit`` parameter.

    Raises:
        ValueError: ``limit`` < 1.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    return limit


def arrow_table(cur: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
    """``sql`` (with ``$name`` ``params``) run as a relation on ``cur``, read as an Arrow table."""
    return cur.sql(sql, params=params).to_arrow_table()


def display_table(cur: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
    """:func:`arrow_table` with every ``DECIMAL`` column as ``float64`` (the nearest double, cast by DuckDB: Arrow's
    own cast can land a step off, 9900.3 as 9900.300000000001), for display."""
    relation = cur.sql(sql, params=params)
    quoted = ['"' + name.replace('"', '""') + '"' for name in relation.columns]
    columns = [
        f"{q}::DOUBLE AS {q}" if str(kind).startswith("DECIMAL") else q for q, kind in zip(quoted, relation.types, strict=True)
    ]
    return relation.project(", ".join(columns)).to_arrow_table()


def frame(cur: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
    """``sql`` as a DataFrame for display: every timestamp column converted to UTC (whatever the session time zone),
    every ``DECIMAL`` column as ``float``."""
    result = display_table(cur, sql, params).to_pandas()
    for name in result.columns:
        if isinstance(result[name].dtype, pd.DatetimeTZDtype):
            result[name] = result[name].dt.tz_convert(UTC)
    return result
