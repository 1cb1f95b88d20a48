"""A real Prometheus server scrapes a fleet of two running engines (each a Runtime on the simulator, its own
database and metrics port) found by file-based discovery, with the shipped alert rules loaded: PromQL sees each
engine, the breaker-state series of the shocked one turns TRIPPED and its alert fires, the retry counter of the one
in a 429 storm rises, and every query of the shipped Grafana dashboard runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.commands import Command, CommandKind
from engine.config import StorageSettings, StreamSettings
from engine.runtime import Runtime
from tests.deploy.conftest import DEPLOY

SHOCK_ATTEMPTS = 3


def config(tmp_path: Path, targets: list[dict[str, object]]) -> str:
    """One-second scrapes and rule evaluations, the shipped rules, the fleet job over a target file (JSON)."""
    (tmp_path / "engines.json").write_text(json.dumps(targets), encoding="utf-8")
    return (
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {DEPLOY / 'prometheus' / 'alerts.yml'}\n"
        "scrape_configs:\n  - job_name: papertrader-fleet\n    file_sd_configs:\n      - files: [engines.json]\n"
    )


def target(runtime: Runtime, engine: str) -> dict[str, object]:
    assert runtime.ops is not None
    return {"targets": [f"127.0.0.1:{runtime.ops.port}"], "labels": {"engine": engine}}


def trip_by_shock(runtime: Runtime, wait_for) -> None:
    """Wait for an open position, then a −50 % price shock through the engine's command; again if the position closed
    before the shocked candle came."""
    engine = runtime.engine
    assert engine is not None
    tripped = lambda: runtime.status().breaker_state == "TRIPPED"  # noqa: E731
    for _ in range(SHOCK_ATTEMPTS):
        wait_for(lambda: tripped() or bool(engine.core.portfolio.positions), "an open position", timeout_s=30)
        if tripped():  # a late trip of the shock before: a busy CPU slows the engine
            return
        runtime.submit(Command(CommandKind.PRICE_SHOCK, actor="test", params={"pct": 50, "candles": 1})).result(timeout=5)
        try:
            wait_for(tripped, "the trip", timeout_s=10)
            return
        except pytest.fail.Exception:
            continue
    pytest.fail(f"{SHOCK_ATTEMPTS} shocks did not trip the breaker")


@pytest.mark.timeout(180)
def test_prometheus_sees_the_fleet_a_trip_and_a_429_storm(prometheus, fast_settings, wait_for, tmp_path: Path) -> None:
    quick = StreamSettings(backoff_cap_s=0.5, stale_after_s=2.0)
    a_settings = fast_settings(stream=quick)
    b_settings = a_settings.model_copy(update={"storage": StorageSettings(path=tmp_path / "b.duckdb")})
    with Runtime(a_settings) as a, Runtime(b_settings) as b:
        server = prometheus(config(tmp_path, [target(a, "a"), target(b, "b")]))
        server.wait('count(up{job="papertrader-fleet"} == 1) == 2', "both engines scraped")
        server.wait('count(papertrader_engine_ready{job="papertrader-fleet"} == 1) == 2', "both engines ready", timeout_s=30)
        assert server.query('papertrader_breaker_state{state="TRIPPED"} == 1') == []
        assert server.query("sum by (engine) (papertrader_rest_retries_total)") == []

        trip_by_shock(a, wait_for)
        tripped = server.wait('papertrader_breaker_state{state="TRIPPED"} == 1', "the TRIPPED series")
        firing = server.wait('ALERTS{alertname="PapertraderBreakerTripped", alertstate="firing"}', "the breaker alert")
        transitions = server.wait('papertrader_breaker_transitions_total{state_to="TRIPPED"} > 0', "the transition counter")

        b.submit(Command(CommandKind.SET_FAULTS, actor="test", params={"rest_429_storm": True, "ws_drop_every_s": 0.5})).result(timeout=5)
        retries = server.wait('sum by (engine, reason) (papertrader_rest_retries_total{engine="b"}) > 0', "retries", timeout_s=30)
        requests = server.query('sum by (engine) (papertrader_rest_requests_total{engine="b", status="429"})')
        equity = server.query("papertrader_equity")
        dashboard = json.loads((DEPLOY / "grafana" / "papertrader.json").read_text(encoding="utf-8"))
        refused = []
        for expr in [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]:
            promql = expr.replace("$job", ".*").replace("$instance", ".*").replace("$__rate_interval", "5s")
            try:
                server.query(promql)
            except AssertionError as exc:
                refused.append(str(exc))

    assert [(r["metric"]["engine"], r["metric"]["job"]) for r in tripped] == [("a", "papertrader-fleet")]
    assert [r["metric"]["engine"] for r in firing] == ["a"] and firing[0]["metric"]["severity"] == "critical"
    assert {r["metric"]["engine"] for r in transitions} == {"a"}
    assert {r["metric"]["reason"] for r in retries} == {"429"}
    assert float(requests[0]["value"][1]) >= float(retries[0]["value"][1]) > 0
    assert {r["metric"]["engine"] for r in equity} == {"a", "b"}
    assert refused == [], "every Grafana query runs"
