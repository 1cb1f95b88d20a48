"""Audit log: every command a person sent (who, when, reason, result, detail), newest first, filterable by command.

Rows are written by the engine when it applies a command (``engine.loop.EngineLoop.apply_command``, through the
core's ``TradingCore.apply``).
"""

from __future__ import annotations

import streamlit as st

from dashboard.reads import read
from dashboard.runtime import get_runtime
from engine.commands import CommandKind
from storage.audit_queries import audit_log

LIMIT = 1000

runtime = get_runtime()

st.title("Audit log")
kinds = st.multiselect("Command", [k.value for k in CommandKind], key="audit_commands", placeholder="All commands")


@st.fragment(run_every=2)
def log_table() -> None:
    frame = read(runtime, audit_log, commands=kinds, limit=LIMIT)
    if frame.empty:
        st.caption("No commands match" if kinds else "No commands yet")
        return
    st.caption(f"{len(frame):,} command(s), newest first" + (f" (the newest {LIMIT:,})" if len(frame) == LIMIT else ""))
    st.dataframe(
        frame,
        hide_index=True,
        key="audit_table",
        column_config={
            "ts": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "command": "Command",
            "actor": "Who",
            "reason": "Reason",
            "result": "Result",
            "detail": "Detail",
        },
    )


log_table()
