"""The audit log for the Audit page and the controls, on a real DuckDB file with hand-made rows."""

from __future__ import annotations

import pytest

from storage.audit_queries import audit_log


def test_audit_log_is_newest_first_and_filters_by_command(cur, write, rows) -> None:
    write(
        "commands",
        rows.command(1, command="PAUSE"),
        rows.command(2, command="RESUME"),
        rows.command(3, command="RESET_BREAKER", reason="shock over"),
    )

    assert audit_log(cur)["command"].tolist() == ["RESET_BREAKER", "RESUME", "PAUSE"]
    assert audit_log(cur, commands=["PAUSE", "RESUME"])["command"].tolist() == ["RESUME", "PAUSE"]
    assert audit_log(cur, limit=1)["reason"].tolist() == ["shock over"]
    assert list(audit_log(cur).columns) == ["ts", "command", "actor", "reason", "result", "detail"]
    assert str(audit_log(cur)["ts"].dt.tz) == "UTC"


def test_limit_must_be_positive(cur) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        audit_log(cur, limit=0)
