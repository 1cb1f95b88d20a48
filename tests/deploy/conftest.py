"""Fixtures for the shipped monitoring files: a real Prometheus server (Debian's ``prometheus`` package) on a port it
picks itself, and its ``promtool``.

Where they are missing the tests skip with a message, unless ``PAPERTRADER_REQUIRE_PROMETHEUS=1`` (set by
``.ci/run``, which installs the package), where they fail instead. The engine fixtures (``fast_settings``,
``wait_for``) are the engine tests'.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.engine.conftest import fast_settings, wait_for

__all__ = ["fast_settings", "wait_for"]  # the fixtures, shared with the engine tests

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
START_TIMEOUT_S = 20.0
LISTENING = re.compile(r'msg="Listening on" address=(\S+)')


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        message = f"no {tool} on PATH: install Debian's prometheus package (apt-get install prometheus) to run these tests"
        if os.environ.get("PAPERTRADER_REQUIRE_PROMETHEUS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def promtool() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``promtool(*args)``: run promtool in ``deploy/prometheus``; its completed process (output as text)."""
    binary = _require("promtool")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([binary, *args], cwd=DEPLOY / "prometheus", capture_output=True, text=True, timeout=60, check=False)

    return run


@dataclass
class Prometheus:
    """A running Prometheus server: its base URL, and PromQL over its HTTP API."""

    url: str
    log: Path

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant vector of ``promql`` now (``/api/v1/query``): ``[{"metric": {...}, "value": [t, "v"]}, ...]``.

        Raises:
            AssertionError: the query was refused (its error in the message).
        """
        body = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10).json()
        assert body["status"] == "success", f"{promql}: {body.get('error')}"
        return body["data"]["result"]

    def wait(self, promql: str, what: str, timeout_s: float = 20.0) -> list[dict[str, Any]]:
        """Poll ``promql`` until it returns a non-empty result; that result. Fails naming ``what`` on time-out."""
        deadline = time.monotonic() + timeout_s
        while not (result := self.query(promql)):
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what} ({promql})\n{self.log.read_text()[-2000:]}")
            time.sleep(0.2)
        return result


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[[str], Prometheus]]:
    """``prometheus(config_yaml)``: start ``prometheus`` with that configuration (written to ``tmp_path``; relative
    paths in it are read from there) on 127.0.0.1 port 0 — it binds a free port itself, read back from its log — with
    its storage in ``tmp_path``; once ready, a :class:`Prometheus`. Stopped afterwards."""
    binary = _require("prometheus")
    processes: list[subprocess.Popen[bytes]] = []

    def start(config: str) -> Prometheus:
        config_file, log = tmp_path / "prometheus.yml", tmp_path / "prometheus.log"
        config_file.write_text(config, encoding="utf-8")
        with log.open("wb") as out:
            process = subprocess.Popen(
                [binary, f"--config.file={config_file}", f"--storage.tsdb.path={tmp_path / 'tsdb'}", "--web.listen-address=127.0.0.1:0"],
                cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        processes.append(process)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (found := LISTENING.search(log.read_text())):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"prometheus did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
        server = Prometheus(f"http://{found.group(1)}", log)
        while not _ready(server.url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"prometheus did not become ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
        return server

    yield start
    for process in processes:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
    except httpx.TransportError:
        return False
