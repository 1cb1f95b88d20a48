"""Fetching Binance's public kline archive: against a local server serving archive zips built from real candles
(never the internet); what lands in the directory is read back by the simulator's reader."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from engine.errors import ArchiveError, ChecksumMismatch
from engine.kline_archive import ArchiveFile, KlineArchive, Outcome, archive_interval, month_range
from simulator.klines_files import load_dir
from tests.archive_server import ArchiveServer, archive_server
from tests.conftest import project_rows

MONTHLY = "/data/spot/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2021-11.zip"
NOVEMBER = date(2021, 11, 1)
LATER = date(2022, 3, 15)
"""A "today" after the month, so that 2021-11 has its monthly file."""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ArchiveServer]:
    """The archive with BTCUSDT's 2021-11 as a monthly zip (2021-11-12 and -13: 2,880 real candles)."""
    with archive_server() as running:
        running.add_klines(tmp_path, "BTCUSDT", project_rows())
        yield running


@pytest.fixture
def fetcher(server: ArchiveServer) -> Iterator[KlineArchive]:
    """A client of the server whose waits between tries are not slept."""
    with httpx.Client(timeout=10) as client:
        yield KlineArchive(client, base_url=server.url, sleep=lambda _s: None)


def assert_same_candles(directory: Path) -> None:
    """The directory's BTCUSDT candles are the bundled rows, value for value."""
    dataset = load_dir(directory, "BTCUSDT")
    rows = project_rows()
    assert list(dataset.open_time_ms) == [int(r[0]) for r in rows]
    assert [Decimal(x) for x in dataset.close] == [Decimal(r[4]) for r in rows]
    assert [Decimal(x) for x in dataset.volume] == [Decimal(r[5]) for r in rows]


def test_a_past_month_is_its_monthly_file_verified_with_its_checksum_beside_it(
    server: ArchiveServer, fetcher: KlineArchive, tmp_path: Path
) -> None:
    out = tmp_path / "klines"

    (fetched,) = fetcher.fetch_month("BTCUSDT", "1m", NOVEMBER, out, today=LATER)

    assert fetched.outcome is Outcome.DOWNLOADED and fetched.resumed_from_bytes == 0
    assert sorted(p.name for p in out.iterdir()) == ["BTCUSDT-1m-2021-11.zip", "BTCUSDT-1m-2021-11.zip.CHECKSUM"]
    assert fetched.size_bytes == len(server.files[MONTHLY])
    assert (out / "BTCUSDT-1m-2021-11.zip.CHECKSUM").read_bytes() == server.files[f"{MONTHLY}.CHECKSUM"]
    assert_same_candles(out)


def test_a_file_already_there_and_matching_is_not_downloaded_again(server: ArchiveServer, fetcher: KlineArchive, tmp_path: Path) -> None:
    out = tmp_path / "klines"
    fetcher.fetch_month("BTCUSDT", "1m", NOVEMBER, out, today=LATER)
    server.requests.clear()

    (again,) = fetcher.fetch_month("BTCUSDT", "1m", NOVEMBER, out, today=LATER)

    assert again.outcome is Outcome.UP_TO_DATE
    assert server.requests == [(f"{MONTHLY}.CHECKSUM", None)]


def test_a_checksum_mismatch_is_refused_and_the_file_not_kept(server: ArchiveServer, fetcher: KlineArchive, tmp_path: Path) -> None:
    server.add(MONTHLY, server.files[MONTHLY], checksum="ab" * 32)
    out = tmp_path / "klines"

    with pytest.raises(ChecksumMismatch, match=r"BTCUSDT-1m-2021-11.zip: SHA-256 [0-9a-f]{64} does not match its CHECKSUM") as caught:
        fetcher.fetch_month("BTCUSDT", "1m", NOVEMBER, out, today=LATER)

    assert caught.value.expected == "ab" * 32
    assert list(out.iterdir()) == []  # neither the file, nor its part, nor its CHECKSUM


