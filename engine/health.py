"""Is the engine alive, and is it fit to trade? The checks behind ``/healthz`` and ``/readyz``
(:mod:`engine.ops_server`), and the heartbeat of the engine loop they read.

- **Liveness** (``/healthz``): the engine thread is running, its state is not FAILED or STOPPED, and its asyncio
  loop turned within ``metrics.loop_stall_s`` (the :class:`Heartbeat` task's last wake-up). Fails when the engine is
  dead or wedged, even though the web server (another thread) still answers.
- **Readiness** (``/readyz``): alive, and the engine has bootstrapped (exchange rules loaded, no warm-up gap left),
  the market stream is connected or has been reconnecting for less than ``metrics.max_disconnected_s``, the data lag
  is under ``metrics.max_data_lag_s``, and no row has waited ``metrics.max_flush_age_s`` without a flush committing.

Each check is a :class:`Check` with a one-line detail, so the JSON body says why. The functions are pure (time comes
in as arguments); the Runtime gathers the inputs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from engine.sinks.status import EngineState, EngineStatus

HEARTBEAT_INTERVAL_S = 0.5
"""How often the engine loop's heartbeat task wakes, seconds."""


class Heartbeat:
    """A task on the engine loop that wakes every ``interval_s``: when it last woke is the loop's sign of life, and
    how late it woke is the **loop lag** (how long callbacks wait behind the work on the loop, e.g. a synchronous
    flush after a fill).

    Args:
        interval_s: the period, seconds.
        clock: monotonic seconds.
        sleep: async sleep, seconds (tests pass one that advances a fake clock).
        on_lag: called with each wake-up's lag, seconds (the exporter's histogram), on the loop's thread.
    """

    def __init__(
        self,
        *,
        interval_s: float = HEARTBEAT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        on_lag: Callable[[float], None] | None = None,
    ) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._sleep = sleep
        self._on_lag = on_lag
        self.last_turn_s = clock()
        """Monotonic seconds of the last wake-up (of the construction, before the first)."""
        self.lag_s = 0.0
        """The latest wake-up's lag, seconds."""

    async def run(self) -> None:
        """Wake every ``interval_s`` until cancelled."""
        while True:
            due = self._clock() + self.interval_s
            await self._sleep(self.interval_s)
            self.beat(due)

    def beat(self, due_s: float) -> None:
        """A wake-up that was due at monotonic ``due_s``: record it and its lag (never negative)."""
        now = self._clock()
        self.lag_s = max(0.0, now - due_s)
        self.last_turn_s = now
        if self._on_lag is not None:
            self._on_lag(self.lag_s)

    def silent_s(self) -> float:
        """Seconds since the last wake-up."""
        return self._clock() - self.last_turn_s


@dataclass(frozen=True, slots=True)
class Check:
    """One condition: its ``name``, whether it holds, and a one-line ``detail`` with the figures."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The checks of ``/healthz`` or ``/readyz``; ``ok`` when every one holds."""

    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def body(self) -> dict[str, Any]:
        """The JSON body: ``{"status": "ok" | "fail", "checks": {name: {"ok", "detail"}}, "failing": [detail, ...]}``."""
        return {
            "status": "ok" if self.ok else "fail",
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in self.checks},
            "failing": [f"{c.name}: {c.detail}" for c in self.checks if not c.ok],
        }


@dataclass(frozen=True, slots=True)
class Vitals:
    """What the checks read, gathered by the Runtime at one instant.

    Attributes:
        status: the engine's status snapshot.
        thread_alive: the engine thread is running.
        loop_silent_s: seconds since the engine loop last turned (:meth:`Heartbeat.silent_s`); ``None`` without an
            engine loop.
        disconnected_s: seconds the market stream has been down (``None`` while connected or before the first
            connection).
        data_lag_s: seconds since the last market message (or since the engine started, before the first).
        buffered_rows: rows recorded but not yet committed.
        flush_age_s: seconds since the last flush committed (or since the recorder started).
    """

    status: EngineStatus
    thread_alive: bool
    loop_silent_s: float | None
    disconnected_s: float | None
    data_lag_s: float | None
    buffered_rows: int
    flush_age_s: float


@dataclass(frozen=True, slots=True)
class Limits:
    """The thresholds of ``[metrics]``, seconds."""

    loop_stall_s: float
    max_data_lag_s: float
    max_disconnected_s: float
    max_flush_age_s: float


def liveness(v: Vitals, limits: Limits) -> HealthReport:
    """The ``/healthz`` checks: ``thread``, ``state``, ``loop``."""
    state = v.status.state
    dead = state in (EngineState.FAILED, EngineState.STOPPED)
    silent = v.loop_silent_s
    return HealthReport((
        Check("thread", v.thread_alive, "the engine thread is running" if v.thread_alive else "the engine thread is not running"),
        Check("state", not dead, f"engine {state.value}" + (f": {v.status.error}" if dead and v.status.error else "")),
        Check(
            "loop",
            silent is not None and silent < limits.loop_stall_s,
            "no engine loop" if silent is None else f"the engine loop turned {silent:.1f} s ago (limit {limits.loop_stall_s:g} s)",
        ),
    ))


def readiness(v: Vitals, limits: Limits) -> HealthReport:
    """The ``/readyz`` checks: those of :func:`liveness`, then ``bootstrap``, ``stream``, ``data_lag``, ``flush``."""
    status = v.status
    warming = sorted({g.symbol for g in status.gaps if g.kind == "warmup"})
    if not status.rules_loaded:
        bootstrap = Check("bootstrap", False, "the exchange rules have not arrived yet")
    elif warming:
        bootstrap = Check("bootstrap", False, f"warming up {', '.join(warming)}")
    else:
        bootstrap = Check("bootstrap", True, "exchange rules loaded, every symbol warmed up")
    down = v.disconnected_s
    if status.market_connected:
        stream = Check("stream", True, "connected")
    elif down is None:
        stream = Check("stream", False, "not connected yet")
    else:
        stream = Check(
            "stream", down < limits.max_disconnected_s, f"down {down:.0f} s, reconnecting (limit {limits.max_disconnected_s:g} s)"
        )
    lag = v.data_lag_s
    data_lag = Check(
        "data_lag",
        lag is not None and lag < limits.max_data_lag_s,
        "no market message yet" if lag is None else f"last market message {lag:.1f} s ago (limit {limits.max_data_lag_s:g} s)",
    )
    stalled = v.buffered_rows > 0 and v.flush_age_s >= limits.max_flush_age_s
    flush = Check(
        "flush",
        not stalled,
        f"{v.buffered_rows} row(s) waiting, last flush committed {v.flush_age_s:.1f} s ago (limit {limits.max_flush_age_s:g} s)",
    )
    return HealthReport((*liveness(v, limits).checks, bootstrap, stream, data_lag, flush))
