"""The Runtime: everything one papertrader process runs, started and stopped as one.

It owns, in start order:

1. the :class:`~storage.store.Store` (the DuckDB file; one read-write process per file),
2. the :class:`~storage.recorder.Recorder` (batched writer, its own flush thread),
3. with venue ``sim``, the embedded exchange (:class:`~simulator.server.SimulatorServer`, uvicorn on
   127.0.0.1 with an ephemeral port, in the "simulator" thread),
4. the :class:`~engine.engine.Engine`, restored from the database (``engine.recovery``), on the "engine" thread
   with its own asyncio loop.

The dashboard starts one Runtime per process (``st.cache_resource``) and talks to it only through
:meth:`Runtime.submit` (commands) and :meth:`Runtime.status` (a frozen snapshot); it reads history from
:attr:`Runtime.store` with a cursor of its own thread.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import httpx

from engine.alerts import AlertSink
from engine.binance_rest import BinanceRestClient
from engine.binance_stream import KlineStream, exponential_backoff
from engine.commands import Command, CommandKind
from engine.config import Settings
from engine.engine import Engine
from engine.errors import EngineError
from engine.guards.api_breaker import ApiBreaker
from engine.guards.rate_limiter import RateLimiter
from engine.guards.retry import RetryPolicy
from engine.recovery import restore
from engine.status import EngineState, EngineStatus
from engine.strategy import SmaCrossover
from simulator.market import Market
from simulator.server import SimulatorServer
from storage.recorder import Recorder
from storage.store import Store

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0


class Runtime:
    """One paper-trading process: store, recorder, optional simulator, engine thread.

    Use ``Runtime(settings).start()`` and, once, :meth:`stop` (idempotent; also a context manager).

    Raises (from :meth:`start`):
        storage.errors.StoreLockedError: another process holds the database file.
        storage.errors.StoreError: the database cannot be opened or migrated.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store: Store | None = None
        self.recorder: Recorder | None = None
        self.simulator: SimulatorServer | None = None
        self.engine: Engine | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: str | None = None
        self._stopped = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Runtime:
        """Open the database, restore the account, start the simulator (venue ``sim``) and the engine thread."""
        settings = self.settings
        self.store = Store(settings.storage.path)
        try:
            self.recorder = Recorder(
                self.store,
                flush_interval_ms=settings.storage.flush_interval_ms,
                max_buffered_rows=settings.storage.max_buffered_rows,
            ).start()
            restored = restore(self.store.cursor(), starting_balance=Decimal(str(settings.trading.starting_balance)))
            if restored.cancelled_orders:
                log.warning("cancelled %d order(s) left unfilled by the previous run", restored.cancelled_orders)
            rest_url, ws_url = str(settings.venue.rest_url), str(settings.venue.ws_url)
            if settings.venue.name == "sim":
                self.simulator = SimulatorServer(
                    self._market(restored.resume_from_ms), update_interval_ms=settings.sim.update_interval_ms
                ).start()
                rest_url, ws_url = self.simulator.rest_url, self.simulator.ws_url
            self.engine = Engine(
                settings,
                recorder=self.recorder,
                strategy=SmaCrossover(fast=settings.strategy.fast, slow=settings.strategy.slow),
                portfolio=restored.portfolio,
                last_candle_ms=restored.last_candle_ms,
                paused=restored.paused,
                breaker_state=restored.breaker_state,
                entries_today=restored.entries_today,
            )
        except BaseException:
            self._close_resources()
            raise
        if self.simulator is not None:
            self.engine.venue_control = self._control_simulator
        self._thread = threading.Thread(target=self._run_engine, args=(rest_url, ws_url), name="engine", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=STOP_TIMEOUT_S)
        log.info("papertrader started: venue %s, database %s", settings.venue.name, settings.storage.path)
        return self

    def _market(self, resume_from_ms: int | None) -> Market:
        """The simulated market, starting at ``sim.start`` or, when the database holds later candles, at the
        minute after the last one processed (so a restart resumes instead of replaying old candles)."""
        sim = self.settings.sim
        start_ms = int(sim.start.timestamp() * 1000)
        if resume_from_ms is not None:
            start_ms = max(start_ms, resume_from_ms)
        return Market.replay(self.settings.trading.symbols, start_ms=start_ms, speed=sim.speed)

    def _run_engine(self, rest_url: str, ws_url: str) -> None:
        try:
            asyncio.run(self._main(rest_url, ws_url))
        except Exception as exc:  # the engine thread must report, never vanish silently
            log.exception("engine thread failed")
            self._failure = f"{type(exc).__name__}: {exc}"
            assert self.engine is not None
            self.engine.status = replace(self.engine.status, state=EngineState.FAILED, error=self._failure)
        finally:
            self._ready.set()

    async def _main(self, rest_url: str, ws_url: str) -> None:
        engine = self.engine
        assert engine is not None
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        alerts = AlertSink.from_settings(self.settings.alerts, retry=self._retry_policy(), on_attempt=engine.record_api_attempt)
        alerts.start()
        engine.alerts = alerts
        self._ready.set()
        try:
            await engine.run(self._rest_client(engine, rest_url), self._stream(ws_url), self._stop_event)
        finally:
            await alerts.aclose()

    def _control_simulator(self, command: Command) -> str:
        """Apply a SET_FAULTS / RESET_FAULTS / PRICE_SHOCK command to the embedded exchange; returns the audit detail.

        Raises:
            ValueError: invalid switches or shock size (pydantic's ValidationError is one).
        """
        assert self.simulator is not None
        params = dict(command.params)
        if command.kind is CommandKind.SET_FAULTS:
            self.simulator.faults.update(**params)
            return "faults: " + ", ".join(f"{name}={value}" for name, value in params.items())
        if command.kind is CommandKind.RESET_FAULTS:
            self.simulator.faults.reset()
            return "every fault off"
        try:
            pct, candles = float(params["pct"]), int(params["candles"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"a price shock needs pct and candles, got {params}") from exc
        shock = self.simulator.market.shock(pct=pct, candles=candles)
        start = datetime.fromtimestamp(shock.start_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
        return f"price shock {pct:g} % over {candles} candle(s) from {start}"

    def _retry_policy(self) -> RetryPolicy:
        """``[rest]`` backoff, shared by the REST client and the alert webhooks."""
        rest = self.settings.rest
        return RetryPolicy(
            max_retries=rest.max_retries,
            base_delay_s=rest.retry_base_s,
            max_delay_s=rest.retry_cap_s,
            jitter_pct=rest.retry_jitter_pct,
        )

    def _rest_client(self, engine: Engine, rest_url: str) -> BinanceRestClient:
        """The REST client behind its guards, configured from ``[rest]``; every attempt is recorded."""
        rest = self.settings.rest
        host = httpx.URL(rest_url).netloc.decode()
        return BinanceRestClient(
            rest_url,
            timeout_s=self.settings.venue.request_timeout_s,
            limiter=RateLimiter(
                limit=rest.weight_limit_per_minute, burst=rest.burst, max_wait_s=rest.max_wait_s, warn_pct=rest.warn_pct
            ),
            retry=self._retry_policy(),
            breaker=ApiBreaker(host=host, failure_threshold=rest.breaker_failures, reset_timeout_s=rest.breaker_reset_s),
            on_attempt=functools.partial(engine.record_api_attempt, host=host),
        )

    def _stream(self, ws_url: str) -> KlineStream:
        """The kline stream with the ``[stream]`` recovery settings."""
        s = self.settings.stream
        return KlineStream(
            ws_url,
            self.settings.trading.symbols,
            self.settings.trading.interval,
            backoff=functools.partial(exponential_backoff, cap_s=s.backoff_cap_s, jitter=s.jitter_pct / 100),
            stable_after_s=s.stable_after_s,
            stale_after_s=s.stale_after_s,
            max_attempts=s.max_attempts,
        )

    def stop(self) -> None:
        """Stop the engine (applying queued commands first), flush every buffered row, stop the simulator and
        close the database. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if self._loop is not None and self._stop_event is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stop_event.set)
            except RuntimeError:  # the loop closed between the check and the call
                pass
        if self._thread is not None:
            self._thread.join(timeout=STOP_TIMEOUT_S)
            if self._thread.is_alive():
                log.error("engine thread did not stop within %.0f s", STOP_TIMEOUT_S)
        if self.engine is not None:
            self.engine.drain_inbox()
        self._close_resources()
        log.info("papertrader stopped")

    def _close_resources(self) -> None:
        """Stop the simulator, flush and stop the recorder, close the store: each even if the one before failed."""
        try:
            if self.simulator is not None:
                self.simulator.stop()
        finally:
            try:
                if self.recorder is not None:
                    self.recorder.stop()
            finally:
                if self.store is not None:
                    self.store.close()

    def __enter__(self) -> Runtime:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ the UI's two doors
    def submit(self, command: Command) -> None:
        """Hand a person's command to the engine (any thread); it is applied and audited within ~50 ms.

        Raises:
            EngineError: the Runtime is not running.
        """
        if self.engine is None or self._stopped:
            raise EngineError("the engine is not running")
        self.engine.submit(command)

    def status(self) -> EngineStatus:
        """The engine's latest status snapshot (``STARTING`` before the engine exists)."""
        if self.engine is None:
            return EngineStatus(state=EngineState.STARTING, venue=self.settings.venue.name)
        return self.engine.status