def test_a_file_that_no_longer_matches_its_checksum_is_downloaded_again(
    server: ArchiveServer, fetcher: KlineArchive, tmp_path: Path
) -> None:
    out = tmp_path / "klines"
    out.mkdir()
    (out / "BTCUSDT-1m-2021-11.zip").write_bytes(b"damaged")

    (fetched,) = fetcher.fetch_month("BTCUSDT", "1m", NOVEMBER, out, today=LATER)

    assert fetched.outcome is Outcome.DOWNLOADED
    assert_same_candles(out)


def test_a_download_cut_off_is_continued_with_a_range_request(server: ArchiveServer, fetcher: KlineArchive, tmp_path: Path) -> None:
    server.cut_after[MONTHLY] = 10_000
    out = tmp_path / "klines"

    (fetched,) = fetcher.fetch_month("BTCUSDT", "1m", NOVEMBER, out, today=LATER)

    assert fetched.outcome is Outcome.DOWNLOADED
    assert [asked for path, asked in server.requests if path == MONTHLY] == [None, "bytes=10000-"]
    assert_same_candles(out)


def test_an_earlier_runs_partial_download_is_continued(server: ArchiveServer, fetcher: KlineArchive, tmp_path: Path) -> None:
    out = tmp_path / "klines"
    out.mkdir()
    (out / "BTCUSDT-1m-2021-11.zip.part").write_bytes(server.files[MONTHLY][:25_000])

    (fetched,) = fetcher.fetch_month("BTCUSDT", "1m", NOVEMBER, out, today=LATER)

    assert fetched.outcome is Outcome.DOWNLOADED and fetched.resumed_from_bytes == 25_000
    assert [asked for path, asked in server.requests if path == MONTHLY] == ["bytes=25000-"]
    assert not (out / "BTCUSDT-1m-2021-11.zip.part").exists()
    assert_same_candles(out)


def test_a_complete_part_is_verified_without_downloading_it_again(server: ArchiveServer, fetcher: KlineArchive, tmp_path: Path) -> None:
    out = tmp_path / "klines"
    out.mkdir()
    (out / "BTCUSDT-1m-2021-11.zip.part").write_bytes(server.files[MONTHLY])

    (fetched,) = fetcher.fetch_month("BTCUSDT", "1m", NOVEMBER, out, today=LATER)

    assert fetched.outcome is Outcome.DOWNLOADED
    assert [asked for path, asked in server.requests if path == MONTHLY] == [f"bytes={len(server.files[MONTHLY])}-"]  # 416


def test_a_part_of_another_version_of_the_file_is_downloaded_again_from_the_start(
    server: ArchiveServer, fetcher: KlineArchive, tmp_path: Path
) -> None:
    out = tmp_path / "klines"
    out.mkdir()
    (out / "BTCUSDT-1m-2021-11.zip.part").write_bytes(b"x" * 5_000)

    (fetched,) = fetcher.fetch_month("BTCUSDT", "1m", NOVEMBER, out, today=LATER)

    assert fetched.outcome is Outcome.DOWNLOADED
    assert [asked for path, asked in server.requests if path == MONTHLY] == ["bytes=5000-", None]
    assert_same_candles(out)


def test_a_server_ignoring_ranges_sends_the_whole_file_which_replaces_the_part(
    server: ArchiveServer, fetcher: KlineArchive, tmp_path: Path
) -> None:
    server.ranges = False
    out = tmp_path / "klines"
    out.mkdir()
    (out / "BTCUSDT-1m-2021-11.zip.part").write_bytes(server.files[MONTHLY][:7_000])

    (fetched,) = fetcher.fetch_month("BTCUSDT", "1m", NOVEMBER, out, today=LATER)

    assert fetched.outcome is Outcome.DOWNLOADED and fetched.size_bytes == len(server.files[MONTHLY])
    assert_same_candles(out)


