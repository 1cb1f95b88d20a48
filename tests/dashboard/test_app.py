"""The dashboard script under ``streamlit.testing.v1.AppTest``, with the real Runtime (simulator, engine, DuckDB)
behind it: every page renders, and every control acts through the engine and lands in the audit log."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from dashboard.runtime import get_runtime, stop_engine
from engine.runtime import Runtime
from storage import position_queries, queries
from storage.store import Store

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
TOKEN = "s3cret-admin-token"


@pytest.fixture
def tripping(monkeypatch: pytest.MonkeyPatch) -> None:
    """A breaker that trips at 1 % daily loss (warning at 0.5 %), so a price shock trips it for sure."""
    monkeypatch.setenv("PAPERTRADER_BREAKER__DAILY_LOSS_PCT", "1.0")
    monkeypatch.setenv("PAPERTRADER_BREAKER__WARNING_PCT", "0.5")


def _app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert not at.exception, at.exception
    return at


def _wait(condition: Callable[[], object], *, timeout_s: float = 30.0, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def _count(runtime: Runtime, table: str) -> int:
    with runtime.store.cursor() as cur:
        return queries.table_counts(cur).get(table, 0)


def _trip(runtime: Runtime) -> None:
    """Wait for an open position, then shock every price down 50 % in one candle until the breaker trips."""
    def position_open() -> bool:
        with runtime.store.cursor() as cur:
            return not position_queries.open_positions(cur).empty

    _wait(position_open, what="an open position")
    runtime.simulator.market.shock(pct=50, candles=1)
    _wait(lambda: runtime.status().breaker_state == "TRIPPED", what="the breaker to trip")


def _audit(db_path: Path) -> list[tuple[str, str, str, str]]:
    stop_engine()
    with Store(db_path, read_only=True) as store, store.cursor() as cur:
        return cur.execute("SELECT command, actor, reason, result FROM commands ORDER BY ts").fetchall()


def test_overview_shows_kpis_and_pause_resume_is_audited(db_path: Path) -> None:
    """The page renders the seven KPI tiles; Pause turns the button into Resume, Resume back; both are audited."""
    at = _app()
    assert [m.label for m in at.metric] == [
        "Equity (USDT)", "P&L today (USDT)", "Total P&L (USDT)", "Drawdown", "Engine", "Breaker", "Market"
    ]
    assert at.title[0].value == "Overview"

    button = at.button(key="pause_resume")
    assert button.label == "Pause trading"
    at = button.click().run()
    assert at.button(key="pause_resume").label == "Resume trading"
    assert at.metric[4].value == "PAUSED"
    assert "Trading paused" in at.toast[0].value
    at = at.button(key="pause_resume").click().run()
    assert at.button(key="pause_resume").label == "Pause trading"

    assert [(c, a, r) for c, a, _, r in _audit(db_path)] == [("PAUSE", "dashboard", "OK"), ("RESUME", "dashboard", "OK")]


def test_sidebar_shows_engine_breaker_and_market(db_path: Path) -> None:
    text = " ".join(m.value for m in _app().sidebar.markdown)
    assert "**Engine**" in text and "**Breaker** `ACTIVE`" in text and "**Market**" in text
    assert "**Strategy** `sma_crossover(fast=9, slow=21)` on `1m` candles" in text  # what runs, with its parameters


@pytest.mark.parametrize(("page", "title"), [
    ("pages/guards.py", None),
    ("pages/trades.py", "Trades"),
    ("pages/audit.py", "Audit log"),
    ("pages/simulator.py", "Simulator"),
])
def test_every_page_renders(db_path: Path, page: str, title: str | None) -> None:
    """Each page of the navigation runs without an exception (Guards belongs to its own tests)."""
    at = _app().switch_page(page).run()
    assert not at.exception, at.exception
    if title is not None:
        assert at.title[0].value == title


def test_reset_breaker_is_disabled_with_the_reason_unless_tripped(db_path: Path) -> None:
    at = _app()
    reset = at.button(key="reset_breaker")
    assert reset.disabled
    assert any("Only a TRIPPED breaker can be reset (now ACTIVE)" in c.value for c in at.caption)


def test_reset_breaker_needs_a_reason_and_the_token_then_is_audited(
    db_path: Path, tripping: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With an admin token configured: after a trip, Reset without a reason and with a wrong token are refused in
    the dialog (nothing reaches the engine); with both, the breaker is ACTIVE again and the audit row has the reason."""
    monkeypatch.setenv("PAPERTRADER_ADMIN_TOKEN", TOKEN)
    at = _app()
    assert at.sidebar.text_input(key="admin_token_input").label == "Admin token"
    _trip(get_runtime())
    at.run()
    assert at.metric[5].value == "TRIPPED"

    at = at.button(key="reset_breaker").click().run()
    at = at.button(key="reset_confirm").click().run()
    assert at.error[0].value.startswith("Breaker tripped at ")  # the trip reason, on the Overview
    assert "daily loss" in at.error[0].value
    assert any("A reason is required" in e.value for e in at.error)
    at.text_input(key="reset_reason").input("shock test over")
    at.text_input(key="reset_token").input("wrong")
    at = at.button(key="reset_confirm").click().run()
    assert any("Wrong admin token" in e.value for e in at.error)
    assert TOKEN not in str(at)
    assert get_runtime().status().breaker_state == "TRIPPED"

    at.text_input(key="reset_token").input(TOKEN)
    at = at.button(key="reset_confirm").click().run()
    assert not at.exception, at.exception
    assert get_runtime().status().breaker_state == "ACTIVE"
    assert at.metric[5].value == "ACTIVE"
    assert "Breaker reset" in at.toast[0].value

    assert _audit(db_path) == [("RESET_BREAKER", "dashboard", "shock test over", "OK")]


