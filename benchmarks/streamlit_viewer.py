"""Protocol-level Streamlit viewers: sessions that speak to the dashboard exactly as its browser page does over the
WebSocket, without drawing anything, so that a load benchmark can put twenty viewers on one server without twenty
browsers competing with it for the same cores.

What a page's Streamlit frontend (1.67) sends, recorded from a real Chromium page of the Overview (its WebSocket
frames decoded with ``streamlit.proto.BackMsg_pb2``) and checked against the frontend's own test ("triggers
rerunScript with is_auto_rerun set to true", ``frontend/app/src/App.test.tsx``):

1. connect to ``/_stcore/stream`` with the subprotocol ``streamlit`` and the page's ``Origin``;
2. one ``rerun_script`` (empty widget states, the page's ``context_info``): the whole page runs;
3. for every ``auto_rerun`` message (a fragment with ``run_every``: ``interval`` seconds, ``fragment_id``), a timer
   that sends ``rerun_script`` with that ``fragment_id``, ``is_auto_rerun``, the page's ``page_script_hash`` and
   the hashes of the messages it has cached, every ``interval`` seconds, whether or not the previous run has
   finished (a ``setInterval``);
4. a later ``auto_rerun`` for the same fragment replaces its timer; ``stop_auto_rerun`` ends them all.

A viewer keeps the hashes of the cacheable messages it received during its last few seconds and names them in
``cached_message_hashes``, as the frontend's message cache does, so the server may send a reference instead of a
repeated message (``ref_hash``).

Measured per viewer: bytes received and **refreshes** — a refresh is a change in the figure of any chart the page
shows (``dashboard.live_chart`` elements: the same signal the browser benchmark samples from the drawn charts);
changes within ``COALESCE_S`` of the previous refresh are the same refresh (a refresh's charts arrive one after
another).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import ClientConnection, connect

CHART_COMPONENT = "papertrader.live_chart"
"""The component name of the dashboard's charts (``dashboard.live_chart.COMPONENT_NAME``; not imported, so that this
module needs nothing of the project)."""
COALESCE_S = 0.4
CACHE_S = 5.0
"""Seconds a received cacheable message's hash is named in later rerun requests."""


@dataclass
class Viewer:
    """One protocol-level session of the dashboard at ``url`` (``http://host:port``)."""

    url: str
    received_bytes: int = 0
    refreshes: list[float] = field(default_factory=list)
    """``time.monotonic()`` of every refresh (see the module docstring)."""
    errors: list[str] = field(default_factory=list)
    _specs: dict[tuple[int, ...], str] = field(default_factory=dict)
    _cached: deque[tuple[float, str]] = field(default_factory=deque)
    _timers: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _page_script_hash: str = ""

    async def run(self, stop: asyncio.Event) -> None:
        """View the page until ``stop`` is set; a failure or a connection closed by the server is kept in
        :attr:`errors` (the benchmark reports it)."""
        parts = urlsplit(self.url)
        try:
            async with connect(
                f"ws://{parts.netloc}/_stcore/stream", subprotocols=["streamlit"],  # type: ignore[list-item]
                origin=self.url, max_size=None,  # type: ignore[arg-type]
            ) as ws:
                await ws.send(self._rerun(fragment_id="", auto=False))
                receiving, stopping = asyncio.create_task(self._receive(ws)), asyncio.create_task(stop.wait())
                await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if receiving.done():
                    stopping.cancel()
                    receiving.result()  # a failure of the connection, raised here
                    raise ConnectionError("the server closed the connection")
                receiving.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await receiving
        except Exception as exc:  # reported by the benchmark, which then stops
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            for timer in self._timers.values():
                timer.cancel()

    def reset(self) -> None:
        """Forget what was measured so far (the warm-up)."""
        self.received_bytes = 0
        self.refreshes.clear()

    @property
    def warm(self) -> bool:
        """Whether the page has shown a chart."""
        return bool(self._specs)

    async def _receive(self, ws: ClientConnection) -> None:
        async for frame in ws:
            data = frame if isinstance(frame, bytes) else frame.encode()
            self.received_bytes += len(data)
            message = ForwardMsg()
            message.ParseFromString(data)
            self._handle(ws, message)

    def _handle(self, ws: ClientConnection, message: ForwardMsg) -> None:
        now = time.monotonic()
        if message.metadata.cacheable and message.hash:
            self._cached.append((now, message.hash))
        kind = message.WhichOneof("type")
        if kind == "new_session":
            self._page_script_hash = message.new_session.page_script_hash
        elif kind == "auto_rerun":
            fragment_id = message.auto_rerun.fragment_id
            old = self._timers.pop(fragment_id, None)
            if old is not None:
                old.cancel()
            self._timers[fragment_id] = asyncio.create_task(self._every(ws, message.auto_rerun.interval, fragment_id))
        elif kind == "stop_auto_rerun":
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
        elif kind == "delta" and message.delta.new_element.WhichOneof("type") == "bidi_component":
            chart = message.delta.new_element.bidi_component
            if chart.component_name != CHART_COMPONENT:
                return
            path, spec = tuple(message.metadata.delta_path), chart.json
            if self._specs.get(path) != spec:
                self._specs[path] = spec
                if not self.refreshes or now - self.refreshes[-1] > COALESCE_S:
                    self.refreshes.append(now)

    async def _every(self, ws: ClientConnection, interval_s: float, fragment_id: str) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await ws.send(self._rerun(fragment_id=fragment_id, auto=True))

    def _rerun(self, *, fragment_id: str, auto: bool) -> bytes:
        message = BackMsg()
        state = message.rerun_script
        state.query_string = ""
        state.page_script_hash = self._page_script_hash
        state.fragment_id = fragment_id
        state.is_auto_rerun = auto
        state.cached_message_hashes.extend(self._recent_hashes())
        state.widget_states.SetInParent()
        context = state.context_info
        context.timezone, context.timezone_offset, context.locale = "UTC", 0, "en-US"
        context.url, context.is_embedded, context.color_scheme = f"{self.url}/", False, "light"
        return message.SerializeToString()

    def _recent_hashes(self) -> Iterable[str]:
        horizon = time.monotonic() - CACHE_S
        while self._cached and self._cached[0][0] < horizon:
            self._cached.popleft()
        return sorted({h for _, h in self._cached})
