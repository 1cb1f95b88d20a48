"""The dashboard script under ``streamlit.testing.v1.AppTest``, with the real Runtime (simulator, engine, DuckDB)
behind it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.runtime import get_runtime
from storage.store import Store

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


@pytest.fixture
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private database and a fast replay for the process-wide Runtime; the Runtime is stopped afterwards."""
    for name in [n for n in os.environ if n.startswith("PAPERTRADER_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "pt.duckdb"
    monkeypatch.setenv("PAPERTRADER_STORAGE__PATH", str(path))
    monkeypatch.setenv("PAPERTRADER_SIM__SPEED", "600")
    get_runtime.clear()
    yield path
    get_runtime.clear()


def test_overview_shows_kpis_and_pause_resume_is_audited(db_path: Path) -> None:
    """The page renders the six KPI tiles; Pause turns the button into Resume, Resume back; both are audited."""
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert not at.exception
    assert [m.label for m in at.metric] == ["Equity (USDT)", "P&L today (USDT)", "Total P&L (USDT)", "Drawdown", "Engine", "Market"]
    assert at.title[0].value == "Overview"

    button = at.button(key="pause_resume")
    assert button.label == "Pause trading"
    at = button.click().run()
    assert at.button(key="pause_resume").label == "Resume trading"
    assert at.metric[4].value == "PAUSED"
    at = at.button(key="pause_resume").click().run()
    assert at.button(key="pause_resume").label == "Pause trading"

    get_runtime.clear()
    with Store(db_path, read_only=True) as store, store.cursor() as cur:
        rows = cur.execute("SELECT command, actor, result FROM commands ORDER BY ts").fetchall()
    assert rows == [("PAUSE", "dashboard", "OK"), ("RESUME", "dashboard", "OK")]


def test_invalid_configuration_is_shown_with_the_key(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad setting stops the page with an error naming the key and its environment variable."""
    monkeypatch.setenv("PAPERTRADER_TRADING__RISK_PCT", "-1")
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert len(at.error) == 1
    assert "trading.risk_pct" in at.error[0].value
    assert "PAPERTRADER_TRADING__RISK_PCT" in at.error[0].value
