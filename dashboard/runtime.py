"""The one engine Runtime of this Streamlit process, shared by every browser session.

``get_runtime`` is an ``st.cache_resource``: the first script run starts the Runtime (simulator, store,
recorder, engine thread) and every later run, in any session, gets the same object. The Runtime is
stopped when the process exits (``atexit``: Streamlit turns SIGTERM/Ctrl-C into a normal shutdown),
and when the cache entry is cleared (``get_runtime.clear()``, which tests use), so the DuckDB file is
flushed and closed either way.
"""

from __future__ import annotations

import atexit

import duckdb
import streamlit as st
from pydantic import ValidationError

from dashboard.auth import admin_token
from engine.config import Settings, describe_validation_error
from engine.errors import ConfigError
from engine.runtime import Runtime
from storage.errors import StoreError


def _release(runtime: Runtime) -> None:
    atexit.unregister(runtime.stop)
    runtime.stop()


@st.cache_resource(show_spinner="Starting the engine…", on_release=_release)
def get_runtime() -> Runtime:
    """Start the process-wide Runtime from ``Settings()`` (env ``PAPERTRADER_*`` and the TOML file), with the admin
    token of :func:`dashboard.auth.admin_token` guarding its operations endpoint (``[metrics]``).

    An invalid configuration is shown as an ``st.error`` naming each offending key (and its
    environment variable), or the file / variable at fault (:class:`~engine.errors.ConfigError`), and
    the script run stops there; so does a database that cannot be opened (held by another process,
    not a papertrader database: :class:`~storage.errors.StoreError`). Nothing is cached, so the next
    run tries again.
    """
    try:
        settings = Settings()
    except ValidationError as exc:
        st.error(config_error_message(exc))
        st.stop()
    except ConfigError as exc:
        st.error(f"**Invalid configuration**: {exc}")
        st.stop()
    try:
        runtime = Runtime(settings, admin_token=admin_token()).start()
    except ConfigError as exc:  # e.g. a symbol the simulator has no data for
        st.error(f"**Invalid configuration**: {exc}")
        st.stop()
    except StoreError as exc:
        st.error(f"**Cannot open the database**: {exc}")
        st.stop()
    atexit.register(runtime.stop)
    return runtime


def store_cursor(runtime: Runtime) -> duckdb.DuckDBPyConnection:
    """A new cursor on the started ``runtime``'s store, for the calling thread (``with store_cursor(runtime) as cur``).

    Raises:
        RuntimeError: ``runtime`` has not been started (it has no store yet).
    """
    if runtime.store is None:
        raise RuntimeError("the Runtime has not been started: it has no store")
    return runtime.store.cursor()


def config_error_message(exc: ValidationError) -> str:
    """A Markdown list with one line per invalid setting: dotted key, env variable, problem."""
    lines = ["**Invalid configuration**: fix these settings (TOML file or environment) and reload."]
    lines += [f"- {line}" for line in describe_validation_error(exc)]
    return "\n".join(lines)
