"""``--data DIR`` / ``sim.data_dir``: the commands over a directory of Binance kline files, run as a user runs them
(``python -m engine`` in a subprocess), on real candles turned into public-archive zips."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.conftest import NOV_2021_BTC, project_rows, write_archive
from tests.engine.cli.test_cli import _read_until, cli, env, one, refused

__all__ = ["env"]  # the fixture, shared with test_cli

WINDOW = ["--symbols", "BTCUSDT", "--start", "2021-11-12T06:00", "--end", "2021-11-12T12:00"]


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    """2021-11-12 and -13 of BTCUSDT as the public archive serves them: ``BTCUSDT-1m-2021-11-12.zip`` and ``-13.zip``."""
    directory = tmp_path / "klines"
    write_archive(directory, "BTCUSDT", project_rows())
    return directory


def malformed_dir(tmp_path: Path) -> tuple[Path, Path]:
    """A directory whose BTCUSDT file has ``abc`` as the close of line 17; returns (directory, file)."""
    directory = tmp_path / "bad"
    (path,) = write_archive(directory, "BTCUSDT", project_rows()[:30], ext="csv")
    lines = path.read_text().splitlines()
    fields = lines[16].split(",")
    fields[4] = "abc"
    lines[16] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")
    return directory, path


def table(db: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


# ---------------------------------------------------------------------------------------------------- replay
def test_replay_of_archive_zips_is_the_replay_of_the_same_candles_in_the_project_format(
    tmp_path: Path, env: dict[str, str], archive_dir: Path
) -> None:
    result = cli("replay", "--db", "zip.duckdb", "--data", str(archive_dir), *WINDOW, env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"replay of BTCUSDT into zip.duckdb (data: {archive_dir})"
    assert "360/360 candles" in result.stderr
    db = tmp_path / "zip.duckdb"
    assert table(db, "SELECT count(*), min(open_time), max(open_time) FROM candles") == [
        (360, datetime(2021, 11, 12, 6, tzinfo=UTC), datetime(2021, 11, 12, 11, 59, tzinfo=UTC))
    ]

    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(NOV_2021_BTC, project)
    again = cli("replay", "--db", "csv.duckdb", "--data", str(project), "--no-progress", *WINDOW, env=env, cwd=tmp_path)

    assert again.returncode == 0, again.stderr
    assert result.stdout.splitlines()[2:] == again.stdout.splitlines()[2:]  # all but the header and the timing line
    for sql in (
        "SELECT open_time, open, high, low, close, volume, source FROM candles ORDER BY open_time",
        "SELECT ts, side, price, quantity, fee FROM fills ORDER BY ts, side",
    ):
        assert table(db, sql) == table(tmp_path / "csv.duckdb", sql)
    assert one(db, "SELECT count(*) FROM fills") == one(tmp_path / "csv.duckdb", "SELECT count(*) FROM fills")


def test_replay_reads_sim_data_dir_when_there_is_no_data_option(tmp_path: Path, env: dict[str, str], archive_dir: Path) -> None:
    env["PAPERTRADER_SIM__DATA_DIR"] = str(archive_dir)

    result = cli("replay", "--db", "out.duckdb", "--no-progress", *WINDOW, env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert f"(data: {archive_dir})" in result.stdout
    assert one(tmp_path / "out.duckdb", "SELECT count(*) FROM candles") == 360


# ---------------------------------------------------------------------------------------------------- sim and run
def test_sim_serves_the_directory_from_its_start_plus_the_warm_up(tmp_path: Path, env: dict[str, str], archive_dir: Path) -> None:
    """``sim.start`` (default: in the bundled month) is outside the data: the replay starts 300 minutes into it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine", "sim", "--symbols", "BTCUSDT", "--data", str(archive_dir), "--speed", "60"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True,
    )
    try:
        lines = _read_until(proc, "replaying")
        rest = next(line.split()[1] for line in lines if line.startswith("REST "))
        server_ms = httpx.get(f"{rest}/api/v3/time", timeout=5).json()["serverTime"]
        klines = httpx.get(f"{rest}/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1m", "limit": 3}, timeout=5).json()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0

    assert "2021-04-22T18:05:00+00:00 is outside the data; starting 300 minutes into it instead" in lines
    assert lines[-1] == f"replaying BTCUSDT ({archive_dir}) from 2021-11-12T05:00:00+00:00 at 60x; Ctrl-C stops"
    assert ms("2021-11-12T05:00") <= server_ms < ms("2021-11-12T05:05")
    rows = {int(r[0]): r for r in project_rows()}
    first = klines[0]
    assert first[0] == ms("2021-11-12T04:58")
    assert first[1:6] == [f"{Decimal(x):.8f}" for x in rows[first[0]][1:6]]


