"""Reads of the audit log (table ``commands``) for the dashboard's Audit page.

Timestamps come back as aware UTC; every function takes a cursor of the caller's thread (``Store.cursor()``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pandas as pd

AUDIT_COLUMNS = ("ts", "command", "actor", "reason", "result", "detail")


def audit_log(cur: duckdb.DuckDBPyConnection, *, commands: Sequence[str] = (), limit: int = 1000) -> pd.DataFrame:
    """The audit log, newest first, at most ``limit`` rows; only the ``commands`` kinds named (all when empty).

    Returns:
        ``ts`` (UTC wall time the engine applied it), ``command``, ``actor``, ``reason``, ``result``
        (OK | IGNORED | REFUSED), ``detail``.

    Raises:
        ValueError: ``limit`` < 1.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    where = "WHERE list_contains($commands, command)" if commands else ""
    params: dict[str, Any] = {"limit": limit}
    if commands:
        params["commands"] = list(commands)
    frame = cur.sql(
        f"SELECT {', '.join(AUDIT_COLUMNS)} FROM commands {where} ORDER BY ts DESC, recorded_at DESC LIMIT $limit",
        params=params,
    ).to_arrow_table().to_pandas()
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame
