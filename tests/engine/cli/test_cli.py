"""The ``papertrader`` command line, run as a user runs it: ``python -m engine ...`` in a subprocess, configured
only through ``PAPERTRADER_*`` variables pointing at temporary files."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import httpx
import pytest

from engine.cli.offline import bundled_replay as replay
from engine.cli.offline import mask_secrets
from engine.config import BreakerSettings, Settings
from simulator.market import Market
from simulator.server import SimulatorServer

ROOT = Path(__file__).resolve().parents[3]
DAY_MS = 86_400_000
START_MS = int(datetime(2021, 4, 25, tzinfo=UTC).timestamp() * 1000)
SHORT = ["--symbols", "BTCUSDT", "--start", "2021-04-25T00:00", "--end", "2021-04-25T03:00"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: no inherited ``PAPERTRADER_*``, the database in ``tmp_path``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PAPERTRADER_")}
    clean["PYTHONPATH"] = str(ROOT)
    clean["PAPERTRADER_STORAGE__PATH"] = str(tmp_path / "pt.duckdb")
    clean["PAPERTRADER_METRICS__PORT"] = "0"  # any free port: tests never bind a fixed one
    return clean


def cli(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def one(db: Path, sql: str) -> object:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchone()[0]


@pytest.fixture
def tripped_db(tmp_path: Path) -> Path:
    """The configured database after a replay whose breaker (0.2 % daily loss) tripped."""
    db = tmp_path / "pt.duckdb"
    settings = Settings(breaker=BreakerSettings(warning_pct=0.1, daily_loss_pct=0.2))
    summary = replay(settings, symbols=("BTCUSDT", "ETHUSDT"), start_ms=START_MS, end_ms=START_MS + 2 * DAY_MS, db_path=db)
    assert summary.breaker_trips == 1
    return db


# ---------------------------------------------------------------------------------------------------- replay
def test_replay_prints_a_summary_and_refuses_to_overwrite_without_force(tmp_path: Path, env: dict[str, str]) -> None:
    first = cli("replay", "--db", "out.duckdb", *SHORT, env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    for label in ("candles", "trades", "P&L", "max drawdown", "breaker trips", "risk denials"):
        assert label in first.stdout
    assert "180/180 candles" in first.stderr  # the progress line ends at the total
    assert one(tmp_path / "out.duckdb", "SELECT count(*) FROM candles") == 180

    again = cli("replay", "--db", "out.duckdb", *SHORT, env=env, cwd=tmp_path)
    assert again.returncode == 2
    assert "already exists" in again.stderr and "--force" in again.stderr

    forced = cli("replay", "--db", "out.duckdb", "--force", "--no-progress", *SHORT, env=env, cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert one(tmp_path / "out.duckdb", "SELECT count(*) FROM candles") == 180


# ---------------------------------------------------------------------------------------------------- export
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_round_trips_a_table(tripped_db: Path, tmp_path: Path, env: dict[str, str], fmt: str) -> None:
    out = tmp_path / f"fills.{fmt}"
    result = cli("export", "fills", "--format", fmt, "--out", str(out), "--db", str(tripped_db), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    reader = "read_csv" if fmt == "csv" else "read_parquet"
    with duckdb.connect(str(tripped_db), read_only=True) as con:
        expected = con.execute("SELECT fill_id, price, quantity, fee FROM fills ORDER BY fill_id").fetchall()
        exported = con.execute(
            f"SELECT fill_id, price::DECIMAL(38, 8), quantity::DECIMAL(38, 8), fee::DECIMAL(38, 8) "
            f"FROM {reader}('{out}') ORDER BY fill_id"
        ).fetchall()
    assert exported == expected and len(expected) > 0


def test_export_of_an_unknown_table_lists_the_tables(tripped_db: Path, tmp_path: Path, env: dict[str, str]) -> None:
    result = cli("export", "fils", "--format", "csv", "--out", "x.csv", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "no table 'fils'" in result.stderr and "fills" in result.stderr and "trades" in result.stderr


# ---------------------------------------------------------------------------------------------------- reset-breaker
def test_reset_breaker_appends_an_audited_reset(tripped_db: Path, tmp_path: Path, env: dict[str, str]) -> None:
    result = cli("reset-breaker", "--reason", "reviewed the loss", "--actor", "alice", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "re-armed" in result.stdout
    with duckdb.connect(str(tripped_db), read_only=True) as con:
        assert con.execute("SELECT command, actor, reason, result FROM commands").fetchall() == [
            ("RESET_BREAKER", "alice", "reviewed the loss", "OK")
        ]
        kind, state_to, actor, reason = con.execute(
            "SELECT kind, state_to, actor, reason FROM breaker_events ORDER BY recorded_at DESC LIMIT 1"
        ).fetchone()
        # the re-based equity row: day baseline and peak = current equity
        equity, peak, day_start = con.execute(
            "SELECT equity, peak_equity, day_start_equity FROM equity ORDER BY ts DESC, recorded_at DESC LIMIT 1"
        ).fetchone()
    assert (kind, state_to, actor, reason) == ("BreakerReset", "ACTIVE", "alice", "reviewed the loss")
    assert equity == peak == day_start


def test_reset_breaker_is_refused_when_not_tripped(tripped_db: Path, tmp_path: Path, env: dict[str, str]) -> None:
    assert cli("reset-breaker", "--reason", "first", env=env, cwd=tmp_path).returncode == 0
    second = cli("reset-breaker", "--reason", "second", env=env, cwd=tmp_path)
    assert second.returncode == 2
    assert "not TRIPPED" in second.stderr
    assert one(tripped_db, "SELECT count(*) FROM breaker_events WHERE kind = 'BreakerReset'") == 1
    assert one(tripped_db, "SELECT result FROM commands WHERE reason = 'second'") == "REFUSED"


def test_reset_breaker_is_refused_while_another_process_holds_the_database(
    tripped_db: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from storage.store import Store; s = Store({str(tripped_db)!r}); print('ready', flush=True); input()"],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        result = cli("reset-breaker", "--reason", "while running", env=env, cwd=tmp_path)
    finally:
        holder.communicate("\n", timeout=30)
    assert result.returncode == 2
    assert "cannot reset the breaker now" in result.stderr and f"process {holder.pid}" in result.stderr
    assert one(tripped_db, "SELECT count(*) FROM breaker_events WHERE kind = 'BreakerReset'") == 0


# ---------------------------------------------------------------------------------------------------- config
def test_config_prints_the_effective_settings(tmp_path: Path, env: dict[str, str]) -> None:
    env["PAPERTRADER_SIM__SPEED"] = "600"
    result = cli("config", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["sim"]["speed"] == 600
    assert config["storage"]["path"] == env["PAPERTRADER_STORAGE__PATH"]


def test_secrets_are_masked_by_key_name() -> None:
    masked = mask_secrets(
        {"api_key": "k", "alerts": {"bot_token": "t", "webhooks": [{"Password": "p", "url": "u"}]}, "speed": 60}
    )
    assert masked == {"api_key": "***", "alerts": {"bot_token": "***", "webhooks": [{"Password": "***", "url": "u"}]}, "speed": 60}


def test_an_invalid_setting_is_refused_naming_its_key(tmp_path: Path, env: dict[str, str]) -> None:
    env["PAPERTRADER_TRADING__RISK_PCT"] = "-1"
    result = cli("config", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "trading.risk_pct (PAPERTRADER_TRADING__RISK_PCT)" in result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------------------------------------- sim and run
def _read_until(proc: subprocess.Popen[str], *markers: str, timeout_s: float = 30) -> list[str]:
    """stdout lines up to the one by which every one of ``markers`` has appeared (in any order: stdout is buffered,
    stderr not); kills the process on time-out."""
    seen: list[str] = []
    missing = set(markers)
    timer = threading.Timer(timeout_s, proc.kill)
    timer.start()
    try:
        assert proc.stdout is not None
        for line in iter(proc.stdout.readline, ""):  # not ``for line in proc.stdout``: keep the pipe open after
            seen.append(line.rstrip())
            missing -= {marker for marker in missing if marker in line}
            if not missing:
                return seen
    finally:
        timer.cancel()
    pytest.fail(f"no {sorted(missing)!r} in the output: {seen}")


def test_sim_prints_its_urls_and_serves_them(tmp_path: Path, env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine", "sim", "--speed", "600"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )
    try:
        lines = _read_until(proc, "WS ")
        rest = next(line.split()[1] for line in lines if line.startswith("REST "))
        ws = next(line.split()[1] for line in lines if line.startswith("WS "))
        assert rest.startswith("http://127.0.0.1:") and ws.startswith("ws://127.0.0.1:")
        assert httpx.get(f"{rest}/api/v3/ping", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_sim_in_time_mode_now_answers_with_the_wall_clock(tmp_path: Path, env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine", "sim", "--time-mode", "now"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )
    try:
        lines = _read_until(proc, "as now, in real time")
        rest = next(line.split()[1] for line in lines if line.startswith("REST "))
        before_ms = time.time() * 1000
        server_ms = httpx.get(f"{rest}/api/v3/time", timeout=5).json()["serverTime"]
        assert before_ms - 1_000 <= server_ms <= time.time() * 1000 + 1_000
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_sim_in_time_mode_now_refuses_another_speed(tmp_path: Path, env: dict[str, str]) -> None:
    line = refused(cli("sim", "--time-mode", "now", "--speed", "60", env=env, cwd=tmp_path))

    assert line == "papertrader: --speed 60: in time mode now the replay runs in real time (server time is the wall clock)"


def test_run_starts_headless_and_stops_cleanly_on_sigterm(tmp_path: Path, env: dict[str, str]) -> None:
    env |= {"PAPERTRADER_SIM__SPEED": "3000", "PAPERTRADER_SIM__UPDATE_INTERVAL_MS": "20"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine", "-v", "run"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        # running, and the bootstrap history is in, not just asked for
        lines = _read_until(
            proc, "engine RUNNING", "BTCUSDT: gap from", "ETHUSDT: gap from", "strategy sma_crossover(fast=9, slow=21) on 1m candles"
        )
        metrics = next(line.split()[1] for line in lines if line.startswith("metrics  http://127.0.0.1:"))
        health = httpx.get(metrics.replace("/metrics", "/healthz"), timeout=5)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert any(env["PAPERTRADER_STORAGE__PATH"] in line for line in lines)
    assert any(line.startswith("venue    sim") for line in lines)
    assert health.status_code == 200, health.text
    assert "stopped after" in out
    db = Path(env["PAPERTRADER_STORAGE__PATH"])
    assert one(db, "SELECT count(*) FROM candles") > 0  # the bootstrap history, flushed on stop


def test_run_refuses_a_public_metrics_address_without_a_token_in_one_line(tmp_path: Path, env: dict[str, str]) -> None:
    env["PAPERTRADER_METRICS__HOST"] = "0.0.0.0"
    env.pop("PAPERTRADER_ADMIN_TOKEN", None)

    line = refused(cli("run", env=env, cwd=tmp_path))

    assert line.startswith("papertrader: invalid configuration: metrics.host 0.0.0.0 is not a loopback address and no admin token")
    assert line.endswith("or set metrics.allow_unauthenticated = true")
    assert not Path(env["PAPERTRADER_STORAGE__PATH"]).exists()


# ---------------------------------------------------------------------------------------------------- errors at the edges
def refused(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a refused command: exit code 2, no traceback, nothing else said."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("command", [["config"], ["run"], ["sim"], ["reset-breaker", "--reason", "r"]])
def test_a_toml_syntax_error_is_one_line_naming_file_line_and_column(
    tmp_path: Path, env: dict[str, str], command: list[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[trading]\nrisk_pct 1.0\n", encoding="utf-8")
    env["PAPERTRADER_CONFIG"] = str(path)

    line = refused(cli(*command, env=env, cwd=tmp_path))

    assert line == (
        f"papertrader: invalid configuration: {path}: Expected '=' after a key in a key/value pair (at line 2, column 10)"
    )
    assert not Path(env["PAPERTRADER_STORAGE__PATH"]).exists()


def test_the_papertrader_entry_point_refuses_a_broken_default_file(tmp_path: Path, env: dict[str, str]) -> None:
    entry_point = shutil.which("papertrader", path=str(Path(sys.executable).parent))
    if entry_point is None:
        pytest.skip("the papertrader entry point is not installed next to this Python (pip install -e .)")
    (tmp_path / "papertrader.toml").write_text("[sim\nspeed = 1\n", encoding="utf-8")

    result = subprocess.run([entry_point, "run"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)

    assert refused(result) == (
        "papertrader: invalid configuration: papertrader.toml: Expected ']' at the end of a table declaration "
        "(at line 1, column 5)"
    )


def test_a_directory_as_config_file_is_one_line(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "papertrader.toml").mkdir()

    line = refused(cli("config", env=env, cwd=tmp_path))

    assert line == "papertrader: invalid configuration: papertrader.toml: cannot be read: not a file"


@pytest.mark.parametrize("command", ["config", "run"])
@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param(
            "PAPERTRADER_TRADINGX__RISK_PCT",
            "PAPERTRADER_TRADINGX__RISK_PCT: unknown section 'tradingx' "
            "(sections: venue, sim, storage, strategy, trading, breaker, risk, rest, stream, alerts, metrics)",
            id="section",
        ),
        pytest.param(
            "PAPERTRADER_BREAKER__ENABLE",
            "PAPERTRADER_BREAKER__ENABLE: unknown key 'enable' in [breaker] "
            "(keys: enabled, warning_pct, daily_loss_pct, drawdown_pct, flatten_on_trip)",
            id="key",
        ),
    ],
)
def test_an_unknown_environment_variable_is_one_line(
    tmp_path: Path, env: dict[str, str], command: str, name: str, message: str
) -> None:
    env[name] = "2"

    line = refused(cli(command, env=env, cwd=tmp_path))

    assert line == f"papertrader: invalid configuration: {message}"
    assert not Path(env["PAPERTRADER_STORAGE__PATH"]).exists()


@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_a_non_finite_number_is_one_line(tmp_path: Path, env: dict[str, str], value: str) -> None:
    env["PAPERTRADER_TRADING__STARTING_BALANCE"] = value

    line = refused(cli("run", env=env, cwd=tmp_path))

    assert line == (
        "papertrader: invalid configuration: trading.starting_balance (PAPERTRADER_TRADING__STARTING_BALANCE): "
        "Input should be a finite number"
    )


def test_several_invalid_values_are_one_line(tmp_path: Path, env: dict[str, str]) -> None:
    env |= {"PAPERTRADER_TRADING__RISK_PCT": "-1", "PAPERTRADER_SIM__SPEED": "0"}

    line = refused(cli("config", env=env, cwd=tmp_path))

    assert line == (
        "papertrader: invalid configuration: sim.speed (PAPERTRADER_SIM__SPEED): Input should be greater than 0; "
        "trading.risk_pct (PAPERTRADER_TRADING__RISK_PCT): Input should be greater than 0"
    )


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["run"], id="run"),
        pytest.param(["export", "fills", "--format", "csv", "--out", "fills.csv"], id="export"),
        pytest.param(["reset-breaker", "--reason", "r"], id="reset-breaker"),
    ],
)
def test_a_database_that_is_not_papertraders_is_one_line_and_left_unchanged(
    tmp_path: Path, env: dict[str, str], command: list[str], not_papertrader: tuple[Callable[[Path], None], str]
) -> None:
    make, reason = not_papertrader
    db = Path(env["PAPERTRADER_STORAGE__PATH"])
    make(db)
    before, files = hashlib.sha256(db.read_bytes()).hexdigest(), sorted(tmp_path.iterdir())

    line = refused(cli(*command, env=env, cwd=tmp_path))

    assert line == f"papertrader: {db} is not a papertrader database ({reason}); move it away or choose another storage.path"
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert sorted(tmp_path.iterdir()) == files  # no .wal, no export written


def test_replay_into_a_file_that_is_not_papertraders_is_refused_without_force(
    tmp_path: Path, env: dict[str, str], not_papertrader: tuple[Callable[[Path], None], str]
) -> None:
    make, _ = not_papertrader
    db = tmp_path / "other.duckdb"
    make(db)
    before = hashlib.sha256(db.read_bytes()).hexdigest()

    line = refused(cli("replay", "--db", str(db), *SHORT, env=env, cwd=tmp_path))

    assert line == f"papertrader: {db} already exists; choose another --db or pass --force to overwrite it"
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_replay_with_force_onto_a_directory_is_one_line(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "dir.duckdb").mkdir()

    line = refused(cli("replay", "--db", "dir.duckdb", "--force", *SHORT, env=env, cwd=tmp_path))

    assert line.startswith("papertrader: [Errno 21] Is a directory: ") and "dir.duckdb" in line
    assert (tmp_path / "dir.duckdb").is_dir()


def test_run_is_refused_while_another_process_holds_the_database(tripped_db: Path, tmp_path: Path, env: dict[str, str]) -> None:
    """The message for a held database is the one it always was."""
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from storage.store import Store; s = Store({str(tripped_db)!r}); print('ready', flush=True); input()"],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        result = cli("run", env=env, cwd=tmp_path)
    finally:
        holder.communicate("\n", timeout=30)

    assert refused(result) == (
        f"papertrader: {tripped_db} is held by process {holder.pid}: DuckDB lets one process open a database file at "
        "a time. Stop that process (or use the dashboard it serves), then retry."
    )


def test_a_symbol_the_simulator_has_no_data_for_is_one_line(tmp_path: Path, env: dict[str, str]) -> None:
    env["PAPERTRADER_TRADING__SYMBOLS"] = '["DOGEUSDT"]'
    line = refused(cli("run", env=env, cwd=tmp_path))
    assert line == (
        "papertrader: invalid configuration: trading.symbols: the simulator has no data for DOGEUSDT; "
        "it has BTCUSDT, ETHUSDT"
    )
    assert not (tmp_path / "pt.duckdb").exists(), "refused before the database was created"


def test_a_symbol_the_venue_does_not_list_stops_run_with_one_line(tmp_path: Path, env: dict[str, str]) -> None:
    """Venue ``binance`` (here the simulator, serving BTCUSDT and ETHUSDT): exchangeInfo answers 400 -1121 for an
    unlisted symbol, which is the configuration's fault: exit 2, the reason last, no traceback."""
    with SimulatorServer(Market.replay(("BTCUSDT", "ETHUSDT"), speed=60)) as simulator:
        env |= {
            "PAPERTRADER_VENUE__NAME": "binance",
            "PAPERTRADER_VENUE__REST_URL": simulator.rest_url,
            "PAPERTRADER_VENUE__WS_URL": simulator.ws_url,
            "PAPERTRADER_TRADING__SYMBOLS": '["BTCUSDT", "DOGEUSDT"]',
        }
        result = cli("run", env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "papertrader: invalid configuration: trading.symbols: the venue does not list DOGEUSDT (Invalid symbol.)"
    )
