"""Audit log: every command a person sent (who, when, reason, result, detail), newest first, filterable by command.

Rows are written by the engine when it applies a command (``engine.loop.EngineLoop.apply_command``, through the
core's ``TradingCore.apply``) at a wall time; each is placed on market time (where the engine's market clock was then,
``dashboard.clock``) with the wall time beside it.
"""

from __future__ import annotations

import streamlit as st

from dashboard.clock import on_market_time, present
from dashboard.reads import shared_reads
from dashboard.runtime import get_runtime
from dashboard.show_table import show_table
from dashboard.tables import audit_table
from engine.commands import CommandKind
from storage import clock_queries
from storage.audit_queries import audit_log

LIMIT = 1000

runtime = get_runtime()

st.title("Audit log")
kinds = st.multiselect("Command", [k.value for k in CommandKind], key="audit_commands", placeholder="All commands")


@st.fragment(run_every=2)
def log_table() -> None:
    status = runtime.status()
    read = shared_reads(runtime).read
    frame = on_market_time(
        read(audit_log, commands=kinds, limit=LIMIT), read(clock_queries.clock_map), {"ts": "market"}, now=present(status)
    )
    if frame.empty:
        st.caption("No commands match" if kinds else "No commands yet")
        return
    st.caption(f"{len(frame):,} command(s), newest first" + (f" (the newest {LIMIT:,})" if len(frame) == LIMIT else ""))
    show_table(audit_table(frame), key="audit_table", empty="", height=min(700, 40 + 35 * len(frame)))


log_table()
