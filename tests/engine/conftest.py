"""Shared fixtures: settings, polling and checks for the tests that run the whole engine (Runtime + simulator over
loopback + DuckDB), and a real local webhook receiver."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from engine.config import MetricsSettings, Settings, SimSettings, StorageSettings

REPO = Path(__file__).resolve().parents[2]
MINUTE_MS = 60_000
WAIT_S = 10.0


@pytest.fixture
def fast_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    """``fast_settings(**sections)``: default settings with a private database, a fast replay (50 candles per
    wall second; unless ``sim`` is given), the metrics endpoint on any free port (unless ``metrics`` is given) and no ``PAPERTRADER_*``
    variable or stray ``papertrader.toml`` leaking in."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("PAPERTRADER_")]:
        monkeypatch.delenv(name)

    def make(**sections: Any) -> Settings:
        return Settings(
            storage=StorageSettings(path=tmp_path / "pt.duckdb"),
            **{"sim": SimSettings(speed=3000, update_interval_ms=20), "metrics": MetricsSettings(port=0), **sections},
        )

    return make


@pytest.fixture
def wait_for() -> Callable[..., None]:
    """``wait_for(condition, what, timeout_s=30)``: poll every 20 ms; fail naming ``what`` on time-out."""

    def wait(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
            time.sleep(0.02)

    return wait


@pytest.fixture
def assert_contiguous() -> Callable[..., None]:
    """``assert_contiguous(cursor, symbol, step_ms=60_000)``: the stored series of ``symbol`` (1m by default) has no
    duplicate and no hole: consecutive open times ``step_ms`` apart."""

    def check(cur: Any, symbol: str, step_ms: int = MINUTE_MS) -> None:
        times = [r[0] for r in cur.execute(
            "SELECT epoch_ms(open_time) FROM candles WHERE symbol = ? ORDER BY open_time", [symbol]
        ).fetchall()]
        assert len(times) == len(set(times)), f"{symbol}: duplicate candles"
        steps = {later - earlier for earlier, later in itertools.pairwise(times)}
        assert steps == {step_ms}, f"{symbol}: gaps {sorted(steps - {step_ms})[:5]}"

    return check


@dataclass
class Receiver:
    """A real HTTP server recording every POST (path, JSON body); answers from ``script`` (status, headers), then 200.

    ``gate``, when cleared, holds every answer until it is set (a slow webhook)."""

    url: str = ""
    requests: list[tuple[str, Any]] = field(default_factory=list)
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    gate: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + WAIT_S
        while len(self.requests) < count:
            assert time.monotonic() < deadline, f"receiver got {len(self.requests)} of {count} requests"
            time.sleep(0.005)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    rec.gate.set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            rec.requests.append((self.path, body))
            rec.arrived.set()
            rec.gate.wait(WAIT_S)
            status, headers = rec.script.pop(0) if rec.script else (200, {})
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, name="webhook-receiver", daemon=True)
    thread.start()
    yield rec
    rec.gate.set()
    server.shutdown()
    server.server_close()
    thread.join(WAIT_S)


@pytest.fixture
def killed_run() -> Callable[..., None]:
    """``killed_run(settings, run_s, **variables)``: ``papertrader run`` (``python -m engine run``, headless) on
    ``settings``' database with the simulator at ``settings.sim``'s speed and any further ``PAPERTRADER_*``
    ``variables``, SIGKILLed ``run_s`` seconds after it says RUNNING."""

    def run(settings: Settings, run_s: float, **variables: str) -> None:
        env = {
            **os.environ,
            **variables,
            "PAPERTRADER_STORAGE__PATH": str(settings.storage.path),
            "PAPERTRADER_METRICS__PORT": str(settings.metrics.port),
            "PAPERTRADER_SIM__SPEED": str(settings.sim.speed),
            "PAPERTRADER_SIM__UPDATE_INTERVAL_MS": str(settings.sim.update_interval_ms),
        }
        command = [sys.executable, "-m", "engine", "run"]
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            assert process.stdout is not None
            while b"RUNNING" not in process.stdout.readline():
                assert time.monotonic() < deadline and process.poll() is None, "the headless engine did not start"
            time.sleep(run_s)  # let it trade on real candles, then pull the plug
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()

    return run
