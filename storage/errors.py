"""Exceptions raised by :mod:`storage` for broken infrastructure (files, locks, writes).

Programming errors (an unknown table, a misspelt column, a float where a Decimal belongs) raise ``ValueError``
at the call site instead: they are bugs to fix, not conditions to handle.

::

    StoreError                    any storage failure; duckdb's exception is chained as ``__cause__``
    ├── StoreLockedError          another process holds the database file (DuckDB: one read-write process per file)
    ├── SchemaVersionError        the file was written by a newer papertrader
    ├── NotAPapertraderDatabase   the file is not a papertrader database (not DuckDB, empty, damaged, another
    │                             program's DuckDB); it was refused before anything was written
    ├── StoreClosedError          the Store or the Recorder was closed/stopped and cannot be used any more
    └── FlushError                a Recorder flush failed; its rows are kept and retried by the next flush
"""

from __future__ import annotations

from pathlib import Path


class StoreError(Exception):
    """Base class of every storage failure."""


class StoreLockedError(StoreError):
    """Another process holds the DuckDB file, so it cannot be opened (read-write or read-only)."""

    def __init__(self, message: str, *, path: Path | str, holder_pid: int | None = None) -> None:
        super().__init__(message)
        self.path = Path(path)
        self.holder_pid = holder_pid


class SchemaVersionError(StoreError):
    """The database schema is newer than this papertrader understands."""

    def __init__(self, message: str, *, found: int, supported: int) -> None:
        super().__init__(message)
        self.found = found
        self.supported = supported


class NotAPapertraderDatabase(StoreError):
    """The file is not a papertrader database, so it was not opened for writing and is left byte-for-byte unchanged.

    ``reason`` is a short phrase such as ``"empty file"``, ``"not a DuckDB file"``, ``"damaged or truncated DuckDB
    file"`` or ``"a DuckDB database of another program: 2 tables, no papertrader schema_version"``.
    """

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(
            f"{path} is not a papertrader database ({reason}); move it away or choose another storage.path"
        )
        self.path = Path(path)
        self.reason = reason


class StoreClosedError(StoreError):
    """The Store or Recorder has been closed/stopped."""


class FlushError(StoreError):
    """A flush could not be written; the rows stay buffered and the next flush retries them."""

    def __init__(self, message: str, *, rows: int) -> None:
        super().__init__(message)
        self.rows = rows
