"""Simulator (venue ``sim`` only): the fault-injection switches, the replay speed and a price shock.

Switches are drawn from :class:`simulator.faults.FaultSettings`, labelled by their human names
(:mod:`dashboard.fault_names`); their help is the ``simulator.faults`` docstring.
Applying them, switching every fault off and a price shock are engine commands (SET_FAULTS, RESET_FAULTS,
PRICE_SHOCK): they pass :func:`dashboard.auth.authorise`, and the engine applies them to the embedded exchange and
writes the audit row, like Pause or Reset.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.auth import authorise, current_gate, sidebar_token
from dashboard.controls import ACTOR, show_notice, submit
from dashboard.fault_names import fault_name
from dashboard.reads import shared_reads
from dashboard.runtime import get_runtime
from engine.commands import Command, CommandKind
from simulator import faults as faults_module
from simulator.faults import FaultSettings
from storage import position_queries

_HELP = dict(re.findall(r"^ {4}(\w+) {2,}(.+)$", faults_module.__doc__ or "", flags=re.MULTILINE))

runtime = get_runtime()
simulator = runtime.simulator
gate = current_gate()

st.title("Simulator")
if simulator is None:
    st.info("The venue is not the simulator: there are no faults to inject.")
    st.stop()
market = simulator.market


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _apply(kind: CommandKind, **params: Any) -> None:
    """Send a simulator command through the engine, which applies and audits it; show its outcome."""
    outcome = submit(runtime, Command(kind=kind, actor=ACTOR, params=params))
    if outcome is not None and outcome[0] != "OK":
        st.error(f"Not applied: {outcome[1]}", icon=":material/block:")
    show_notice()


@st.fragment(run_every=1)
def market_state() -> None:
    """Replay speed and market time, with what a shock would hit: open positions and the breaker."""
    read = shared_reads(runtime).read
    positions = len(read(position_queries.open_positions))
    speed, clock, open_positions, breaker = st.columns(4)
    speed.metric("Replay speed", f"{runtime.settings.sim.speed:g}×", help="Market seconds per wall second (sim.speed)")
    now = datetime.fromtimestamp(market.now_ms() / 1000, tz=UTC)
    clock.metric(
        "Market time (UTC)", f"{now:%H:%M:%S}", f"{now:%a %Y-%m-%d}", "gray", delta_arrow="off",
        help=f"Of the replayed market: {_utc(market.now_ms())}",
    )
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
        label, help_text, key = fault_name(name), f"`{name}`: {_HELP.get(name, '')}", f"fault_{name}"
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
        _apply(CommandKind.SET_FAULTS, **changes)
active = {k: v for k, v in simulator.faults.settings.model_dump().items() if v != getattr(FaultSettings(), k)}
st.caption("Active faults: " + (", ".join(f"{fault_name(k)} = {v}" for k, v in active.items()) if active else "none"))
if st.button("Switch every fault off", key="faults_reset", disabled=not gate.enabled or not active):
    refused = authorise(gate, given=sidebar_token())
    if refused is not None:
        st.error(f"Refused: {refused}.", icon=":material/lock:")
    else:
        _apply(CommandKind.RESET_FAULTS)
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
        _apply(CommandKind.PRICE_SHOCK, pct=pct, candles=candles)
if market.shocks:
    st.dataframe(
        pd.DataFrame(
            [{"From (market time)": _utc(s.start_ms), "Fall (%)": s.pct, "Over candles": s.candles} for s in market.shocks]
        ),
        hide_index=True,
        key="shocks_table",
    )

st.caption("Every change made here is applied by the engine and written to the Audit log (who, when, what).")
