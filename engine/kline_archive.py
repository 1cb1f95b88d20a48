"""Binance's public kline archive (https://data.binance.vision): the files that cover a range of months, downloaded,
resumed and verified (``papertrader data fetch``).

Layout (binance/binance-public-data, README "Klines" and ``python/utility.py``)::

    <archive>/data/spot/monthly/klines/<SYMBOL>/<interval>/<SYMBOL>-<interval>-<YYYY>-<MM>.zip
    <archive>/data/spot/daily/klines/<SYMBOL>/<interval>/<SYMBOL>-<interval>-<YYYY>-<MM>-<DD>.zip

A monthly file is published early in the next month, a daily one the next day. Each zip holds one CSV of 12 columns
(read by :mod:`simulator.klines_files`; times in microseconds from 2025-01-01) and has a ``<file>.CHECKSUM`` beside it
holding ``sha256sum``'s line for it: ``<64 hex digits>  <file name>``. Intervals: :data:`ARCHIVE_INTERVALS`, where
``1mo`` is the archive's name for ``1M`` (for case-insensitive file systems).

Which files (:meth:`KlineArchive.fetch_month`): a month before the current one (UTC) is its monthly file, or, when that
is not published (yet), its daily files; the current month is its daily files from the 1st to yesterday.

One file (:meth:`KlineArchive.fetch`): its CHECKSUM first (HTTP 404: the file is not in the archive); a file already
in the directory whose SHA-256 matches is kept as it is. Otherwise it is written to ``<name>.part``, continued with an
HTTP ``Range`` request after an interrupted attempt (of this run or an earlier one), then verified, and only then
renamed to its name, its CHECKSUM written beside it. So a file of the directory under an archive name has been
verified; a download that does not match is deleted (:class:`~engine.errors.ChecksumMismatch`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from engine.errors import ArchiveError, ChecksumMismatch
from engine.guards.backoff import Backoff

log = logging.getLogger(__name__)

ARCHIVE_URL = "https://data.binance.vision"
ARCHIVE_INTERVALS = ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1mo")
"""The kline intervals of the spot archive (binance/binance-public-data README, "Klines")."""
_ALIASES = {"1M": "1mo"}
_CHECKSUM_LINE = re.compile(r"([0-9a-fA-F]{64}) [ *](\S+)")
"""``sha256sum``'s output: the digest, a space, a space (text mode) or ``*`` (binary mode), the file name."""
_RETRIED_STATUS = frozenset({429, 500, 502, 503, 504})
DOWNLOAD_BACKOFF = Backoff(base_s=1.0, cap_s=30.0)
"""Between tries of one request: 1 s × 2^n, capped at 30 s, ± 25 % (the REST retry's, SPEC §3.4)."""


def archive_interval(interval: str) -> str:
    """The archive's name of the kline ``interval`` (``"1M"`` → ``"1mo"``; the others are Binance's own names).

    Raises:
        ValueError: not an interval of the archive; the message lists them.
    """
    name = _ALIASES.get(interval, interval)
    if name not in ARCHIVE_INTERVALS:
        raise ValueError(f"unknown kline interval {interval!r}; the archive has {', '.join(ARCHIVE_INTERVALS)}")
    return name


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    """One kline file of the archive: ``period`` is ``YYYY-MM`` (a monthly file) or ``YYYY-MM-DD`` (a daily one),
    ``interval`` the archive's name (:func:`archive_interval`)."""

    symbol: str
    interval: str
    period: str

    @classmethod
    def monthly(cls, symbol: str, interval: str, month: date) -> ArchiveFile:
        return cls(symbol, interval, f"{month:%Y-%m}")

    @classmethod
    def daily(cls, symbol: str, interval: str, day: date) -> ArchiveFile:
        return cls(symbol, interval, f"{day:%Y-%m-%d}")

    @property
    def name(self) -> str:
        """``<SYMBOL>-<interval>-<period>.zip``."""
        return f"{self.symbol}-{self.interval}-{self.period}.zip"

    @property
    def path(self) -> str:
        """The file's path under the archive's base URL."""
        frequency = "daily" if len(self.period) == len("YYYY-MM-DD") else "monthly"
        return f"data/spot/{frequency}/klines/{self.symbol}/{self.interval}/{self.name}"


def month_range(first: date, last: date) -> list[date]:
    """The first days of the months from ``first``'s to ``last``'s, both included (empty when ``last`` is earlier)."""
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


class Outcome(StrEnum):
    DOWNLOADED = "downloaded"
    UP_TO_DATE = "up to date"
    MISSING = "not in the archive"