def test_run_trades_the_directory_of_sim_data_dir(tmp_path: Path, env: dict[str, str], archive_dir: Path) -> None:
    env |= {
        "PAPERTRADER_SIM__DATA_DIR": str(archive_dir),
        "PAPERTRADER_TRADING__SYMBOLS": '["BTCUSDT"]',
        "PAPERTRADER_SIM__SPEED": "3000",
        "PAPERTRADER_SIM__UPDATE_INTERVAL_MS": "20",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine", "-v", "run"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        lines = _read_until(proc, "engine RUNNING", "BTCUSDT: gap from")  # running, the warm-up history in
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    said = "sim.start 2021-04-22T18:05:00+00:00 is outside the data of BTCUSDT; the replay starts at 2021-11-12T05:00:00+00:00"
    assert any(said in line for line in lines)
    db = Path(env["PAPERTRADER_STORAGE__PATH"])
    first, last = table(db, "SELECT min(open_time), max(open_time) FROM candles")[0]
    assert datetime(2021, 11, 12, tzinfo=UTC) <= first and last < datetime(2021, 11, 14, tzinfo=UTC)  # type: ignore[operator]


# ---------------------------------------------------------------------------------------------------- errors: one line, exit 2
def test_replay_refuses_a_missing_directory(tmp_path: Path, env: dict[str, str]) -> None:
    line = refused(cli("replay", "--data", "nowhere", *WINDOW, env=env, cwd=tmp_path))
    assert line == "papertrader: nowhere: no such data directory"
    assert not (tmp_path / "data").exists()


def test_replay_refuses_a_directory_without_the_symbols_files(tmp_path: Path, env: dict[str, str], archive_dir: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert refused(cli("replay", "--data", "empty", *WINDOW, env=env, cwd=tmp_path)) == (
        "papertrader: empty: no 1m kline files for BTCUSDT; it has none"
    )
    assert refused(cli("replay", "--data", str(archive_dir), "--symbols", "ETHUSDT", env=env, cwd=tmp_path)) == (
        f"papertrader: {archive_dir}: no 1m kline files for ETHUSDT; it has BTCUSDT"
    )


def test_replay_refuses_a_malformed_file_naming_file_and_line(tmp_path: Path, env: dict[str, str]) -> None:
    directory, path = malformed_dir(tmp_path)
    line = refused(cli("replay", "--data", str(directory), *WINDOW, env=env, cwd=tmp_path))
    assert line == f"papertrader: {path}:17: close 'abc' is not a number"
    assert path.name == "BTCUSDT-1m-2021-11-12.csv"


def test_replay_refuses_a_symbol_without_trading_rules(tmp_path: Path, env: dict[str, str]) -> None:
    write_archive(tmp_path / "doge", "DOGEUSDT", project_rows()[:60])
    line = refused(cli("replay", "--data", "doge", "--symbols", "DOGEUSDT", env=env, cwd=tmp_path))
    assert line == "papertrader: no simulator trading rules for DOGEUSDT; known: BTCUSDT, ETHUSDT"


def test_sim_refuses_bad_data_in_one_line(tmp_path: Path, env: dict[str, str]) -> None:
    assert refused(cli("sim", "--data", "nowhere", env=env, cwd=tmp_path)) == (
        "papertrader: cannot start the simulator: nowhere: no such data directory"
    )
    directory, path = malformed_dir(tmp_path)
    assert refused(cli("sim", "--data", str(directory), "--symbols", "BTCUSDT", env=env, cwd=tmp_path)) == (
        f"papertrader: cannot start the simulator: {path}:17: close 'abc' is not a number"
    )
    write_archive(tmp_path / "doge", "DOGEUSDT", project_rows()[:60])
    assert refused(cli("sim", "--data", "doge", "--symbols", "DOGEUSDT", env=env, cwd=tmp_path)) == (
        "papertrader: cannot start the simulator: no trading rules for DOGEUSDT; known: BTCUSDT, ETHUSDT"
    )


@pytest.mark.parametrize("case", ["missing", "malformed", "no-rules", "no-data"])
def test_run_refuses_bad_sim_data_dir_before_creating_the_database(
    tmp_path: Path, env: dict[str, str], archive_dir: Path, case: str
) -> None:
    directory, symbols = archive_dir, '["BTCUSDT"]'
    if case == "missing":
        directory = tmp_path / "nowhere"
        expected = f"sim.data_dir: {directory}: no such data directory"
    elif case == "malformed":
        directory, path = malformed_dir(tmp_path)
        expected = f"sim.data_dir: {path}:17: close 'abc' is not a number"
    elif case == "no-rules":
        write_archive(directory, "DOGEUSDT", project_rows()[:60])
        symbols = '["BTCUSDT", "DOGEUSDT"]'
        expected = "trading.symbols: the simulator has no trading rules for DOGEUSDT; it has them for BTCUSDT, ETHUSDT"
    else:
        symbols = '["BTCUSDT", "ETHUSDT"]'
        expected = f"trading.symbols: the simulator has no data for ETHUSDT in {directory}; it has BTCUSDT"
    env |= {"PAPERTRADER_SIM__DATA_DIR": str(directory), "PAPERTRADER_TRADING__SYMBOLS": symbols}

    line = refused(cli("run", env=env, cwd=tmp_path))

    assert line == f"papertrader: invalid configuration: {expected}"
    assert not Path(env["PAPERTRADER_STORAGE__PATH"]).exists()
