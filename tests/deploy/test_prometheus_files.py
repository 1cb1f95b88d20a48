"""The shipped monitoring files are valid: ``promtool check config`` and ``check rules`` pass, the alert rules pass
their unit tests (``alerts_test.yml``: the 80 % weight for a minute, the 20 % retry rate over 5 minutes, ...), and
every papertrader metric that the rules and the Grafana dashboard name is one the exporter has."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from engine.sinks import exporter as exporter_module

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
METRIC = re.compile(r"\bpapertrader_[a-z_]+")


def test_promtool_accepts_the_scrape_config(promtool) -> None:
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: prometheus.yml is valid" in result.stdout + result.stderr


def test_promtool_accepts_the_alert_rules(promtool) -> None:
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 7 rules found" in result.stdout


def test_the_alert_rules_pass_their_unit_tests(promtool) -> None:
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def metric_names(text: str) -> set[str]:
    """The papertrader metric names in ``text``, a histogram's series (``_bucket``, ``_count``, ``_sum``) and the
    ``_created`` samples folded into their family's name."""
    return {re.sub(r"_(bucket|count|sum|created)$", "", name) for name in METRIC.findall(text)}


def exported() -> set[str]:
    """Every metric name of a scrape in which every family has a sample."""
    from tests.engine.sinks.test_exporter import exporter_for, populated_sink, readings

    return metric_names(generate_latest(exporter_for(readings(populated_sink())).registry).decode())


def test_the_exporter_docstring_lists_exactly_what_a_scrape_has() -> None:
    assert metric_names(exporter_module.__doc__ or "") == exported()


@pytest.mark.parametrize("path", [DEPLOY / "prometheus" / "alerts.yml", DEPLOY / "grafana" / "papertrader.json"], ids=lambda p: p.name)
def test_every_metric_the_rules_and_the_dashboard_name_is_exported(path: Path) -> None:
    unknown = metric_names(path.read_text(encoding="utf-8")) - exported()
    assert not unknown, f"{path.name} names metrics the exporter does not have: {sorted(unknown)}"


def test_the_dashboard_is_grafana_json_with_a_datasource_and_engine_variables() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "papertrader.json").read_text(encoding="utf-8"))
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert {"job", "instance"} <= set(variables)
    titles = {p["title"] for p in dashboard["panels"]}
    expected = {"Equity", "Drawdown from peak", "Portfolio breaker", "Request-weight utilisation", "Retries by reason", "Open gaps"}
    assert expected <= titles
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
