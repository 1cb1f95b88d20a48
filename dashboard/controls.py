"""Buttons that steer the engine: Pause / Resume, Reset breaker and Flatten all.

They only build a :class:`engine.commands.Command` and hand it to ``Runtime.submit``; the engine applies it
between events and writes the audit row (who, when, reason, result, detail). Every control first passes
:func:`dashboard.auth.authorise` (admin token, local bind address).

After submitting, a control waits up to ``APPLY_TIMEOUT_S`` for the result of its own command (the engine's
verdict: OK, IGNORED or REFUSED with a detail, through the future ``Runtime.submit`` returns; the engine is woken at
once) and for the engine status to show the effect, so the very rerun the
click causes already shows the new state. The outcome is left in session state and shown by the next
:func:`show_notice` as a toast (a callback or a dialog must not draw the page's elements itself).

Reset breaker and Flatten all ask for confirmation in a dialog (``st.dialog``); Reset requires a reason, which
goes into the audit row and the breaker event.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout

import streamlit as st

from dashboard.auth import Gate, authorise, dialog_token_input, sidebar_token
from engine.commands import Command, CommandKind
from engine.runtime import Runtime
from engine.sinks.status import EngineState, EngineStatus

ACTOR = "dashboard"
APPLY_TIMEOUT_S = 2.0
_POLL_S = 0.02
_NOTICE_KEY = "controls_notice"
_DIALOG_KEY = "controls_dialog"
_RESULT_ICON = {"OK": ":material/check_circle:", "IGNORED": ":material/info:", "REFUSED": ":material/block:"}
_DONE = {
    CommandKind.PAUSE: "Trading paused",
    CommandKind.RESUME: "Trading resumed",
    CommandKind.RESET_BREAKER: "Breaker reset",
    CommandKind.FLATTEN: "Flatten all",
    CommandKind.SET_FAULTS: "Faults applied",
    CommandKind.RESET_FAULTS: "Faults off",
    CommandKind.PRICE_SHOCK: "Price shock scheduled",
}
_EFFECT: dict[CommandKind, Callable[[EngineStatus], bool]] = {
    CommandKind.PAUSE: lambda s: s.state is EngineState.PAUSED,
    CommandKind.RESUME: lambda s: s.state is EngineState.RUNNING,
    CommandKind.RESET_BREAKER: lambda s: s.breaker_state != "TRIPPED",
    CommandKind.FLATTEN: lambda s: True,
    CommandKind.SET_FAULTS: lambda s: True,
    CommandKind.RESET_FAULTS: lambda s: True,
    CommandKind.PRICE_SHOCK: lambda s: True,
}
_STOPPED = (EngineState.STOPPED, EngineState.FAILED)


def show_notice() -> None:
    """Show (once) the toast a control left behind: the engine's verdict on the last command."""
    notice = st.session_state.pop(_NOTICE_KEY, None)
    if notice is not None:
        st.toast(notice[0], icon=notice[1])


def control_buttons(runtime: Runtime, status: EngineStatus, gate: Gate) -> None:
    """Pause / Resume, Reset breaker and Flatten all side by side (keys ``pause_resume``, ``reset_breaker``,
    ``flatten``), and the confirmation dialog one of them opened.

    Which dialog is open lives in session state (set by the button, cleared by confirming, Cancel or dismissing),
    so a rerun of the page keeps it open instead of closing it.
    """
    show_notice()
    pause, reset, flatten = st.columns(3)
    with pause:
        pause_resume_button(runtime, status, gate)
    with reset:
        reset_breaker_button(runtime, status, gate)
    with flatten:
        flatten_button(runtime, status, gate)
    dialog = st.session_state.get(_DIALOG_KEY)
    if dialog == "reset" and status.breaker_state == "TRIPPED" and gate.enabled:
        reset_dialog(runtime, gate)
    elif dialog == "flatten" and gate.enabled:
        flatten_dialog(runtime, gate)
    else:
        st.session_state.pop(_DIALOG_KEY, None)


def pause_resume_button(runtime: Runtime, status: EngineStatus, gate: Gate) -> None:
    """"Pause trading" while the engine runs, "Resume trading" while it is paused (key ``pause_resume``).

    Disabled when the engine has stopped or failed, or the gate is closed. Paused means no new entries; exits keep
    working.
    """
    paused = status.state is EngineState.PAUSED
    kind = CommandKind.RESUME if paused else CommandKind.PAUSE
    st.button(
        "Resume trading" if paused else "Pause trading",
        key="pause_resume",
        icon=":material/play_arrow:" if paused else ":material/pause:",
        type="primary" if paused else "secondary",
        disabled=status.state in _STOPPED or not gate.enabled,
        help=gate.why or "Paused: no new entries; stops and targets keep working",
        on_click=_on_pause_resume,
        args=(runtime, kind, gate),
    )


