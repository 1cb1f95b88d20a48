"""The account's figures on their calendar and all-time baselines, next to the breaker's re-based ones."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from storage.account_queries import ACCOUNT_KEYS, account_figures

D = Decimal


def _reset(rows, minute: float, *, peak: str | None, day_start: str | None) -> dict[str, Any]:
    return {
        "ts": rows.at(minute), "kind": "BreakerReset", "state_from": "TRIPPED", "state_to": "ACTIVE",
        "equity": D("9300"), "daily_loss_pct": 7.0, "drawdown_pct": 8.0, "reason": "checked", "actor": "ops",
        "day_start_equity": None if day_start is None else D(day_start), "peak_equity": None if peak is None else D(peak),
    }


def test_none_before_the_first_snapshot(cur) -> None:
    assert account_figures(cur) is None


def test_without_a_reset_the_baselines_are_the_breakers(cur, write, rows) -> None:
    write("equity", rows.equity(1, equity=D("10100"), peak_equity=D("10200"), day_start_equity=D("10050")))

    figures = account_figures(cur)

    assert figures is not None and set(figures) == set(ACCOUNT_KEYS)
    assert (figures["calendar_day_start_equity"], figures["all_time_peak_equity"]) == (10_050.0, 10_200.0)
    assert figures["last_reset_ts"] is None


def test_a_reset_day_keeps_the_calendar_and_all_time_baselines(cur, write, rows) -> None:
    """Day start 10,000, peak 10,100; a 7 % loss trips the breaker and a reset re-bases both to 9,300. The breaker's
    baselines are 9,300; the calendar day's is still 10,000, the all-time peak still 10,100."""
    write(
        "equity",
        rows.equity(-10, equity=D("10100"), peak_equity=D("10100"), day_start_equity=D("9990")),  # the day before
        rows.equity(1, equity=D("10050"), peak_equity=D("10100"), day_start_equity=D("10000")),
        rows.equity(2, equity=D("9300"), peak_equity=D("10100"), day_start_equity=D("10000")),
        rows.equity(3, equity=D("9300"), peak_equity=D("9300"), day_start_equity=D("9300"), source="reset"),
        rows.equity(4, equity=D("9337"), peak_equity=D("9337"), day_start_equity=D("9300")),
    )
    write("breaker_events", _reset(rows, 3, peak="10100", day_start="10000"))

    figures = account_figures(cur)

    assert figures is not None
    assert (figures["equity"], figures["day_start_equity"], figures["peak_equity"]) == (9_337.0, 9_300.0, 9_337.0)
    assert figures["calendar_day_start_equity"] == 10_000.0
    assert figures["all_time_peak_equity"] == 10_100.0
    assert (figures["last_reset_ts"], figures["last_reset_actor"], figures["last_reset_reason"]) == (rows.at(3), "ops", "checked")


def test_a_reset_recorded_before_schema_v4_reads_the_peak_from_the_history(cur, write, rows) -> None:
    write(
        "equity",
        rows.equity(1, equity=D("10400"), peak_equity=D("10400")),
        rows.equity(3, equity=D("9000"), peak_equity=D("9000"), source="reset"),
    )
    write("breaker_events", _reset(rows, 3, peak=None, day_start=None))

    figures = account_figures(cur)

    assert figures is not None and figures["all_time_peak_equity"] == pytest.approx(10_400.0)