def test_the_current_month_is_its_daily_files_up_to_yesterday(server: ArchiveServer, fetcher: KlineArchive, tmp_path: Path) -> None:
    server.add_klines(tmp_path, "BTCUSDT", project_rows(), by="day")  # 2021-11-12 and -13
    out = tmp_path / "klines"

    fetched = fetcher.fetch_month("BTCUSDT", "1m", NOVEMBER, out, today=date(2021, 11, 13))

    assert [f.file.period for f in fetched] == [f"2021-11-{d:02}" for d in range(1, 13)]
    assert [f.file.period for f in fetched if f.outcome is Outcome.DOWNLOADED] == ["2021-11-12"]
    assert MONTHLY + ".CHECKSUM" not in [path for path, _ in server.requests]  # no monthly file while the month runs
    assert len(load_dir(out, "BTCUSDT")) == 1440


def test_a_past_month_without_its_monthly_file_yet_is_fetched_as_daily_files(
    server: ArchiveServer, fetcher: KlineArchive, tmp_path: Path
) -> None:
    del server.files[MONTHLY], server.files[f"{MONTHLY}.CHECKSUM"]
    server.add_klines(tmp_path, "BTCUSDT", project_rows(), by="day")
    out = tmp_path / "klines"

    fetched = fetcher.fetch_month("BTCUSDT", "1m", NOVEMBER, out, today=date(2021, 12, 2))

    assert len(fetched) == 30
    assert [f.file.name for f in fetched if f.outcome is Outcome.DOWNLOADED] == ["BTCUSDT-1m-2021-11-12.zip", "BTCUSDT-1m-2021-11-13.zip"]
    assert_same_candles(out)


def test_a_month_not_begun_is_refused(fetcher: KlineArchive, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="2021-12 has not begun yet"):
        fetcher.fetch_month("BTCUSDT", "1m", date(2021, 12, 1), tmp_path, today=date(2021, 11, 30))


def test_server_errors_are_tried_again_then_named(server: ArchiveServer, tmp_path: Path) -> None:
    server.status[f"{MONTHLY}.CHECKSUM"] = 503
    waits: list[float] = []
    with httpx.Client(timeout=10) as client:
        fetcher = KlineArchive(client, base_url=server.url, attempts=3, sleep=waits.append)
        with pytest.raises(ArchiveError, match=r"BTCUSDT-1m-2021-11.zip.CHECKSUM: HTTP 503 \(3 attempts\)"):
            fetcher.fetch_month("BTCUSDT", "1m", NOVEMBER, tmp_path, today=LATER)

    assert len(waits) == 2 and all(0.75 <= w <= 2.5 for w in waits)
    assert len(server.requests) == 3


def test_a_client_error_is_not_tried_again(server: ArchiveServer, fetcher: KlineArchive, tmp_path: Path) -> None:
    server.status[f"{MONTHLY}.CHECKSUM"] = 403

    with pytest.raises(ArchiveError, match=r"CHECKSUM: HTTP 403"):
        fetcher.fetch_month("BTCUSDT", "1m", NOVEMBER, tmp_path, today=LATER)

    assert len(server.requests) == 1


def test_a_checksum_naming_another_file_is_refused(server: ArchiveServer, fetcher: KlineArchive, tmp_path: Path) -> None:
    server.files[f"{MONTHLY}.CHECKSUM"] = b"ab" * 32 + b"  ETHUSDT-1m-2021-11.zip\n"

    with pytest.raises(ArchiveError, match=r"CHECKSUM names 'ETHUSDT-1m-2021-11.zip', not 'BTCUSDT-1m-2021-11.zip'"):
        fetcher.fetch_month("BTCUSDT", "1m", NOVEMBER, tmp_path, today=LATER)


def test_archive_names_and_paths() -> None:
    assert archive_interval("1M") == "1mo"
    with pytest.raises(ValueError, match="unknown kline interval '7m'"):
        archive_interval("7m")
    assert ArchiveFile.daily("ETHUSDT", "5m", date(2025, 1, 15)).path == "data/spot/daily/klines/ETHUSDT/5m/ETHUSDT-5m-2025-01-15.zip"
    assert month_range(date(2024, 11, 20), date(2025, 2, 1)) == [date(2024, 11, 1), date(2024, 12, 1), date(2025, 1, 1), date(2025, 2, 1)]