def reset_breaker_button(runtime: Runtime, status: EngineStatus, gate: Gate) -> None:
    """"Reset breaker" (key ``reset_breaker``): opens the confirmation dialog. Disabled, with the reason as its help
    and a caption, unless the breaker is TRIPPED."""
    tripped = status.breaker_state == "TRIPPED"
    why = gate.why or ("" if tripped else f"Only a TRIPPED breaker can be reset (now {status.breaker_state})")
    st.button(
        "Reset breaker",
        key="reset_breaker",
        icon=":material/restart_alt:",
        type="primary" if tripped else "secondary",
        disabled=not (tripped and gate.enabled) or status.state in _STOPPED,
        help=why or "Re-arm the breaker: new entries are allowed again; needs a reason",
        on_click=_open_dialog,
        args=("reset",),
    )
    if why and gate.enabled:
        st.caption(why)


def flatten_button(runtime: Runtime, status: EngineStatus, gate: Gate) -> None:
    """"Flatten all" (key ``flatten``): opens the confirmation dialog."""
    st.button(
        "Flatten all",
        key="flatten",
        icon=":material/close_fullscreen:",
        disabled=status.state in _STOPPED or not gate.enabled,
        help=gate.why or "Sell every open position now at market (slippage and fees apply)",
        on_click=_open_dialog,
        args=("flatten",),
    )


def _open_dialog(name: str) -> None:
    st.session_state[_DIALOG_KEY] = name


def _close_dialog() -> None:
    st.session_state.pop(_DIALOG_KEY, None)


@st.dialog("Reset breaker", on_dismiss=_close_dialog)
def reset_dialog(runtime: Runtime, gate: Gate) -> None:
    """Confirm a reset: a required reason (key ``reset_reason``), then Reset (key ``reset_confirm``)."""
    st.write("Re-arms the breaker: the day's loss baseline and the peak are re-based to current equity, and new "
             "entries are allowed again. The reason is kept in the audit log.")
    reason = st.text_input("Reason (required)", key="reset_reason", placeholder="why is it safe to trade again?")
    token = dialog_token_input(gate, key="reset_token")
    confirm, cancel = st.columns(2)
    if cancel.button("Cancel", key="reset_cancel"):
        _close_dialog()
        st.rerun()
    if confirm.button("Reset breaker", key="reset_confirm", type="primary", icon=":material/restart_alt:"):
        if not reason.strip():
            st.error("A reason is required to reset the breaker.", icon=":material/edit_note:")
            return
        refused = authorise(gate, given=token)
        if refused is not None:
            st.error(f"Refused: {refused}.", icon=":material/lock:")
            return
        submit(runtime, Command(kind=CommandKind.RESET_BREAKER, actor=ACTOR, reason=reason.strip()))
        _close_dialog()
        st.rerun()


@st.dialog("Flatten all", on_dismiss=_close_dialog)
def flatten_dialog(runtime: Runtime, gate: Gate) -> None:
    """Confirm selling every open position (key ``flatten_confirm``)."""
    st.write("Cancels pending entries and sells **every open position now**, at market (slippage and fees apply).")
    token = dialog_token_input(gate, key="flatten_token")
    confirm, cancel = st.columns(2)
    if cancel.button("Cancel", key="flatten_cancel"):
        _close_dialog()
        st.rerun()
    if confirm.button("Flatten all positions", key="flatten_confirm", type="primary", icon=":material/close_fullscreen:"):
        refused = authorise(gate, given=token)
        if refused is not None:
            st.error(f"Refused: {refused}.", icon=":material/lock:")
            return
        submit(runtime, Command(kind=CommandKind.FLATTEN, actor=ACTOR, reason="Flatten all (dashboard)"))
        _close_dialog()
        st.rerun()


def _on_pause_resume(runtime: Runtime, kind: CommandKind, gate: Gate) -> None:
    refused = authorise(gate, given=sidebar_token())
    if refused is not None:
        st.session_state[_NOTICE_KEY] = (f"Refused: {refused}", ":material/lock:")
        return
    submit(runtime, Command(kind=kind, actor=ACTOR, reason="Overview page button"))


def submit(runtime: Runtime, command: Command) -> tuple[str, str] | None:
    """Submit ``command``, wait up to ``APPLY_TIMEOUT_S`` for **its** result (the future ``Runtime.submit`` returns,
    resolved once the engine has applied and audited this very command, so another session's command is never
    taken for this one) and for its visible effect, and leave the outcome for :func:`show_notice`. Returns
    ``(result, detail)``, or ``None`` when the engine has not applied it in time."""
    deadline = time.monotonic() + APPLY_TIMEOUT_S
    future = runtime.submit(command)
    try:
        applied = future.result(timeout=APPLY_TIMEOUT_S)
    except FutureTimeout:
        pending = f"{command.kind.value} sent; the engine applies it at its next event"
        st.session_state[_NOTICE_KEY] = (pending, ":material/schedule:")
        return None
    outcome = result, detail = applied.result.value, applied.detail
    if result == "OK":
        while not _EFFECT[command.kind](runtime.status()) and time.monotonic() < deadline:
            time.sleep(_POLL_S)
    text = f"{_DONE[command.kind]}: {detail}" if result == "OK" else f"{command.kind.value} {result}: {detail}"
    st.session_state[_NOTICE_KEY] = (text, _RESULT_ICON.get(result, ":material/info:"))
    return outcome
