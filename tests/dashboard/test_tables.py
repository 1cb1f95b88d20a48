"""The dashboard's pure table builders."""

from __future__ import annotations

from dashboard.tables import OPEN_GAP_COLUMNS, open_gaps_table
from engine.sinks.status import GapStatus

T0_MS = 1_619_114_400_000  # 2021-04-22 18:00 UTC


def test_open_gaps_show_span_age_attempts_and_error_oldest_first() -> None:
    newer = GapStatus("ETHUSDT", T0_MS, T0_MS + 60_000, 2, "gap", opened_at_s=1_000.0, attempts=0, last_error="", fetched=True)
    older = GapStatus(
        "BTCUSDT", T0_MS, T0_MS + 180_000, 4, "gap", opened_at_s=900.0, attempts=3, last_error="HTTP 429", fetched=False
    )

    table = open_gaps_table([newer, older], now_s=1_030.4)

    assert list(table.columns) == list(OPEN_GAP_COLUMNS)
    assert table.values.tolist() == [
        ["BTCUSDT", "2021-04-22 18:00", "2021-04-22 18:03", 4, "gap", "130 s", 3, "HTTP 429", "no"],
        ["ETHUSDT", "2021-04-22 18:00", "2021-04-22 18:01", 2, "gap", "30 s", 0, "", "yes"],
    ]


def test_no_gaps_is_an_empty_table_with_its_columns() -> None:
    table = open_gaps_table([], now_s=0.0)
    assert table.empty and list(table.columns) == list(OPEN_GAP_COLUMNS)
