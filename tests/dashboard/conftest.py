"""Fixtures of the dashboard tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit import config as st_config

from dashboard.runtime import stop_engine


@pytest.fixture
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private database and a fast replay (speed 600) for the process-wide Runtime, served on 127.0.0.1 without an
    admin token, no ``PAPERTRADER_*`` variable leaking in; the Runtime is stopped afterwards."""
    for name in [n for n in os.environ if n.upper().startswith("PAPERTRADER_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "pt.duckdb"
    monkeypatch.setenv("PAPERTRADER_STORAGE__PATH", str(path))
    monkeypatch.setenv("PAPERTRADER_METRICS__PORT", "0")
    monkeypatch.setenv("PAPERTRADER_SIM__SPEED", "600")
    address = st_config.get_option("server.address")
    st_config.set_option("server.address", "127.0.0.1")
    stop_engine()
    yield path
    stop_engine()
    st_config.set_option("server.address", address)
