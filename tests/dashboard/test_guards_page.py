"""The Guards page under ``streamlit.testing.v1.AppTest``, with the real Runtime (simulator, engine, DuckDB) behind
it and guard history seeded into the database before the Runtime opens it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

from dashboard.live_chart import COMPONENT_NAME as LIVE_CHART
from dashboard.runtime import get_runtime
from storage.recorder import Recorder
from storage.store import Store

PAGE = Path(__file__).resolve().parents[2] / "dashboard" / "pages" / "guards.py"

SUBHEADERS = ["Portfolio breaker", "REST rate limit and retries", "Market stream", "Data gaps", "Risk denials"]
CHARTS = 6  # gauges, drawdown, rate limit, retries, stream timeline, denials


def _seed(path: Path) -> None:
    """A trip, a 418 ban on a second host, failed REST attempts, a reconnect and two risk denials."""
    now = datetime.now(UTC)
    with Store(path) as store:
        recorder = Recorder(store)
        recorder.record("breaker_events", {
            "ts": now - timedelta(minutes=5), "kind": "BreakerTripped", "state_from": "WARNING", "state_to": "TRIPPED",
            "equity": Decimal("9400"), "daily_loss_pct": 6.0, "drawdown_pct": 6.0, "reason": "daily loss 6.00 % >= 5 %",
            "actor": "engine", "day_start_equity": Decimal("10000"), "peak_equity": Decimal("10000"),
        })
        recorder.record("rate_limit_samples", {
            "ts": now, "host": "banned.example", "used_weight": 5_900, "server_used_weight": 5_950,
            "weight_limit": 6_000, "utilisation_pct": 98.3, "waiting": 2, "wait_s": 1.5, "api_breaker": "OPEN",
            "banned_until": now + timedelta(minutes=10),
        })
        for second, reason in ((1, "429"), (2, "5xx"), (3, "timeout")):
            recorder.record("api_calls", {
                "ts": now - timedelta(seconds=second), "host": "banned.example", "endpoint": "/api/v3/klines",
                "status": None, "latency_ms": None, "attempt": 1, "delay_s": 2.0, "outcome": "retry", "reason": reason,
            })
        for second, event, attempt in ((30, "CONNECTED", 0), (20, "DISCONNECTED", 1), (10, "CONNECTED", 1)):
            recorder.record("ws_events", {
                "ts": now - timedelta(seconds=second), "event": event, "url": "ws://old", "code": 1006, "reason": "",
                "retry_in_s": 1.0, "attempt": attempt, "candles": None,
            })
        for code in ("STOP_TOO_TIGHT", "MAX_POSITIONS"):
            recorder.record("risk_denials", {"ts": now, "symbol": "BTCUSDT", "reason_code": code, "detail": ""})
        recorder.flush()


def test_guards_page_renders_every_section_on_a_fresh_database(db_path: Path) -> None:
    """No guard history yet: the page still shows every section, its charts and the ACTIVE breaker."""
    at = AppTest.from_file(str(PAGE), default_timeout=30).run()

    assert not at.exception
    assert at.title[0].value == "Guards"
    assert [h.value for h in at.subheader] == SUBHEADERS
    assert len(live_charts(at)) == CHARTS
    assert at.metric[0].label == "Breaker" and "ACTIVE" in at.metric[0].value


def test_guards_page_shows_a_latched_trip_a_ban_countdown_and_reconnects(db_path: Path) -> None:
    _seed(db_path)

    at = AppTest.from_file(str(PAGE), default_timeout=30).run()

    assert not at.exception
    assert "TRIPPED" in at.metric[0].value
    errors = [e.value for e in at.error]
    assert any("tripped" in e for e in errors)
    assert any("banned.example" in e and "banned (HTTP 418) for another" in e for e in errors)
    reconnects = next(m for m in at.metric if m.label == "Reconnects")
    assert reconnects.value == "1"
    assert len(live_charts(at)) == CHARTS


def test_open_gaps_show_with_their_span_attempts_and_last_error(db_path: Path) -> None:
    """The venue answers every REST request with a 5xx and the stream drops: the gaps stay open, and the page lists
    them with their failed attempts and the error; the ledger expander has them too."""
    at = AppTest.from_file(str(PAGE), default_timeout=30).run()
    runtime = get_runtime()
    assert runtime.simulator is not None
    deadline = time.monotonic() + 30
    while not (runtime.status().rules_loaded and runtime.status().last_candle_ms and not runtime.status().gaps):
        assert time.monotonic() < deadline, "the engine did not warm up"
        time.sleep(0.05)
    runtime.simulator.faults.update(rest_5xx_rate=1.0, ws_drop_every_s=0.3)
    while not any(g.attempts >= 1 for g in runtime.status().gaps):
        assert time.monotonic() < deadline + 30, "no failed backfill"
        time.sleep(0.05)

    at.run()

    assert not at.exception
    gaps_tile = next(m for m in at.metric if m.label == "Open gaps")
    assert int(gaps_tile.value) >= 1
    assert any("open gap(s)" in w.value for w in at.warning)
    open_table = next(df.value for df in at.dataframe if "Missing from" in df.value.columns)
    assert set(open_table["Symbol"]) <= {"BTCUSDT", "ETHUSDT"} and not open_table.empty
    assert open_table["Attempts"].max() >= 1
    assert open_table["Last error"].str.contains("HTTP 5").any()
    ledger = next(df.value for df in at.dataframe if "Found (wall)" in df.value.columns)
    assert "OPEN" in set(ledger["State"])


def live_charts(at: AppTest) -> list[Any]:
    """The page's charts (``dashboard.live_chart``: ``st.components.v2`` elements AppTest does not know)."""
    return [e for e in at.get("bidi_component") if e.proto.component_name == LIVE_CHART]
