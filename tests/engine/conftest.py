"""Shared fixtures for the tests that run the whole engine (Runtime + simulator over loopback + DuckDB)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.config import Settings, SimSettings, StorageSettings

MINUTE_MS = 60_000


@pytest.fixture
def fast_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    """``fast_settings(**sections)``: default settings with a private database, a fast replay (50 candles per
    wall second) and no ``PAPERTRADER_*`` variable or stray ``papertrader.toml`` leaking in."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("PAPERTRADER_")]:
        monkeypatch.delenv(name)

    def make(**sections: Any) -> Settings:
        return Settings(
            storage=StorageSettings(path=tmp_path / "pt.duckdb"),
            sim=SimSettings(speed=3000, update_interval_ms=20),
            **sections,
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
def assert_contiguous() -> Callable[[Any, str], None]:
    """``assert_contiguous(cursor, symbol)``: the stored 1m series of ``symbol`` has no duplicate and no hole."""

    def check(cur: Any, symbol: str) -> None:
        times = [r[0] for r in cur.execute(
            "SELECT epoch_ms(open_time) FROM candles WHERE symbol = ? ORDER BY open_time", [symbol]
        ).fetchall()]
        assert len(times) == len(set(times)), f"{symbol}: duplicate candles"
        steps = {later - earlier for earlier, later in zip(times, times[1:])}
        assert steps == {MINUTE_MS}, f"{symbol}: gaps {sorted(steps - {MINUTE_MS})[:5]}"

    return check
