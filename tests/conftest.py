"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from storage.store import Store


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
