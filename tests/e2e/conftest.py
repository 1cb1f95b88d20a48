"""Fixtures for real-browser tests: the app started the way the README says, and headless Debian Chromium.

Where ``/usr/bin/chromium`` is missing the browser tests skip with a message, unless
``PAPERTRADER_REQUIRE_BROWSER=1`` (set by ``.ci/run``), where they fail instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = os.environ.get("PAPERTRADER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HEALTH_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


@dataclass
class App:
    """A running ``streamlit run dashboard/serve.py``: its URL, its database file and its process."""

    url: str
    db_path: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> int:
        """SIGTERM (the server shuts down cleanly: the Runtime flushes and closes the database); returns the exit code,
        0 for a clean stop.

        Streamlit's server (uvicorn) re-raises the SIGTERM once its graceful shutdown is over, so a clean stop ends by
        that signal (return code ``-SIGTERM``); it is reported as 0. A process still running after
        ``STOP_TIMEOUT_S`` is aborted with its thread stacks dumped into the log."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                # SIGABRT makes faulthandler (PYTHONFAULTHANDLER=1) write every thread's stack into the log.
                self.process.send_signal(signal.SIGABRT)
                self.process.wait()
        return 0 if self.process.returncode == -signal.SIGTERM else self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium driven by Playwright (Playwright's own browser downloads are not used)."""
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        message = f"no Chromium at {CHROMIUM}: install Debian's chromium (apt-get install chromium) to run the browser tests"
        if os.environ.get("PAPERTRADER_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def app_env() -> dict[str, str]:
    """Extra environment for the app under test; a test module overrides this fixture to change settings."""
    return {}


@pytest.fixture
def app(tmp_path: Path, app_env: dict[str, str]) -> Iterator[App]:
    """The dashboard started as ``make run`` does (``streamlit run dashboard/serve.py``) on a free port,
    with its own database file and ``app_env`` added to the environment, once ``/_stcore/health`` answers ``ok``."""
    port = _free_port()
    db_path = tmp_path / "papertrader.duckdb"
    log_path = tmp_path / "streamlit.log"
    env = {
        **{k: v for k, v in os.environ.items() if k != "PAPERTRADER_CONFIG"},
        "PAPERTRADER_STORAGE__PATH": str(db_path),
        "PAPERTRADER_METRICS__PORT": "0",
        "PYTHONFAULTHANDLER": "1",
        **app_env,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "dashboard/serve.py", "--server.port", str(port)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = App(f"http://127.0.0.1:{port}", db_path, process, log_path)
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while True:
        if process.poll() is not None:
            pytest.fail(f"streamlit exited with {process.returncode}:\n{running.log()}")
        try:
            if httpx.get(f"{running.url}/_stcore/health", timeout=1.0).text == "ok":
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            running.stop()
            pytest.fail(f"/_stcore/health did not answer ok within {HEALTH_TIMEOUT_S:.0f} s:\n{running.log()}")
        time.sleep(0.2)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def artifacts() -> Path:
    """Where screenshots go (``test-artifacts/``, git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
