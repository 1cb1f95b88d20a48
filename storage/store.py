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

from storage.errors import (
    NotAPapertraderDatabase,
    SchemaVersionError,
    StoreClosedError,
    StoreError,
    StoreLockedError,
)
from storage.schema import MIGRATIONS, SCHEMA_VERSION, current_version, migrate

log = logging.getLogger(__name__)

MEMORY = ":memory:"
"""Pass as ``path`` for a private in-memory database (tests); it vanishes on :meth:`Store.close`."""

_PID = re.compile(r"\(PID (\d+)\)")
_CREATE_TABLE = re.compile(r"CREATE TABLE (\w+)")

DUCKDB_MAGIC = b"DUCK"
"""The magic bytes of a DuckDB file, at offset 8 (after the header's 8-byte checksum; DuckDB "Storage" docs)."""
_MAGIC_AT = 8


class Store:
    """An open papertrader database.

    Args:
        path: the DuckDB file (its parent directory is created), or ``":memory:"``.
        read_only: open without writing; no migration runs. The file must exist and no process may hold it.
        threads: DuckDB's worker threads (its ``threads`` setting); ``None``: DuckDB's default, one per core.

    Every cursor the Store hands out uses the ``UTC`` session time zone, so ``TIMESTAMPTZ`` values come back
    as UTC and SQL date functions cut days at 00:00 UTC.

    Raises:
        StoreLockedError: another process holds the file.
        SchemaVersionError: the file was written by a newer papertrader.
        NotAPapertraderDatabase: the file exists but is not a papertrader database: empty, not DuckDB, damaged or
            truncated, or a DuckDB database of another program (tables but no papertrader ``schema_version``).
            Nothing was written to it.
        StoreError: any other failure to open (missing file in read-only mode, permissions ...).

    A new file, or an existing DuckDB file holding no table at all, becomes a papertrader database (read-write).
    """

    def __init__(self, path: Path | str, *, read_only: bool = False, threads: int | None = None) -> None:
        self._memory = str(path) == MEMORY
        if self._memory and read_only:
            raise ValueError("an in-memory database cannot be opened read-only")
        self._path = Path(path) if not self._memory else None
        self._read_only = read_only
        self._lock = threading.Lock()
        self._closed = False
        target = MEMORY if self._path is None else str(self._path)
        if self._path is not None and self._path.exists():
            # An existing file is vetted before anything may write to it (a read-write open of someone else's
            # file would migrate papertrader's tables into it): first its header, then its tables over a read-only
            # connection, which leaves the file as it is.
            _check_header(self._path)
            if not read_only:
                _probe(target)
        if self._path is not None and not read_only:
            self._path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(target, read_only=read_only, config={} if threads is None else {"threads": threads})
        except duckdb.Error as exc:
            raise _translate_open_error(exc, target) from exc
        try:
            self._con.execute("SET TimeZone = 'UTC'")
            if read_only:
                self._version = _papertrader_version(self._con, target)
            else:
                self._version = migrate(self._con)
            if self._version > SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"{target} has schema version {self._version}, newer than this papertrader ({SCHEMA_VERSION})",
                    found=self._version,
                    supported=SCHEMA_VERSION,
                )
        except StoreError:
            self._con.close()
            raise
        except duckdb.Error as exc:
            self._con.close()
            raise StoreError(f"could not prepare the database {target}: {_first_line(exc)}") from exc

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
    if "not a valid DuckDB database file" in message:
        return NotAPapertraderDatabase(target, "not a DuckDB file")
    if "Could not read enough bytes" in message:
        return NotAPapertraderDatabase(target, "damaged or truncated DuckDB file")
    return StoreError(f"could not open the database {target}: {_first_line(exc)}")


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message (DuckDB appends hints and links on further lines)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _check_header(path: Path) -> None:
    """Refuse an existing ``path`` that cannot be a DuckDB file, before DuckDB opens it.

    Raises:
        NotAPapertraderDatabase: a directory, an empty (0-byte) file, or no DuckDB magic bytes.
        StoreError: the file cannot be read (permissions ...).
    """
    if path.is_dir():
        raise NotAPapertraderDatabase(path, "a directory")
    try:
        with path.open("rb") as file:
            head = file.read(_MAGIC_AT + len(DUCKDB_MAGIC))
    except OSError as exc:
        raise StoreError(f"could not read the database {path}: {exc.strerror or exc}") from exc
    if not head:
        raise NotAPapertraderDatabase(path, "empty file")
    if head[_MAGIC_AT:] != DUCKDB_MAGIC:
        raise NotAPapertraderDatabase(path, "not a DuckDB file")


def _probe(target: str) -> None:
    """Open the existing file read-only and check it is papertrader's (or holds no table at all); close it.

    Raises:
        StoreLockedError: another process holds the file.
        NotAPapertraderDatabase: damaged, truncated, or another program's DuckDB database.
        StoreError: any other failure to open or read it.
    """
    try:
        con = duckdb.connect(target, read_only=True)
    except duckdb.Error as exc:
        raise _translate_open_error(exc, target) from exc
    try:
        _papertrader_version(con, target)
    except duckdb.Error as exc:
        raise StoreError(f"could not read the database {target}: {_first_line(exc)}") from exc
    finally:
        con.close()


def _papertrader_version(con: duckdb.DuckDBPyConnection, target: str) -> int:
    """The papertrader schema version of an open database, 0 when it holds no table at all (a new file).

    A papertrader database has the ``schema_version`` table (``version``, ``applied_at``) and every table the
    migrations up to its version create. Only reads, so it works on a read-only connection.

    Raises:
        NotAPapertraderDatabase: tables without papertrader's ``schema_version``, or a ``schema_version`` that is
            not papertrader's.
        SchemaVersionError: the version is newer than this papertrader.
    """
    tables = {
        name
        for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database()"
        ).fetchall()
    }
    if "schema_version" not in tables:
        if not tables:
            return 0
        count = f"{len(tables)} table{'s' if len(tables) != 1 else ''}"
        raise NotAPapertraderDatabase(target, f"a DuckDB database with {count} and no papertrader schema_version")
    columns = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_catalog = current_database() "
        "AND table_schema = 'main' AND table_name = 'schema_version' ORDER BY ordinal_position"
    ).fetchall()
    if columns != [("version",), ("applied_at",)]:
        raise NotAPapertraderDatabase(target, "its schema_version table is not papertrader's")
    version = current_version(con)
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{target} has schema version {version}, newer than this papertrader ({SCHEMA_VERSION})",
            found=version,
            supported=SCHEMA_VERSION,
        )
    expected = {name for migration in MIGRATIONS[:version] for name in _CREATE_TABLE.findall(migration)}
    missing = sorted(expected - tables)
    if version == 0:
        raise NotAPapertraderDatabase(target, "its schema_version table records no version")
    if missing:
        raise NotAPapertraderDatabase(target, f"schema version {version} but no table {', '.join(missing)}")
    return version