def test_flatten_all_asks_for_confirmation_and_is_audited(db_path: Path) -> None:
    at = _app()
    at = at.button(key="flatten").click().run()
    assert at.button(key="flatten_confirm").label == "Flatten all positions"
    at = at.button(key="flatten_confirm").click().run()
    assert not at.exception, at.exception
    assert at.toast

    [(command, actor, _, result)] = _audit(db_path)
    assert (command, actor) == ("FLATTEN", "dashboard")
    assert result in ("OK", "IGNORED")


def test_the_dialog_never_prefills_the_token(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The token typed in the sidebar is not drawn into the dialog's field: a value the server sets travels back to
    the browser. (That the dialog falls back to the sidebar's token is a browser test: AppTest drops the sidebar's
    value on a fragment rerun, which a browser does not.)"""
    monkeypatch.setenv("PAPERTRADER_ADMIN_TOKEN", TOKEN)
    at = _app()
    at = at.sidebar.text_input(key="admin_token_input").input(TOKEN).run()
    at = at.button(key="flatten").click().run()
    field = at.text_input(key="flatten_token")
    assert (field.value, field.proto.default) == ("", "")
    assert TOKEN not in str(field.proto)


def test_pause_with_a_wrong_token_is_refused(db_path: Path) -> None:
    """A token from ``st.secrets``: Pause with the wrong one shows "Refused" and sends nothing."""
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.secrets["admin_token"] = TOKEN
    at.run()
    at.sidebar.text_input(key="admin_token_input").input("nope")
    at = at.button(key="pause_resume").click().run()
    assert "Refused: Wrong admin token" in at.toast[0].value
    assert at.button(key="pause_resume").label == "Pause trading"
    assert _audit(db_path) == []


def test_controls_are_disabled_on_a_public_address_without_a_token(db_path: Path) -> None:
    st_config.set_option("server.address", "0.0.0.0")
    at = _app()
    assert all(at.button(key=key).disabled for key in ("pause_resume", "reset_breaker", "flatten"))
    assert "Controls are disabled" in at.sidebar.warning[0].value


def test_trades_page_filters_totals_and_downloads(db_path: Path) -> None:
    """Fills and closed trades of the replay, with totals; the side filter keeps only sells; CSV and Parquet."""
    at = _app()
    runtime = get_runtime()
    _wait(lambda: _count(runtime, "trades") > 0, what="a closed trade")
    at = at.switch_page("pages/trades.py").run()
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Trades"]) >= 1
    assert int(metrics["Fills"]) >= 2
    assert [d.proto.label for d in at.get("download_button")] == ["CSV", "Parquet", "CSV", "Parquet"]

    at = at.button_group(key="trades_side").set_value("Sell").run()
    assert set(at.dataframe[1].value["Side"]) == {"SELL"}
    at = at.multiselect(key="trades_symbols").select("BTCUSDT").run()
    at = at.selectbox(key="trades_range").select("Last hour").run()
    assert not at.exception, at.exception
    assert all(set(frame.value["Symbol"]) <= {"BTCUSDT"} for frame in at.dataframe)


def test_audit_page_lists_commands_newest_first_and_filters(db_path: Path) -> None:
    at = _app()
    at = at.button(key="pause_resume").click().run()
    at = at.button(key="pause_resume").click().run()
    _wait(lambda: get_runtime().status().market_time_ms is not None, what="market data")
    at = at.switch_page("pages/audit.py").run()
    frame = at.dataframe[0].value
    assert list(frame["Command"]) == ["RESUME", "PAUSE"]
    assert list(frame.columns) == ["Market time", "Wall time", "Command", "Result", "Who", "Reason", "Detail"]
    assert frame["Market time"].notna().all()  # placed on the engine's market clock
    at = at.multiselect(key="audit_commands").select("PAUSE").run()
    assert list(at.dataframe[0].value["Command"]) == ["PAUSE"]


def test_simulator_page_switches_faults_and_schedules_a_shock_through_audited_commands(db_path: Path) -> None:
    """Apply, Price shock and Switch every fault off are engine commands: applied to the simulator and audited."""
    at = _app().switch_page("pages/simulator.py").run()
    runtime = get_runtime()
    assert [m.label for m in at.metric] == ["Replay speed", "Market time (UTC)", "Open positions", "Breaker"]
    assert at.metric[0].value == "600×"
    at.number_input(key="fault_rest_delay_ms").set_value(5)
    at = at.button(key="FormSubmitter:faults_form-Apply faults").click().run()
    assert runtime.simulator.faults.settings.rest_delay_ms == 5

    at.number_input(key="shock_pct").set_value(3.0)
    at.number_input(key="shock_candles").set_value(2)
    at = at.button(key="price_shock").click().run()
    [shock] = runtime.simulator.market.shocks
    assert (shock.pct, shock.candles) == (3.0, 2)

    at = at.button(key="faults_reset").click().run()
    assert runtime.simulator.faults.settings.rest_delay_ms == 0
    assert [(c, r) for c, _, _, r in _audit(db_path)] == [("SET_FAULTS", "OK"), ("PRICE_SHOCK", "OK"), ("RESET_FAULTS", "OK")]


def test_invalid_configuration_is_shown_with_the_key(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad setting stops the page with an error naming the key and its environment variable."""
    monkeypatch.setenv("PAPERTRADER_TRADING__RISK_PCT", "-1")
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert len(at.error) == 1
    assert "trading.risk_pct" in at.error[0].value
    assert "PAPERTRADER_TRADING__RISK_PCT" in at.error[0].value
