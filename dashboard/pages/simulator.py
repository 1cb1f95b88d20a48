"""Simulator (venue ``sim`` only): the fault-injection switches, the replay speed and a price shock.

Switches are drawn from :class:`simulator.faults.FaultSettings` (their help is the ``simulator.faults`` docstring)
and applied together with ``Faults.update``; a price shock schedules ``Market.shock`` from the next candle. Both
pass :func:`dashboard.auth.authorise`. They are not engine commands, so they are not in the audit log: each change
is logged (logger ``dashboard.simulator``) and listed on this page for the session.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from dashboard.auth import authorise, current_gate, sidebar_token
from dashboard.runtime import get_runtime
from simulator import faults as faults_module
from simulator.faults import FaultSettings
from storage import queries

log = logging.getLogger("dashboard.simulator")

_CHANGES_KEY = "simulator_changes"
_HELP = dict(re.findall(r"^ {4}(\w+) {2,}(.+)$", faults_module.__doc__ or "", flags=re.MULTILINE))

runtime = get_runtime()
simulator = runtime.simulator
gate = current_gate()

st.title("Simulator")
if simulator is None:
    st.info("The venue is not the simulator: there are no faults to inject.")
    st.stop()


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _note(what: str) -> None:
    """Keep a fault change for this page's list and the log (not the audit log: see the module docstring)."""
    log.info("simulator change from the dashboard: %s", what)
    st.session_state.setdefault(_CHANGES_KEY, []).insert(0, {"when (UTC)": datetime.now(UTC), "change": what})


@st.fragment(run_every=1)
def market_state() -> None:
    """Replay speed and market time, with what a shock would hit: open positions and the breaker."""
    with runtime.store.cursor() as cur:
        positions = len(queries.open_positions(cur))
    speed, clock, open_positions, breaker = st.columns(4)
    speed.metric("Replay speed", f"{runtime.settings.sim.speed:g}×", help="Market seconds per wall second (sim.speed)")
    clock.metric("Market time", _utc(simulator.market.now_ms())[:16], help="UTC, of the replayed market")
    open_positions.metric("Open positions", positions)
    breaker.metric("Breaker", runtime.status().breaker_state)


market_state()
if not gate.enabled:
    st.warning(gate.why, icon=":material/lock:")

st.subheader("Faults")
current = simulator.faults.settings
with st.form("faults_form"):
    values: dict[str, Any] = {}
    columns = st.columns(3)
    for index, (name, field) in enumerate(FaultSettings.model_fields.items()):
        value = getattr(current, name)
        label, help_text, key = name, _HELP.get(name), f"fault_{name}"
        with columns[index % 3]:
            if field.annotation is bool:
                values[name] = st.toggle(label, value=value, help=help_text, key=key)
            elif any(getattr(m, "le", None) == 1.0 for m in field.metadata):
                values[name] = st.slider(label, 0.0, 1.0, float(value), 0.01, help=help_text, key=key)
            elif field.annotation is int:
                values[name] = int(st.number_input(label, min_value=0, value=int(value), step=1, help=help_text, key=key))
            else:
                values[name] = float(st.number_input(label, min_value=0.0, value=float(value), step=0.5, help=help_text, key=key))
    apply = st.form_submit_button("Apply faults", type="primary", disabled=not gate.enabled, icon=":material/bolt:")
if apply:
    refused = authorise(gate, given=sidebar_token())
    changes = {name: v for name, v in values.items() if v != getattr(simulator.faults.settings, name)}
    if refused is not None:
        st.error(f"Refused: {refused}.", icon=":material/lock:")
    elif not changes:
        st.info("No switch changed.")
    else:
        try:
            simulator.faults.update(**changes)
        except ValidationError as exc:
            st.error(f"Not applied: {exc.errors()[0]['msg']}")
        else:
            _note(", ".join(f"{k}={v}" for k, v in changes.items()))
            st.success(f"Applied: {', '.join(f'{k} = {v}' for k, v in changes.items())}", icon=":material/bolt:")
active = {k: v for k, v in simulator.faults.settings.model_dump().items() if v != getattr(FaultSettings(), k)}
st.caption("Active faults: " + (", ".join(f"`{k}={v}`" for k, v in active.items()) if active else "none"))
if st.button("Switch every fault off", key="faults_reset", disabled=not gate.enabled or not active):
    refused = authorise(gate, given=sidebar_token())
    if refused is not None:
        st.error(f"Refused: {refused}.", icon=":material/lock:")
    else:
        simulator.faults.reset()
        _note("every fault off")
        st.rerun()

st.subheader("Price shock")
st.caption("Every symbol's price falls by the percentage over the candles, from the next candle on, and stays there "
           "(a negative percentage is a rise).")
pct_col, candles_col, button_col = st.columns([1, 1, 1], vertical_alignment="bottom")
pct = pct_col.number_input("Fall (%)", min_value=-1000.0, max_value=99.0, value=10.0, step=1.0, key="shock_pct")
candles = int(candles_col.number_input("Over candles", min_value=1, value=5, step=1, key="shock_candles"))
if button_col.button("Price shock", key="price_shock", type="primary", disabled=not gate.enabled, icon=":material/trending_down:"):
    refused = authorise(gate, given=sidebar_token())
    if refused is not None:
        st.error(f"Refused: {refused}.", icon=":material/lock:")
    else:
        shock = simulator.market.shock(pct=pct, candles=candles)
        _note(f"price shock {pct:g} % over {candles} candle(s) from {_utc(shock.start_ms)}")
        st.success(f"Price shock of {pct:g} % over {candles} candle(s) scheduled from {_utc(shock.start_ms)}", icon=":material/trending_down:")
if simulator.market.shocks:
    st.dataframe(
        pd.DataFrame([{"from (market time)": _utc(s.start_ms), "pct": s.pct, "candles": s.candles} for s in simulator.market.shocks]),
        hide_index=True,
        key="shocks_table",
    )

st.subheader("Changes this session")
changes_made = st.session_state.get(_CHANGES_KEY, [])
if changes_made:
    st.dataframe(pd.DataFrame(changes_made), hide_index=True, key="changes_table")
else:
    st.caption("None yet. Fault switches and shocks are logged, not written to the audit log.")
