"""Table export for ``papertrader export``: DuckDB's own ``COPY ... TO`` (CSV with a header, or Parquet)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import duckdb


def table_names(cur: duckdb.DuckDBPyConnection) -> list[str]:
    """The tables of the database, sorted."""
    return [
        row[0]
        for row in cur.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database() AND table_schema = 'main' ORDER BY table_name"
        ).fetchall()
    ]


def export_table(cur: duckdb.DuckDBPyConnection, table: str, out: Path, *, fmt: Literal["csv", "parquet"]) -> int:
    """Write every row of ``table`` (one of :func:`table_names`) to ``out``; returns the row count.

    Raises:
        ValueError: ``table`` is not a table of the database.
    """
    if table not in table_names(cur):
        raise ValueError(f"no table {table!r}")
    options = "FORMAT csv, HEADER true" if fmt == "csv" else "FORMAT parquet"
    target = str(out).replace("'", "''")
    cur.execute(f"COPY (SELECT * FROM \"{table}\") TO '{target}' ({options})")
    row = cur.execute(f'SELECT count(*) FROM "{table}"').fetchone()
    return int(row[0]) if row else 0
