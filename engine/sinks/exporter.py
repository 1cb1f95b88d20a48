"""The Prometheus exporter: one private :class:`prometheus_client.CollectorRegistry` per Runtime (never the global one:
several Runtimes may share a process), holding

- :class:`EngineCollector`, which builds every gauge and counter at scrape time from one :class:`Readings` — the
  status snapshot, the :class:`~engine.sinks.metrics.MetricsSink` counts, the REST guards' latest ``status()``, the
  recorder's status and the health checks — so nothing is computed between scrapes;
- two histograms observed as things happen: the recorder's flush latency and the engine loop's lag.

Names and units follow the Prometheus conventions (``papertrader_`` prefix, base units, ``_total`` counters,
``_seconds``, ``_ratio`` for 0..1); money is in the quote asset (``papertrader_engine_info{quote_asset}``). Every label
is bounded: states and kinds are enums, endpoints and statuses are bounded by :mod:`engine.sinks.metrics`, hosts and
symbols come from the configuration. Counters count since the process started (Prometheus' ``rate()`` and
``increase()`` handle the reset at a restart).

==============================================================  =======  ==================================================
metric                                                          type     meaning
==============================================================  =======  ==================================================
``papertrader_engine_info{venue,quote_asset,strategy}``         gauge    1
``papertrader_engine_state{state}``                             gauge    1 for the current engine state, 0 for the others
``papertrader_engine_healthy``                                  gauge    1 when ``/healthz`` would answer 200
``papertrader_engine_ready``                                    gauge    1 when ``/readyz`` would answer 200
``papertrader_engine_loop_lag_seconds``                         hist.    how late the engine loop's heartbeat woke
``papertrader_equity``, ``papertrader_cash``                    gauge    at the latest mark, quote asset
``papertrader_daily_pnl``                                       gauge    equity − equity at 00:00 UTC (market time)
``papertrader_daily_pnl_ratio``                                 gauge    that over the day's start equity
``papertrader_drawdown_ratio``                                  gauge    (peak − equity) / peak
``papertrader_breaker_state{state}``                            gauge    1 for the portfolio breaker's state
``papertrader_breaker_transitions_total{state_from,state_to}``  counter
``papertrader_request_weight_used``                             gauge    REQUEST_WEIGHT the local bucket counts as used
``papertrader_request_weight_server_used``                      gauge    the last ``X-MBX-USED-WEIGHT-1M``
``papertrader_request_weight_limit``                            gauge    REQUEST_WEIGHT per minute
``papertrader_request_weight_utilisation_ratio``                gauge    used / bucket capacity, 0..1
``papertrader_rest_requests_total{endpoint,status}``            counter  requests sent (``status`` ``none``: no answer)
``papertrader_rest_retries_total{endpoint,reason}``             counter  attempts followed by a retry
``papertrader_rest_blocked_total{endpoint,reason}``             counter  attempts the guards stopped before sending
``papertrader_api_breaker_state{host,state}``                   gauge    1 for the API breaker's state
``papertrader_api_breaker_opens_total{host}``                   counter
``papertrader_api_ban_remaining_seconds{host}``                 gauge    until the HTTP 418 ban ends (0: none)
``papertrader_api_bans_total{host}``                            counter
``papertrader_stream_connected``                                gauge    1 while the market stream is connected
``papertrader_stream_reconnects_total``                         counter  connections opened after the first
``papertrader_stream_disconnects_total``                        counter  connections closed, gone stale or not opened
``papertrader_data_lag_seconds``                                gauge    since the last market message (or the start)
``papertrader_open_gaps{symbol}``                               gauge    open gaps in the closed-candle series
``papertrader_gap_candles{symbol}``                             gauge    candles missing in them
``papertrader_held_candles``                                    gauge    closed candles waiting behind a gap
``papertrader_backfilled_candles_total``                        counter
``papertrader_candles_processed_total``                         counter  closed candles through the trading core
``papertrader_dropped_candles_total``                           counter  duplicates and out-of-order candles
``papertrader_bad_messages_total``                              counter  market messages that broke the format
``papertrader_risk_denials_total``                              counter  entries refused by a pre-trade check
``papertrader_commands_total{kind,result}``                     counter
``papertrader_recorder_buffered_rows``                          gauge    rows recorded, not yet committed
``papertrader_recorder_last_flush_age_seconds``                 gauge    since the last flush committed
``papertrader_recorder_flush_duration_seconds``                 hist.    latency of each flush that committed rows
``papertrader_recorder_failed_flushes_total``                   counter
``papertrader_recorder_rows_written_total``                     counter
==============================================================  =======  ==================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from engine.core.breaker import BreakerState
from engine.feed.rest import RestGuardStatus
from engine.guards.api_breaker import ApiBreakerState
from engine.sinks.metrics import MetricsSink
from engine.sinks.status import EngineState, EngineStatus
from storage.recorder import RecorderStatus

PREFIX = "papertrader"
FLUSH_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
LOOP_LAG_BUCKETS_S = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class Readings:
    """Everything one scrape reports, read at one instant (by the Runtime, from the scraping thread).

    Attributes:
        status: the engine's status snapshot.
        sink: the engine's event counts; ``None`` before the engine exists.
        guards: the REST guards' latest snapshot (sampled every second on the engine thread); ``None`` before.
        ban_remaining_s: seconds until the REST host's ban ends, now (0: not banned).
        recorder: the recorder's status; ``None`` before it exists.
        flush_age_s: seconds since the last flush committed.
        data_lag_s: seconds since the last market message (or since the engine started); ``None`` without an engine.
        healthy, ready: what ``/healthz`` and ``/readyz`` would answer.
    """

    status: EngineStatus
    sink: MetricsSink | None
    guards: RestGuardStatus | None
    ban_remaining_s: float
    recorder: RecorderStatus | None
    flush_age_s: float
    data_lag_s: float | None
    healthy: bool
    ready: bool


class EngineCollector(Collector):
    """Builds the metrics of the module docstring from ``read()`` at each scrape.

    Args:
        read: the readings of this instant.
        venue, quote_asset, strategy: for ``papertrader_engine_info``.
        symbols: the traded symbols (the ``symbol`` label's values).
    """

    def __init__(self, read: Callable[[], Readings], *, venue: str, quote_asset: str, strategy: str, symbols: tuple[str, ...]) -> None:
        self._read = read
        self._info = {"venue": venue, "quote_asset": quote_asset, "strategy": strategy}
        self._symbols = symbols

    def collect(self) -> Iterator[Metric]:
        r = self._read()
        sink = r.sink if r.sink is not None else MetricsSink()
        yield from self._engine(r, sink)
        yield from self._account(r, sink)
        yield from self._rest(r, sink)
        yield from self._feed(r, sink)
        yield from self._recorder(r)

    # ------------------------------------------------------------------ the families
    def _engine(self, r: Readings, sink: MetricsSink) -> Iterator[Metric]:
        info = {tuple(self._info.values()): 1}
        yield _labelled(GaugeMetricFamily, "engine_info", "The engine: venue, quote asset, strategy (value 1).", info, *self._info)
        yield _state_set("engine_state", "The engine's state (1 for the current one).", list(EngineState), r.status.state)
        yield _gauge("engine_healthy", "1 when /healthz answers 200 (the engine thread and loop are alive).", r.healthy)
        yield _gauge("engine_ready", "1 when /readyz answers 200 (bootstrapped, fresh data, flushing).", r.ready)
        yield _counter("candles_processed", "Closed candles processed by the trading core.", r.status.candles_processed)
        yield _counter("risk_denials", "Entries refused by a pre-trade check.", r.status.risk_denials)
        yield _labelled(CounterMetricFamily, "commands", "Commands applied, by kind and result.", sink.commands, "kind", "result")

    def _account(self, r: Readings, sink: MetricsSink) -> Iterator[Metric]:
        breaker = r.status.breaker_state
        yield _state_set("breaker_state", "The portfolio breaker's state (1 for the current one).", list(BreakerState), breaker)
        yield _labelled(
            CounterMetricFamily, "breaker_transitions", "Portfolio breaker transitions.", sink.breaker_transitions, "state_from", "state_to"
        )
        account = sink.account
        if account is None:
            return
        yield _gauge("equity", "Equity at the latest mark (cash + positions), quote asset.", account.equity)
        yield _gauge("cash", "Free cash, quote asset.", account.cash)
        yield _gauge("daily_pnl", "Equity minus equity at 00:00 UTC (market time), quote asset.", account.equity - account.day_start_equity)
        yield _gauge("daily_pnl_ratio", "Daily P&L over the equity at 00:00 UTC.", account.daily_pnl_pct / 100)
        yield _gauge("drawdown_ratio", "Drawdown from peak equity: (peak - equity) / peak.", account.drawdown_pct / 100)

    def _rest(self, r: Readings, sink: MetricsSink) -> Iterator[Metric]:
        yield _labelled(CounterMetricFamily, "rest_requests", "REST requests sent, by HTTP status.", sink.requests, "endpoint", "status")
        yield _labelled(CounterMetricFamily, "rest_retries", "REST attempts followed by a retry.", sink.retries, "endpoint", "reason")
        yield _labelled(
            CounterMetricFamily, "rest_blocked", "REST attempts stopped by the guards before sending.", sink.blocked, "endpoint", "reason"
        )
        guards = r.guards
        if guards is None:
            return
        limiter, breaker, ban = guards.limiter, guards.breaker, guards.ban
        yield _gauge("request_weight_used", "REQUEST_WEIGHT the local bucket counts as used.", limiter.used_weight)
        if limiter.server_used_weight is not None:
            server_used = limiter.server_used_weight
            yield _gauge("request_weight_server_used", "The venue's last X-MBX-USED-WEIGHT-1M (this IP, this minute).", server_used)
        yield _gauge("request_weight_limit", "REQUEST_WEIGHT allowed per minute.", limiter.limit)
        yield _gauge("request_weight_utilisation_ratio", "Request-weight utilisation of the bucket, 0..1.", limiter.utilisation)
        states = {(breaker.host, s.value): int(s is breaker.state) for s in ApiBreakerState}
        yield _labelled(GaugeMetricFamily, "api_breaker_state", "The API breaker's state (1 for the current one).", states, "host", "state")
        yield _labelled(CounterMetricFamily, "api_breaker_opens", "Times the API breaker opened.", {(breaker.host,): breaker.opens}, "host")
        remaining = {(ban.host,): r.ban_remaining_s}
        yield _labelled(GaugeMetricFamily, "api_ban_remaining_seconds", "Seconds until the HTTP 418 ban ends (0: none).", remaining, "host")
        yield _labelled(CounterMetricFamily, "api_bans", "HTTP 418 bans by the host.", {(ban.host,): ban.bans}, "host")

    def _feed(self, r: Readings, sink: MetricsSink) -> Iterator[Metric]:
        status = r.status
        yield _gauge("stream_connected", "1 while the market stream is connected.", status.market_connected)
        yield _counter("stream_reconnects", "Market-stream connections opened after the first.", sink.reconnects)
        yield _counter("stream_disconnects", "Market-stream connections closed, gone stale or not opened.", sink.disconnects)
        if r.data_lag_s is not None:
            yield _gauge("data_lag_seconds", "Seconds since the last market message (since the start, before the first).", r.data_lag_s)
        gaps = {(symbol,): [g.candles for g in status.gaps if g.symbol == symbol] for symbol in self._symbols}
        counts, missing = {k: len(v) for k, v in gaps.items()}, {k: sum(v) for k, v in gaps.items()}
        yield _labelled(GaugeMetricFamily, "open_gaps", "Open gaps in the closed-candle series.", counts, "symbol")
        yield _labelled(GaugeMetricFamily, "gap_candles", "Candles missing in the open gaps.", missing, "symbol")
        yield _gauge("held_candles", "Closed candles held behind an open gap.", status.held_candles)
        yield _counter("backfilled_candles", "Candles fetched over REST to fill gaps.", status.backfilled_candles)
        yield _counter("dropped_candles", "Closed candles dropped as duplicates or out of order.", status.dropped_candles)
        yield _counter("bad_messages", "Market messages that broke the format.", status.bad_messages)

    def _recorder(self, r: Readings) -> Iterator[Metric]:
        rec = r.recorder
        if rec is None:
            return
        yield _gauge("recorder_buffered_rows", "Rows recorded and not yet committed.", rec.buffered_rows)
        yield _gauge("recorder_last_flush_age_seconds", "Seconds since the last flush committed rows.", r.flush_age_s)
        yield _counter("recorder_failed_flushes", "Flushes that failed (their rows stayed buffered).", rec.failed_flushes)
        yield _counter("recorder_rows_written", "Rows committed to the database.", rec.rows_written)


def _gauge(name: str, documentation: str, value: float | Decimal | bool) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", documentation, value=float(value))


def _counter(name: str, documentation: str, value: int) -> CounterMetricFamily:
    return CounterMetricFamily(f"{PREFIX}_{name}", documentation, value=value)


def _state_set(name: str, documentation: str, states: list[StrEnum], current: str) -> GaugeMetricFamily:
    """One series per state, ``state="<name>"``, 1 for ``current`` and 0 for the others."""
    return _labelled(GaugeMetricFamily, name, documentation, {(s.value,): int(s.value == current) for s in states}, "state")


_Family = TypeVar("_Family", GaugeMetricFamily, CounterMetricFamily)


def _labelled(family: type[_Family], name: str, documentation: str, values: Mapping[Any, float], *labels: str) -> _Family:
    """A family with one series per key of ``values`` (the label values, in the order of ``labels``). The items are
    copied first, in one C-level call: the engine thread may add a key meanwhile."""
    metric = family(f"{PREFIX}_{name}", documentation, labels=list(labels))
    for key, value in list(values.items()):
        metric.add_metric(list(key), value)
    return metric


class Exporter:
    """The registry of one Runtime: the collector over ``read`` and the two histograms.

    Args:
        read, venue, quote_asset, strategy, symbols: as for :class:`EngineCollector`.

    Attributes:
        registry: what ``/metrics`` serves.
        flush_seconds: observe a committed flush's latency, seconds (any thread).
        loop_lag_seconds: observe the engine loop's lag, seconds (any thread).
    """

    def __init__(self, read: Callable[[], Readings], *, venue: str, quote_asset: str, strategy: str, symbols: tuple[str, ...]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.flush_seconds = Histogram(
            f"{PREFIX}_recorder_flush_duration_seconds",
            "Latency of each flush that committed rows, seconds.",
            buckets=FLUSH_BUCKETS_S,
            registry=self.registry,
        )
        self.loop_lag_seconds = Histogram(
            f"{PREFIX}_engine_loop_lag_seconds",
            "How late the engine loop's heartbeat woke, seconds.",
            buckets=LOOP_LAG_BUCKETS_S,
            registry=self.registry,
        )
        self.registry.register(EngineCollector(read, venue=venue, quote_asset=quote_asset, strategy=strategy, symbols=symbols))
