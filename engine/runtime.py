"""The Runtime: everything one papertrader process runs, started and stopped as one (the composition root).

It owns, in start order:

0. with ``metrics.enabled``, the operations endpoint (:class:`~engine.ops_server.OpsServer`: ``/metrics``,
   ``/healthz``, ``/readyz`` on ``metrics.host:metrics.port``, the "ops-server" thread) over a private
   :class:`~engine.sinks.exporter.Exporter` — bound first, so a port in use or an unprotected public address refuses
   the start before the database is touched,
1. the :class:`~storage.store.Store` (the DuckDB file; one read-write process per file),
2. the :class:`~storage.recorder.Recorder` (batched writer, its own flush thread; flushes timed,
   :class:`~engine.metered_recorder.MeteredRecorder`),
3. with venue ``sim``, the embedded exchange (:class:`~simulator.server.SimulatorServer`, uvicorn on 127.0.0.1 with
   an ephemeral port, in the "simulator" thread),
4. the :class:`~engine.core.core.TradingCore`, restored from the database (:mod:`engine.recovery`), and the
   :class:`~engine.loop.EngineLoop` that drives it on the "engine" thread with its own asyncio loop.

The dashboard starts one Runtime per process and talks to it only through :meth:`Runtime.submit` (commands; a future
of the result) and :meth:`Runtime.status` (a frozen snapshot); it reads history from :attr:`Runtime.store` with a
cursor of its own thread.

Stopping takes at most :data:`STOP_BUDGET_S` in every state (running, bootstrapping behind a 429 or a 418 ban,
mid-backfill, reconnecting): every task of the engine loop is cancelled, never waited out. The Store is closed only
after the engine thread has ended, and after the last rows are flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import replace
from datetime import UTC, datetime

from engine.commands import Command, CommandKind
from engine.config import Settings
from engine.core.core import TradingCore
from engine.core.events import CommandApplied
from engine.core.models import interval_ms
from engine.errors import ConfigError, EngineError
from engine.health import HealthReport, Limits, Vitals, liveness, readiness
from engine.loop import EngineLoop
from engine.metered_recorder import MeteredRecorder
from engine.ops_server import OpsServer, check_access, is_loopback
from engine.recovery import check_interval, restore, stored_history
from engine.sinks.exporter import Exporter, Readings
from engine.sinks.status import EngineState, EngineStatus
from simulator.dataset import Dataset, available_symbols
from simulator.klines_files import dir_symbols, load_datasets
from simulator.market import Market, shifted_to_now, start_within
from simulator.replay import ReplayClock
from simulator.server import SimulatorServer
from simulator.symbols import SYMBOL_RULES
from storage.store import Store

log = logging.getLogger(__name__)

STOP_BUDGET_S = 2.0
"""Longest a :meth:`Runtime.stop` may take in any state, seconds."""
THREAD_JOIN_S = 5.0
"""How long :meth:`Runtime.stop` waits for the engine thread before giving up on it (a bug: it then leaves the
database open rather than closing it under a live thread)."""
READY_TIMEOUT_S = 10.0


def warmup_candles(settings: Settings, strategy_warmup: int) -> int:
    """Closed candles a symbol needs before it trades: twice what the strategy and the ATR need."""
    return 2 * max(strategy_warmup, settings.trading.atr_period + 1)


class Runtime:
    """One paper-trading process: store, recorder, optional simulator, engine thread.

    Use ``Runtime(settings).start()`` and, once, :meth:`stop` (idempotent; also a context manager).

    Args:
        settings: the configuration.
        admin_token: the admin token (``PAPERTRADER_ADMIN_TOKEN``; the dashboard's may come from its secrets file):
            with one, the operations endpoint requires it as a bearer token; ``None`` or blank: no token.

    Raises (from :meth:`start`):
        ConfigError: the database holds candles of another interval than ``trading.interval``; with venue ``sim``,
            a traded symbol has no dataset (bundled, or in ``sim.data_dir``) or no
            simulator trading rules, or ``sim.data_dir`` is missing or holds a malformed file (the message names the
            file and line); the operations endpoint cannot listen on ``metrics.host:metrics.port``, or would serve a
            non-loopback host without a token (:func:`engine.ops_server.check_access`).
        storage.errors.StoreLockedError: another process holds the database file.
        storage.errors.StoreError: the database cannot be opened or migrated.
    """

    def __init__(self, settings: Settings, *, admin_token: str | None = None) -> None:
        self.settings = settings
        self._admin_token = admin_token if admin_token and admin_token.strip() else None
        self.exporter: Exporter | None = None
        self.ops: OpsServer | None = None
        self.store: Store | None = None
        self.recorder: MeteredRecorder | None = None
        self.simulator: SimulatorServer | None = None
        self.core: TradingCore | None = None
        self.engine: EngineLoop | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._stopped = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Runtime:
        """Start the operations endpoint (``metrics.enabled``), open the database, restore the account, start the
        simulator (venue ``sim``) and the engine thread."""
        settings = self.settings
        datasets = self._sim_datasets()
        self._start_ops()
        exporter = self.exporter
        try:
            self.store = Store(settings.storage.path)
            recorder = self.recorder = MeteredRecorder(
                self.store,
                flush_interval_ms=settings.storage.flush_interval_ms,
                max_buffered_rows=settings.storage.max_buffered_rows,
                on_flush=exporter.flush_seconds.observe if exporter is not None else None,
            )
            recorder.start()
            strategy = settings.strategy.build()
            with self.store.cursor() as cur:
                check_interval(cur, settings.trading.interval, path=settings.storage.path)
                restored = restore(cur, starting_balance=settings.trading.starting_balance)
                core = self.core = TradingCore(
                    settings,
                    strategy=strategy,
                    portfolio=restored.portfolio,
                    last_candle_ms=restored.last_candle_ms,
                    paused=restored.paused,
                    breaker_state=restored.breaker_state,
                    entries_today=restored.entries_today,
                )
                warmup = warmup_candles(settings, strategy.warmup)
                for symbol in settings.trading.symbols:
                    for candle in stored_history(cur, symbol, candles=warmup):
                        core.warm_up(candle, record=False)
            if restored.cancelled_orders:
                log.warning("cancelled %d order(s) left unfilled by the previous run", restored.cancelled_orders)
            rest_url, ws_url = str(settings.venue.rest_url), str(settings.venue.ws_url)
            if datasets is not None:
                self.simulator = SimulatorServer(
                    self._market(datasets, restored.resume_from_ms(interval_ms(settings.trading.interval))),
                    update_interval_ms=settings.sim.update_interval_ms,
                ).start()
                rest_url, ws_url = self.simulator.rest_url, self.simulator.ws_url
            self.engine = EngineLoop(
                settings,
                core=core,
                recorder=recorder,
                rest_url=rest_url,
                ws_url=ws_url,
                next_ms=restored.next_ms(interval_ms(settings.trading.interval)),
                gaps=restored.open_gaps,
                warmup_candles=warmup,
                venue_control=self._control_simulator if self.simulator is not None else None,
                on_loop_lag=exporter.loop_lag_seconds.observe if exporter is not None else None,
            )
        except BaseException:
            self._close_resources()
            raise
        self._thread = threading.Thread(target=self._run_engine, name="engine", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=READY_TIMEOUT_S)
        log.info("papertrader started: venue %s, database %s", settings.venue.name, settings.storage.path)
        return self

    def _start_ops(self) -> None:
        """With ``metrics.enabled``: the exporter and the operations endpoint, listening.

        Raises:
            ConfigError: see :func:`engine.ops_server.check_access` and :class:`engine.ops_server.OpsServer`.
        """
        m, s = self.settings.metrics, self.settings
        if not m.enabled:
            return
        check_access(host=m.host, token=self._admin_token, allow_unauthenticated=m.allow_unauthenticated)
        if self._admin_token is None and not is_loopback(m.host):
            log.warning("metrics.allow_unauthenticated: /metrics, /healthz and /readyz on %s are open to anyone who can reach it", m.host)
        self.exporter = Exporter(
            self._readings,
            venue=s.venue.name,
            quote_asset=s.trading.quote_asset,
            strategy=s.strategy.name,
            symbols=s.trading.symbols,
        )
        self.ops = OpsServer(
            host=m.host, port=m.port, registry=self.exporter.registry, health=self.health, ready=self.readiness, token=self._admin_token,
            allowed_hosts=m.allowed_hosts,
        ).start()

    def _sim_datasets(self) -> dict[str, Dataset] | None:
        """With venue ``sim``, the traded symbols' datasets: the bundled ones, or those of ``sim.data_dir``
        (:mod:`simulator.klines_files`); ``None`` for the other venues (checked against their exchangeInfo by the
        feed). Read before the database is opened, so that bad data refuses the start without touching it.

        Raises:
            ConfigError: a symbol without data or without simulator trading rules (the simulator has exchange
                filters for BTCUSDT and ETHUSDT only and invents none), a missing ``sim.data_dir``, a malformed file.
        """
        if self.settings.venue.name != "sim":
            return None
        symbols = self.settings.trading.symbols
        data_dir = self.settings.sim.data_dir
        try:
            known = available_symbols() if data_dir is None else dir_symbols(data_dir)
        except LookupError as exc:  # no such directory
            raise ConfigError(f"sim.data_dir: {exc}") from exc
        missing = [s for s in symbols if s not in known]
        if missing:
            where = "" if data_dir is None else f" in {data_dir}"
            raise ConfigError(
                f"trading.symbols: the simulator has no data for {', '.join(missing)}{where}; "
                f"it has {', '.join(sorted(known)) or 'none'}"
            )
        no_rules = [s for s in symbols if s not in SYMBOL_RULES]
        if no_rules:
            raise ConfigError(
                f"trading.symbols: the simulator has no trading rules for {', '.join(no_rules)}; "
                f"it has them for {', '.join(SYMBOL_RULES)}"
            )
        try:
            datasets = load_datasets(symbols, data_dir)
        except (LookupError, ValueError) as exc:  # a malformed file, ...
            raise ConfigError(f"sim.data_dir: {exc}" if data_dir is not None else str(exc)) from exc
        for dataset in datasets.values():
            dataset.trade_ids()  # served with every candle: worked out before the replay clock starts
        return datasets

    def _market(self, datasets: dict[str, Dataset], resume_from_ms: int | None) -> Market:
        """The simulated market over ``datasets``, starting at ``sim.start`` or, when the database holds later
        candles, at the minute after the last one processed (so a restart resumes instead of replaying old candles).

        When the data does not contain ``sim.start`` (a ``sim.data_dir`` of another period), the replay starts 300
        minutes (:data:`~simulator.market.WARMUP_CANDLES`, the REST warm-up) after the data's start instead, with a
        warning in the log; a resume still wins when later.

        In time mode ``now`` the data is moved forward to today (:func:`~simulator.market.shifted_to_now`) and the
        market clock is the wall clock: a restart continues at the wall clock, the candles missed meanwhile are the
        gap the engine backfills.

        Raises:
            ConfigError: time mode ``now`` without a day of data after the start, or with a database whose candles
                end before the data (moved to today) begins: the gap could not be filled.
        """
        sim = self.settings.sim
        wanted_ms = int(sim.start.timestamp() * 1000)
        start_ms = start_within(datasets, wanted_ms)
        resumed = sim.time_mode == "historical" and resume_from_ms is not None and resume_from_ms > start_ms
        if start_ms != wanted_ms and not resumed:
            log.warning(
                "sim.start %s is outside the data of %s; the replay starts at %s",
                sim.start.isoformat(), ", ".join(datasets), _iso(start_ms),
            )
        if sim.time_mode == "now":
            now_ms = int(time.time() * 1000)
            try:
                shifted, offset_ms = shifted_to_now(datasets, start_ms=start_ms, now_ms=now_ms)
            except ValueError as exc:
                raise ConfigError(f"sim.time_mode: {exc}") from exc
            data_start_ms = max(ds.start_ms for ds in shifted.values())
            if resume_from_ms is not None and resume_from_ms < data_start_ms:
                raise ConfigError(
                    f"sim.time_mode: {self.settings.storage.path} continues at {_iso(resume_from_ms)}, before the "
                    f"simulator's data moved to today begins ({_iso(data_start_ms)}); use another storage.path"
                )
            log.info("time mode now: the data of %s plays as %s", _iso(now_ms - offset_ms), _iso(now_ms))
            return Market(shifted, clock=ReplayClock(now_ms, 1.0))
        if resumed and resume_from_ms is not None:
            start_ms = resume_from_ms
        return Market(datasets, clock=ReplayClock(start_ms, sim.speed))

    def _run_engine(self) -> None:
        engine = self.engine
        assert engine is not None
        try:
            asyncio.run(self._main(engine))
        except Exception as exc:  # the engine thread must report, never vanish silently
            log.exception("engine thread failed")
            engine.status = replace(engine.status, state=EngineState.FAILED, error=f"{type(exc).__name__}: {exc}")
        finally:
            self._ready.set()

    async def _main(self, engine: EngineLoop) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        self._ready.set()
        await engine.run(self._stop_event)

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

    def stop(self) -> None:
        """Stop the engine (applying queued commands first), flush every buffered row, stop the simulator and
        close the database. Idempotent; at most :data:`STOP_BUDGET_S` in every state."""
        if self._stopped:
            return
        self._stopped = True
        if self.ops is not None:
            self.ops.stop()
        loop, stop_event = self._loop, self._stop_event
        if loop is not None and stop_event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
                loop.call_soon_threadsafe(stop_event.set)
        if self._thread is not None:
            self._thread.join(timeout=THREAD_JOIN_S)
            if self._thread.is_alive():
                log.error("engine thread did not stop within %.0f s; the database is left open", THREAD_JOIN_S)
                return
        if self.engine is not None:
            self.engine.inbox.drain(self.engine.apply_command)
        self._close_resources()
        log.info("papertrader stopped")

    def _close_resources(self) -> None:
        """Stop the operations endpoint and the simulator, flush and stop the recorder, close the store: each even if
        the one before failed."""
        try:
            if self.ops is not None:
                self.ops.stop()
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
    def submit(self, command: Command) -> Future[CommandApplied]:
        """Hand a person's command to the engine (any thread); the engine is woken at once. Returns a future of the
        command's :class:`~engine.core.events.CommandApplied` (resolved once it is audited).

        Raises:
            EngineError: the Runtime is not running.
        """
        if self.engine is None or self._stopped:
            raise EngineError("the engine is not running")
        return self.engine.submit(command)

    def status(self) -> EngineStatus:
        """The engine's latest status snapshot (``STARTING`` before the engine exists)."""
        if self.engine is None:
            return EngineStatus(state=EngineState.STARTING, venue=self.settings.venue.name)
        return self.engine.status

    # ------------------------------------------------------------------ operations: metrics and health
    @property
    def metrics_url(self) -> str | None:
        """``http://host:port/metrics`` of the operations endpoint (``/healthz`` and ``/readyz`` beside it); ``None``
        when ``metrics.enabled`` is false or before :meth:`start`."""
        return None if self.ops is None else f"{self.ops.url}/metrics"

    def health(self) -> HealthReport:
        """Liveness, as ``/healthz`` answers it (:func:`engine.health.liveness`); any thread."""
        return liveness(self._vitals(), self._limits())

    def readiness(self) -> HealthReport:
        """Readiness, as ``/readyz`` answers it (:func:`engine.health.readiness`); any thread."""
        return readiness(self._vitals(), self._limits())

    def _limits(self) -> Limits:
        m = self.settings.metrics
        return Limits(
            loop_stall_s=m.loop_stall_s,
            max_data_lag_s=m.max_data_lag_s,
            max_disconnected_s=m.max_disconnected_s,
            max_flush_age_s=m.max_flush_age_s,
        )

    def _vitals(self) -> Vitals:
        engine, recorder, thread = self.engine, self.recorder, self._thread
        return Vitals(
            status=self.status(),
            thread_alive=thread is not None and thread.is_alive(),
            loop_silent_s=None if engine is None else engine.heartbeat.silent_s(),
            disconnected_s=None if engine is None else engine.disconnected_s(),
            data_lag_s=None if engine is None else engine.data_lag_s(),
            buffered_rows=0 if recorder is None else recorder.status().buffered_rows,
            flush_age_s=0.0 if recorder is None else recorder.flush_age_s(),
        )

    def _readings(self) -> Readings:
        """What a scrape reports, read now (the scraping thread)."""
        engine, recorder = self.engine, self.recorder
        vitals, limits = self._vitals(), self._limits()
        guards = None if engine is None else engine.guards
        until_s = None if guards is None else guards.ban.until_s
        return Readings(
            status=vitals.status,
            sink=None if engine is None else engine.metrics,
            guards=guards,
            ban_remaining_s=0.0 if until_s is None else max(0.0, until_s - time.monotonic()),
            recorder=None if recorder is None else recorder.status(),
            flush_age_s=vitals.flush_age_s,
            data_lag_s=vitals.data_lag_s,
            healthy=liveness(vitals, limits).ok,
            ready=readiness(vitals, limits).ok,
        )


def _iso(time_ms: int) -> str:
    return datetime.fromtimestamp(time_ms / 1000, tz=UTC).isoformat()
