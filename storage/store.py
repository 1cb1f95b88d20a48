"""The DuckDB database: one file, one connection per process, one cursor per thread.

DuckDB allows a single process to open a file read-write, and while it does, no other process can open it at all
(not even read-only). Inside that process, threads share the one connection through cursors: each thread calls
:meth:`Store.cursor` once and keeps its cursor (a DuckDB cursor must not be used by two threads at the same time).
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from types import TracebackType

import duckdb

from storage.errors import SchemaVersionError, StoreClosedError, StoreError, StoreLockedError
from storage.schema import SCHEMA_VERSION, current_version, migrate

log = logging.getLogger(__name__)

MEMORY = ":memory:"
"""Pass as ``path`` for a private in-memory database (tests); it vanishes on :meth:`Store.close`."""

_PID = re.compile(r"\(PID (\d+)\)")


class Store:
    """An open papertrader database.

    Args:
        path: the DuckDB file (its parent directory is created), or ``":memory:"``.
        read_only: open without writing; no migration runs. The file must exist and no process may hold it.

    Every cursor the Store hands out uses the ``UTC`` session time zone, so ``TIMESTAMPTZ`` values come back
    as UTC and SQL date functions cut days at 00:00 UTC.

    Raises:
        StoreLockedError: another process holds the file.
        SchemaVersionError: the file was written by a newer papertrader.
        StoreError: any other failure to open (missing file in read-only mode, not a DuckDB file, permissions ...).
    """

    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        self._memory = str(path) == MEMORY
        if self._memory and read_only:
            raise ValueError("an in-memory database cannot be opened read-only")
        self._path = Path(path) if not self._memory else None
        self._read_only = read_only
        self._lock = threading.Lock()
        self._closed = False
        if self._path is not None and not read_only:
            self._path.parent.mkdir(parents=True, exist_ok=True)
        target = MEMORY if self._path is None else str(self._path)
        try:
            self._con = duckdb.connect(target, read_only=read_only)
        except duckdb.Error as exc:
            raise _translate_open_error(exc, target) from exc
        try:
            self._con.execute("SET TimeZone = 'UTC'")
            self._version = current_version(self._con) if read_only else migrate(self._con)
            if self._version > SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"{target} has schema version {self._version}, newer than this papertrader ({SCHEMA_VERSION})",
                    found=self._version,
                    supported=SCHEMA_VERSION,
                )
        except SchemaVersionError:
            self._con.close()
            raise
        except duckdb.Error as exc:
            self._con.close()
            raise StoreError(f"could not prepare the database {target}: {exc}") from exc

    @property
    def path(self) -> Path | None:
        """The database file, or ``None`` for an in-memory database."""
        return self._path

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def schema_version(self) -> int:
        """The schema version of the open file (``SCHEMA_VERSION`` after a read-write open)."""
        return self._version

    @property
    def closed(self) -> bool:
        return self._closed

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor for the calling thread: keep one per thread, never share one between threads.

        Cursors see every committed write of the process; they die with :meth:`close`.

        Raises:
            StoreClosedError: the Store is closed.
        """
        with self._lock:
            if self._closed:
                raise StoreClosedError("the store is closed")
            cur = self._con.cursor()
        cur.execute("SET TimeZone = 'UTC'")
        return cur

    def close(self) -> None:
        """Checkpoint (read-write) and close the file, releasing the process lock. Idempotent.

        Stop the :class:`~storage.recorder.Recorder` first: its unflushed rows are not written by this.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if not self._read_only and not self._memory:
                    self._con.execute("CHECKPOINT")
            except duckdb.Error:
                log.exception("checkpoint on close failed; the write-ahead log is replayed on the next open")
            finally:
                self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("read-only" if self._read_only else "read-write")
        return f"Store({str(self._path) if self._path else MEMORY!r}, {state})"


def _translate_open_error(exc: duckdb.Error, target: str) -> StoreError:
    message = str(exc)
    if "lock" in message.lower():
        match = _PID.search(message)
        pid = int(match.group(1)) if match else None
        holder = f"process {pid}" if pid else "another process"
        return StoreLockedError(
            f"{target} is held by {holder}: DuckDB lets one process open a database file at a time. "
            "Stop that process (or use the dashboard it serves), then retry.",
            path=target,
            holder_pid=pid,
        )
    return StoreError(f"could not open the database {target}: {message}")
