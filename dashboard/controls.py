"""Buttons that steer the engine. They only build a :class:`engine.commands.Command` and hand it to
``Runtime.submit``; the engine applies it between events and writes the audit row.

Each control acts in its ``on_click`` callback, which Streamlit runs before the (fragment) rerun the
click causes, and waits briefly for the engine to apply the command, so that very rerun already
shows the new state. The callback leaves its outcome in session state and the rerun shows it as a
toast (a callback of a fragment must not draw elements itself).
"""

from __future__ import annotations

import time

import streamlit as st

from engine.commands import Command, CommandKind
from engine.runtime import Runtime
from engine.status import EngineState, EngineStatus

ACTOR = "dashboard"
APPLY_TIMEOUT_S = 2.0
_POLL_S = 0.02

_TARGET = {CommandKind.PAUSE: EngineState.PAUSED, CommandKind.RESUME: EngineState.RUNNING}
_NOTICE_KEY = "controls_notice"
_DONE = {CommandKind.PAUSE: "Trading paused", CommandKind.RESUME: "Trading resumed"}


def pause_resume_button(runtime: Runtime, status: EngineStatus) -> None:
    """"Pause trading" while the engine runs, "Resume trading" while it is paused (key ``pause_resume``).

    Disabled when the engine has stopped or failed. Paused means no new entries; exits keep working.
    """
    notice = st.session_state.pop(_NOTICE_KEY, None)
    if notice is not None:
        st.toast(notice[0], icon=notice[1])
    paused = status.state is EngineState.PAUSED
    kind = CommandKind.RESUME if paused else CommandKind.PAUSE
    st.button(
        "Resume trading" if paused else "Pause trading",
        key="pause_resume",
        icon=":material/play_arrow:" if paused else ":material/pause:",
        type="primary" if paused else "secondary",
        disabled=status.state in (EngineState.STOPPED, EngineState.FAILED),
        help="Paused: no new entries; stops and targets keep working",
        on_click=_submit,
        args=(runtime, kind),
    )


def _submit(runtime: Runtime, kind: CommandKind) -> None:
    runtime.submit(Command(kind=kind, actor=ACTOR, reason="Overview page button"))
    deadline = time.monotonic() + APPLY_TIMEOUT_S
    while runtime.status().state is not _TARGET[kind]:
        if time.monotonic() >= deadline:
            pending = f"{kind.value} sent; the engine applies it at its next event"
            st.session_state[_NOTICE_KEY] = (pending, ":material/schedule:")
            return
        time.sleep(_POLL_S)
    st.session_state[_NOTICE_KEY] = (_DONE[kind], ":material/check_circle:")