@dataclass(frozen=True, slots=True)
class Fetched:
    """What :meth:`KlineArchive.fetch` did with one file.

    Attributes:
        file: the file.
        outcome: downloaded (and verified), already there and matching its CHECKSUM, or not in the archive.
        size_bytes: the file's size on disk (0 when missing).
        resumed_from_bytes: bytes of an earlier, interrupted download that this one continued (0: none).
    """

    file: ArchiveFile
    outcome: Outcome
    size_bytes: int = 0
    resumed_from_bytes: int = 0


class ProgressBar(Protocol):
    """A progress bar (``tqdm`` is one): ``update(n)`` after ``n`` more bytes, ``close()`` at the end."""

    def update(self, n: int) -> object: ...

    def close(self) -> None: ...


ProgressFactory = Callable[[str, "int | None", int], ProgressBar]
"""``progress(file name, total bytes or None when unknown, bytes already on disk)``: a bar for one download."""


class KlineArchive:
    """Downloads kline files of the archive at ``base_url`` into a directory (see the module docstring).

    Args:
        client: the HTTP client (redirects followed, a timeout set); the caller closes it.
        base_url: the archive, :data:`ARCHIVE_URL` by default (a mirror, or a test server).
        attempts: tries per request: a connection error, an interrupted body, HTTP 429 or 5xx is tried again (a
            download continuing where it stopped) after the next delay of ``backoff``.
        backoff: the delays between tries, seconds; ``sleep`` waits them.
        progress: makes a bar per download; ``None``: no bars.
    """

    def __init__(
        self,
        client: httpx.Client,
        *,
        base_url: str = ARCHIVE_URL,
        attempts: int = 5,
        backoff: Backoff = DOWNLOAD_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
        progress: ProgressFactory | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {attempts}")
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._attempts = attempts
        self._backoff = backoff
        self._sleep = sleep
        self._progress = progress

    def fetch_month(self, symbol: str, interval: str, month: date, directory: Path, *, today: date) -> list[Fetched]:
        """The files of ``symbol``'s ``interval`` klines for ``month`` (its first day) as of ``today`` (UTC), fetched
        into ``directory``: the monthly file of a past month, or its daily files when the monthly one is not in
        the archive; the daily files before ``today`` of the current month.

        Raises:
            ValueError: ``month`` is after ``today``'s month.
            ArchiveError: as :meth:`fetch` (the files fetched before it stay).
        """
        current = today.replace(day=1)
        month = month.replace(day=1)
        if month > current:
            raise ValueError(f"{month:%Y-%m} has not begun yet (today is {today.isoformat()})")
        if month < current:
            fetched = self.fetch(ArchiveFile.monthly(symbol, interval, month), directory)
            if fetched.outcome is not Outcome.MISSING:
                return [fetched]
        days = [month + timedelta(days=d) for d in range(31)]
        return [
            self.fetch(ArchiveFile.daily(symbol, interval, day), directory)
            for day in days
            if day.month == month.month and day < today
        ]

    def fetch(self, file: ArchiveFile, directory: Path) -> Fetched:
        """Make sure ``directory`` holds ``file``, verified against its CHECKSUM (module docstring).

        Raises:
            ChecksumMismatch: the downloaded file's SHA-256 is not the CHECKSUM's (also after downloading it once
                more from the start, when the first try had continued an earlier one); it was deleted.
            ArchiveError: the CHECKSUM is malformed or names another file, the file is missing while its CHECKSUM
                is not, the server answers another HTTP error, or every attempt failed (the message says why).
            OSError: ``directory`` cannot be written.
        """
        url = f"{self._base_url}/{file.path}"
        checksum_text = self._checksum(url, file)
        if checksum_text is None:
            return Fetched(file, Outcome.MISSING)
        expected = _parse_checksum(checksum_text, file)
        directory.mkdir(parents=True, exist_ok=True)
        target, part = directory / file.name, directory / f"{file.name}.part"
        checksum_path = directory / f"{file.name}.CHECKSUM"
        if target.is_file():
            if _sha256(target) == expected:
                if not checksum_path.is_file():
                    checksum_path.write_text(checksum_text, encoding="ascii")
                return Fetched(file, Outcome.UP_TO_DATE, target.stat().st_size)
            log.warning("%s does not match its CHECKSUM (changed in the archive, or damaged): downloading it again", target)
            target.unlink()
        resumed = part.stat().st_size if part.is_file() else 0
        self._download(url, part, file)
        actual = _sha256(part)
        if actual != expected and resumed:
            log.warning("%s: the continued download does not match its CHECKSUM; downloading it from the start", file.name)
            part.unlink()
            self._download(url, part, file)
            actual = _sha256(part)
        if actual != expected:
            part.unlink()
            raise ChecksumMismatch(
                f"{file.name}: SHA-256 {actual} does not match its CHECKSUM ({expected}); the download was deleted",
                expected=expected,
                actual=actual,
            )
        checksum_path.write_text(checksum_text, encoding="ascii")
        os.replace(part, target)
        return Fetched(file, Outcome.DOWNLOADED, target.stat().st_size, resumed)

    def _checksum(self, url: str, file: ArchiveFile) -> str | None:
        """The text of ``file``'s CHECKSUM, ``None`` when the archive has none (404)."""
        checksum_url = f"{url}.CHECKSUM"
        for attempt in self._tries(checksum_url):
            with attempt:
                response = self._client.get(checksum_url)
                if response.status_code == 404:
                    return None
                _raise_for_status(response, checksum_url)
                try:
                    return response.content.decode("ascii")
                except UnicodeDecodeError:
                    raise ArchiveError(f"{checksum_url}: not a CHECKSUM file (not ASCII text)") from None
        raise AssertionError("unreachable: the last failed try raises")

    def _download(self, url: str, part: Path, file: ArchiveFile) -> None:
        """Write ``url`` to ``part``, continuing what ``part`` already holds (each try continues the one before)."""
        for attempt in self._tries(url):
            with attempt:
                self._download_once(url, part, file)

    def _download_once(self, url: str, part: Path, file: ArchiveFile) -> None:
        offset = part.stat().st_size if part.is_file() else 0
        headers = {"Accept-Encoding": "identity"}  # the bytes of the file itself: what the CHECKSUM and a Range count
        if offset:
            headers["Range"] = f"bytes={offset}-"
        with self._client.stream("GET", url, headers=headers) as response:
            if response.status_code == 416 and offset:  # Range Not Satisfiable: the part is the whole file already
                return
            if response.status_code == 404:
                raise ArchiveError(f"{file.name}: the archive has its CHECKSUM but not the file ({url}: HTTP 404)")
            _raise_for_status(response, url)
            append = response.status_code == 206
            total = _total_bytes(response, url, offset if append else 0)
            bar = self._progress(file.name, total, offset if append else 0) if self._progress is not None else None
            try:
                with part.open("ab" if append else "wb") as out:
                    for chunk in response.iter_raw():  # as it arrives: a cut-off body keeps what came
                        out.write(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
            finally:
                if bar is not None:
                    bar.close()

    def _tries(self, url: str) -> Retrying:
        """Up to ``attempts`` tries of a request to ``url`` (tenacity: ``for attempt in ...: with attempt: ...``): a
        transport error (connection refused or reset, timeout, a body cut short) or :class:`_Retry` (429, 5xx) ends a
        try and, after the next delay, starts another; after the last, :class:`ArchiveError` says why. Anything else
        propagates at once."""
        delays = self._backoff.delays()

        def give_up(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome is not None else None
            why = str(exc) if isinstance(exc, _Retry) else f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise ArchiveError(f"{url}: {why} ({state.attempt_number} attempts)") from exc

        return Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=lambda _state: next(delays),
            retry=retry_if_exception_type((httpx.TransportError, _Retry)),
            sleep=self._sleep,
            before_sleep=lambda state: log.info("%s: %s; trying again", url, state.outcome.exception() if state.outcome else ""),
            retry_error_callback=give_up,
        )


class _Retry(Exception):
    """An answer worth another try (HTTP 429 or 5xx)."""


def _raise_for_status(response: httpx.Response, url: str) -> None:
    """Nothing for 200 and 206; :class:`_Retry` for 429 and 5xx; :class:`ArchiveError` for anything else."""
    status = response.status_code
    if status in (200, 206):
        return
    if status in _RETRIED_STATUS:
        raise _Retry(f"HTTP {status}")
    raise ArchiveError(f"{url}: HTTP {status}")


def _total_bytes(response: httpx.Response, url: str, offset: int) -> int | None:
    """The whole file's size from a 206's ``Content-Range: bytes <offset>-<last>/<total>`` (which must start at
    ``offset``) or a 200's ``Content-Length``; ``None`` when the answer does not say."""
    if response.status_code == 206:
        content_range = response.headers.get("content-range", "")
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", content_range)
        if match is None or int(match[1]) != offset:
            raise ArchiveError(f"{url}: asked for the bytes from {offset} on, the server sent {content_range!r}")
        return None if match[3] == "*" else int(match[3])
    length = response.headers.get("content-length")
    return int(length) if length is not None and length.isdigit() else None


def _parse_checksum(text: str, file: ArchiveFile) -> str:
    """The lower-case hex digest of ``text``, a CHECKSUM file's content that must name ``file``.

    Raises:
        ArchiveError: not ``<64 hex digits>  <name>``, or the name is another file's.
    """
    match = _CHECKSUM_LINE.fullmatch(text.strip())
    if match is None:
        raise ArchiveError(f"{file.name}.CHECKSUM: expected '<SHA-256 in hex>  {file.name}', got {text.strip()[:100]!r}")
    if match[2] != file.name:
        raise ArchiveError(f"{file.name}.CHECKSUM names {match[2]!r}, not {file.name!r}")
    return match[1].lower()


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
