"""``papertrader data fetch``, run as a user runs it (``python -m engine`` in a subprocess), against a local archive
server (``--archive-url``) serving zips built from real candles; never the internet."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from simulator.klines_files import load_dir
from tests.archive_server import ArchiveServer, archive_server
from tests.conftest import project_rows
from tests.engine.cli.test_cli import cli, env, one, refused

__all__ = ["env"]  # the fixture, shared with test_cli

DAY_MS = 86_400_000
SHIFT_MS = int((datetime(2025, 1, 14, tzinfo=UTC) - datetime(2021, 11, 12, tzinfo=UTC)).total_seconds() * 1000)
JANUARY_2025 = "/data/spot/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2025-01.zip"


def rows_2025() -> list[list[str]]:
    """The two real days of 2021-11-12/13 as 2025-01-14/15 (whole days later; values unchanged)."""
    return [[str(int(row[0]) + SHIFT_MS), *row[1:]] for row in project_rows()]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ArchiveServer]:
    """The archive with BTCUSDT 2025-01 as a monthly zip whose times are microseconds, as the archive's are from 2025."""
    with archive_server() as running:
        running.add_klines(tmp_path, "BTCUSDT", rows_2025(), micro=True)
        yield running


def fetch(server: ArchiveServer, tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return cli("data", "fetch", *args, "--dir", "klines", "--archive-url", server.url, env=env, cwd=tmp_path)


def test_microsecond_files_are_fetched_verified_and_replayed(server: ArchiveServer, tmp_path: Path, env: dict[str, str]) -> None:
    result = fetch(server, tmp_path, env, "btcusdt", "--from", "2025-01")

    assert result.returncode == 0, result.stderr
    size = len(server.files[JANUARY_2025])
    assert result.stdout.splitlines() == [
        f"BTCUSDT-1m-2025-01.zip  downloaded ({size:,} bytes, SHA-256 verified)",
        "klines: 1 downloaded, 0 up to date, 0 not in the archive",
        "BTCUSDT: 2,880 candles, 2025-01-14 00:00 to 2025-01-15 23:59 UTC",
    ]
    assert "BTCUSDT-1m-2025-01.zip" in result.stderr  # the progress bar
    dataset = load_dir(tmp_path / "klines", "BTCUSDT")
    rows = rows_2025()
    assert list(dataset.open_time_ms) == [int(r[0]) for r in rows]  # µs in the file, ms when read
    assert [Decimal(x) for x in dataset.high] == [Decimal(r[2]) for r in rows]

    replayed = cli(
        "replay", "--db", "r.duckdb", "--data", "klines", "--symbols", "BTCUSDT", "--no-progress",
        "--start", "2025-01-14T06:00", "--end", "2025-01-14T12:00", env=env, cwd=tmp_path,
    )
    assert replayed.returncode == 0, replayed.stderr
    assert one(tmp_path / "r.duckdb", "SELECT min(open_time) FROM candles") == datetime(2025, 1, 14, 6, tzinfo=UTC)

    again = fetch(server, tmp_path, env, "BTCUSDT", "--from", "2025-01", "--no-progress")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0] == f"BTCUSDT-1m-2025-01.zip  up to date ({size:,} bytes, SHA-256 verified)"


def test_a_download_interrupted_by_ctrl_c_is_continued_by_the_next_run(server: ArchiveServer, tmp_path: Path, env: dict[str, str]) -> None:
    server.stall_after[JANUARY_2025] = 30_000  # then the connection hangs: the user presses Ctrl-C
    part = tmp_path / "klines" / "BTCUSDT-1m-2025-01.zip.part"
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine", "data", "fetch", "BTCUSDT", "--from", "2025-01", "--dir", "klines",
         "--archive-url", server.url, "--no-progress"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 30
    while not (part.is_file() and part.stat().st_size > 0) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)

    assert proc.returncode == 130
    assert stderr.strip().splitlines() == ["papertrader: interrupted; the same command continues where this one stopped"]
    kept = part.stat().st_size
    assert 0 < kept <= 30_000
    server.released.set()

    result = fetch(server, tmp_path, env, "BTCUSDT", "--from", "2025-01", "--no-progress")

    assert result.returncode == 0, result.stderr
    assert f"downloaded ({len(server.files[JANUARY_2025]):,} bytes, SHA-256 verified, continued from {kept:,} bytes)" in result.stdout
    assert [asked for path, asked in server.requests if path == JANUARY_2025] == [None, f"bytes={kept}-"]
    assert sorted(p.name for p in (tmp_path / "klines").iterdir()) == ["BTCUSDT-1m-2025-01.zip", "BTCUSDT-1m-2025-01.zip.CHECKSUM"]


def test_a_checksum_mismatch_fails_in_one_line_and_keeps_nothing(server: ArchiveServer, tmp_path: Path, env: dict[str, str]) -> None:
    server.add(JANUARY_2025, server.files[JANUARY_2025], checksum="0" * 64)

    result = fetch(server, tmp_path, env, "BTCUSDT", "--from", "2025-01", "--no-progress")

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"papertrader: BTCUSDT-1m-2025-01.zip: SHA-256 {result.stderr.split('SHA-256 ')[1][:64]} does not match its "
        f"CHECKSUM ({'0' * 64}); the download was deleted"
    ]
    assert list((tmp_path / "klines").iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["BTC-USDT", "--from", "2025-01"], "papertrader: 'BTC-USDT' is not a Binance spot symbol"),
        (["BTCUSDT", "--from", "2025-13"], "papertrader: --from '2025-13' is not a month YYYY-MM"),
        (["BTCUSDT", "--from", "2025-02", "--to", "2025-01"], "papertrader: --to 2025-01 is before --from 2025-02"),
        (["BTCUSDT", "--from", "2999-01"], "papertrader: --to 2999-01 has not begun yet"),
        (["BTCUSDT", "--from", "2025-01", "--interval", "7m"], "papertrader: --interval: unknown kline interval '7m'"),
        (["BTCUSDT"], "papertrader data fetch: error: the following arguments are required: --from"),
        (["DOGEUSDT", "--from", "2025-01"], "papertrader: the archive has no 1m klines of DOGEUSDT from 2025-01 to 2025-01"),
    ],
)
def test_bad_input_is_refused_in_one_line(
    server: ArchiveServer, tmp_path: Path, env: dict[str, str], args: list[str], message: str
) -> None:
    assert refused(fetch(server, tmp_path, env, *args)).startswith(message)
