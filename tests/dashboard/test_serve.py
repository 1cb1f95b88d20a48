"""``dashboard.serve``: the engine starts with the server (the ASGI lifespan), before any page is viewed, and stops
with it; a configuration that keeps it from starting is logged in one line and the server still comes up."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from dashboard.runtime import start_engine, uptime_text
from dashboard.serve import app, engine_lifespan
from storage import queries
from storage.store import Store


def test_the_engine_trades_from_server_start_without_a_page_and_stops_with_the_server(db_path: Path) -> None:
    async def serve() -> int:
        async with engine_lifespan(app):
            engine = start_engine()  # what the first page view will get: the one already running
            runtime = engine.runtime
            deadline = time.monotonic() + 60
            while True:
                with runtime.store.cursor() as cur:
                    rows = queries.table_counts(cur).get("equity", 0)
                if rows or time.monotonic() > deadline:
                    return rows
                await asyncio.sleep(0.1)

    assert asyncio.run(serve()) > 0, "no equity row: the engine did not trade without a page"
    with Store(db_path, read_only=True) as store, store.cursor() as cur:  # closed: another process may open it
        assert queries.table_counts(cur)["equity"] > 0


def test_a_bad_configuration_is_one_log_line_and_the_server_still_starts(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PAPERTRADER_BREAKER__DAILY_LOSS_PCT", "-1")

    async def serve() -> None:
        async with engine_lifespan(app):
            pass

    with caplog.at_level(logging.ERROR, logger="papertrader.dashboard"):
        asyncio.run(serve())
    [record] = caplog.records
    assert "breaker.daily_loss_pct (PAPERTRADER_BREAKER__DAILY_LOSS_PCT)" in record.getMessage()
    assert record.exc_info is None and "\n" not in record.getMessage()
    with pytest.raises(ValidationError):  # nothing cached: a page tries again and shows the problem
        start_engine()


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (42.9, "42 s"), (185, "3 min 05 s"), (7_620, "2 h 07 min"), (273_600, "3 d 04 h")],
)
def test_uptime_reads_in_its_two_largest_units(seconds: float, text: str) -> None:
    assert uptime_text(seconds) == text
