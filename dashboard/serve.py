"""``make run``: the dashboard server, with the engine started at server start (``streamlit run dashboard/serve.py``).

A Streamlit ``st.App`` (Streamlit's ASGI application; ``streamlit run`` finds ``app`` here and serves it with
uvicorn) around ``dashboard/app.py``, with:

- a startup hook (the ASGI lifespan) that starts the process-wide Runtime (:func:`dashboard.runtime.start_engine`)
  before the first request, so the engine trades with no browser open, and stops it at shutdown (Ctrl-C, SIGTERM);
  a configuration or database that keeps it from starting is logged in one line, and every page shows it in full
  (and tries again) instead of the dashboard;
- :class:`dashboard.host_check.HostAllowList` in front of every request (``server.allowedHosts``).

``streamlit run dashboard/app.py`` still works, without the Host check on plain HTTP requests and with the engine
starting at the first page view.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import streamlit as st
from pydantic import ValidationError
from starlette.middleware import Middleware

from dashboard.host_check import HostAllowList
from dashboard.runtime import start_engine, stop_engine
from engine.config import describe_validation_error
from engine.errors import ConfigError
from storage.errors import StoreError

log = logging.getLogger("papertrader.dashboard")


@asynccontextmanager
async def engine_lifespan(_app: st.App) -> AsyncIterator[None]:
    """Start the engine before serving (in a worker thread: it takes a few seconds), stop it after."""
    try:
        engine = await asyncio.to_thread(start_engine)
    except (ValidationError, ConfigError, StoreError) as exc:
        problem = "; ".join(describe_validation_error(exc)) if isinstance(exc, ValidationError) else str(exc)
        log.error("papertrader: the engine did not start (the dashboard shows why): %s", problem)
    else:
        log.info("papertrader: engine started with the server: venue %s", engine.runtime.settings.venue.name)
    try:
        yield
    finally:
        await asyncio.to_thread(stop_engine)


app = st.App("app.py", lifespan=engine_lifespan, middleware=[Middleware(HostAllowList)])
