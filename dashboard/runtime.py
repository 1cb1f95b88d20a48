"""The one engine Runtime of this Streamlit process, shared by every browser session.

The Runtime starts with the server: ``make run`` serves :mod:`dashboard.serve`, whose startup hook calls
:func:`start_engine` before the first page is requested, so the engine trades with no browser open. Pages get it
with :func:`get_runtime`; run without the launcher (``streamlit run dashboard/app.py``, or under ``AppTest``), the
first page view starts it instead.

Both go through one ``st.cache_resource`` entry, so every session in any thread gets the same object. The Runtime is
stopped when the process exits (``atexit``; the launcher's shutdown hook first), and when the cache entry is cleared
(:func:`stop_engine`, which tests use), so the DuckDB file is flushed and closed either way.
"""

from __future__ import annotations

import atexit
import time
from dataclasses import dataclass

import streamlit as st
from pydantic import ValidationError

from dashboard.auth import admin_token
from engine.config import Settings, describe_validation_error
from engine.errors import ConfigError
from engine.runtime import Runtime
from storage.errors import StoreError


@dataclass(frozen=True, slots=True)
class Engine:
    """The started Runtime and when it started (``time.monotonic()`` seconds)."""

    runtime: Runtime
    started_s: float

    def uptime_s(self) -> float:
        """Seconds since the Runtime started."""
        return time.monotonic() - self.started_s


def uptime_text(seconds: float) -> str:
    """``seconds`` as the largest two units: ``"42 s"``, ``"3 min 05 s"``, ``"2 h 07 min"``, ``"3 d 04 h"``."""
    s = int(seconds)
    days, hours, minutes = s // 86_400, s // 3_600 % 24, s // 60 % 60
    if days:
        return f"{days} d {hours:02d} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {s % 60:02d} s"
    return f"{s} s"


def _release(engine: Engine) -> None:
    atexit.unregister(engine.runtime.stop)
    engine.runtime.stop()


@st.cache_resource(show_spinner=False, on_release=_release)
def start_engine() -> Engine:
    """Start the process-wide Runtime from ``Settings()`` (env ``PAPERTRADER_*`` and the TOML file), with the admin
    token of :func:`dashboard.auth.admin_token` guarding its operations endpoint (``[metrics]``); every later call, in
    any thread, returns the same one.

    Raises (nothing is cached then, so the next call tries again):
        ValidationError: an invalid setting (:func:`config_error_message` describes it).
        ConfigError: a configuration file or variable at fault, or a symbol the simulator has no data for.
        StoreError: the database cannot be opened (held by another process, not a papertrader database).
    """
    runtime = Runtime(Settings(), admin_token=admin_token()).start()
    atexit.register(runtime.stop)
    return Engine(runtime, time.monotonic())


def stop_engine() -> None:
    """Stop the process-wide Runtime, if one was started, and forget it (the next :func:`start_engine` starts anew)."""
    start_engine.clear()


def get_engine() -> Engine:
    """:func:`start_engine` for a page: an invalid configuration is shown as an ``st.error`` naming each offending key
    (and its environment variable), or the file / variable at fault, and the script run stops there; so does a
    database that cannot be opened."""
    try:
        with st.spinner("Starting the engine…"):
            return start_engine()
    except (ValidationError, ConfigError, StoreError) as exc:
        st.error(startup_error_message(exc))
        st.stop()
        raise  # st.stop() raises; this line is for the type checker


def get_runtime() -> Runtime:
    """The started process-wide Runtime, for a page (:func:`get_engine`)."""
    return get_engine().runtime


def startup_error_message(exc: ValidationError | ConfigError | StoreError) -> str:
    """Why the Runtime did not start, as Markdown."""
    if isinstance(exc, ValidationError):
        return config_error_message(exc)
    if isinstance(exc, StoreError):
        return f"**Cannot open the database**: {exc}"
    return f"**Invalid configuration**: {exc}"


def config_error_message(exc: ValidationError) -> str:
    """A Markdown list with one line per invalid setting: dotted key, env variable, problem."""
    lines = ["**Invalid configuration**: fix these settings (TOML file or environment) and reload."]
    lines += [f"- {line}" for line in describe_validation_error(exc)]
    return "\n".join(lines)
