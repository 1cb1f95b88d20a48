"""The sections of the configuration (``[venue]``, ``[sim]``, ``[storage]`` …), each a frozen pydantic model with
the defaults of ``../shared/SPEC.md``; :class:`engine.config.Settings` puts them together and loads them.

Percentages are in percent (``5.0`` means 5 %); ``*_bps`` in basis points; ``*_s`` seconds; ``*_ms`` milliseconds.
Unknown keys are refused and numbers must be finite (``inf``/``nan`` are refused).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import AnyUrl, BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

from engine.core.models import INTERVAL_MS
from engine.core.strategy import Strategy
from engine.core.strategy_loader import build_strategy, strategy_class, validated_params

Percent = float
"""A guard's percentage (``[rest]``, ``[stream]``): a tuning knob, not part of any money arithmetic."""
ExactPercent = Decimal
"""A percentage that enters money arithmetic (sizing, fees, the breaker): exact, never a float (``5.0`` = 5 %)."""
Money = Decimal
"""An amount of the quote asset, exact."""


class _Section(BaseModel):
    # allow_inf_nan=False: "inf"/"nan" (environment) or inf/nan (TOML) are refused for every float setting.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


VenueName = Literal["sim", "binance", "binance-testnet"]

VENUE_PRESETS: dict[str, tuple[str, str]] = {
    "sim": ("https://data-api.binance.vision", "wss://data-stream.binance.vision"),
    "binance": ("https://data-api.binance.vision", "wss://data-stream.binance.vision"),
    "binance-testnet": ("https://testnet.binance.vision", "wss://stream.testnet.binance.vision"),
}
"""Default ``(rest_url, ws_url)`` per venue name: Binance's public market-data-only endpoints and the spot testnet
(Binance spot REST docs, "General API Information"; WebSocket Streams docs, "General WSS information"). These are
base URLs: the REST client adds ``/api/v3/...`` and the stream client ``/stream?streams=...``. ``sim`` ignores
them (the embedded exchange gets an ephemeral port)."""


class VenueSettings(_Section):
    """Where market data comes from.

    ``sim`` starts the embedded Binance-compatible simulator on 127.0.0.1 and ignores the URLs;
    ``binance`` and ``binance-testnet`` use ``rest_url`` / ``ws_url``, which default to the preset of the name
    (:data:`VENUE_PRESETS`) and can be set to any other Binance-compatible base URL.

    Raises:
        pydantic.ValidationError: ``rest_url`` is not http(s), ``ws_url`` is not ws(s), or either one ends with a
            path the client adds itself (``/api``, ``/ws``, ``/stream``), naming the key.
    """

    name: VenueName = "sim"
    rest_url: AnyUrl
    ws_url: AnyUrl
    request_timeout_s: float = Field(10.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _preset_urls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            name = data.get("name", "sim")
            rest_url, ws_url = VENUE_PRESETS.get(name, VENUE_PRESETS["sim"])
            data = {"rest_url": rest_url, "ws_url": ws_url, **data}
        return data

    @field_validator("rest_url")
    @classmethod
    def _rest_scheme(cls, url: AnyUrl) -> AnyUrl:
        if url.scheme not in ("http", "https"):
            raise ValueError(f"venue.rest_url must be an http:// or https:// URL, got scheme {url.scheme!r}")
        if (url.path or "").rstrip("/").endswith(("/api", "/api/v3")):
            raise ValueError("venue.rest_url is a base URL: drop the trailing /api (the client adds /api/v3/...)")
        return url

    @field_validator("ws_url")
    @classmethod
    def _ws_scheme(cls, url: AnyUrl) -> AnyUrl:
        if url.scheme not in ("ws", "wss"):
            raise ValueError(f"venue.ws_url must be a ws:// or wss:// URL, got scheme {url.scheme!r}")
        if (url.path or "").rstrip("/").endswith(("/ws", "/stream")):
            raise ValueError("venue.ws_url is a base URL: drop the trailing /ws or /stream (the client adds /stream?streams=...)")
        return url


class SimSettings(_Section):
    """The embedded exchange (venue ``sim``).

    ``speed`` is market seconds per wall second (60: one 1m candle per second).
    ``time_mode``: ``historical`` — server time is the replay's time, the data's own timestamps; ``now`` — the replay
    is moved forward by whole days so that its candles carry today's timestamps, and runs in real time: server time
    (``/api/v3/time``) is the wall clock, and "the last hour" is the last hour (for bots that ask for recent
    candles). The data is then played from the minute of the day the wall clock is at, within a day after ``start``;
    ``speed`` must be 1 (the default in this mode). See :func:`simulator.market.shifted_to_now`.
    ``start`` is the market time the replay starts at (history before it is served over REST for the
    bootstrap). The default, 2021-04-22 18:05 UTC, opens a lively stretch of the bundled data: the default
    strategy trades within the first minute. When the database already holds later candles the replay starts
    at the minute after the last processed one instead (the run resumes).

    ``data_dir`` is a directory of Binance 1m kline files (``<SYMBOL>-1m-*.zip|.csv|.csv.gz``, the public archive's
    12-column files or the project's ``open_time_ms,...`` ones; see :mod:`simulator.klines_files`) to replay instead
    of the bundled month (``None``, the default; empty counts as unset; ``~`` expands). It is read when the simulator starts, not
    here. When the data's time range does not contain ``start``, the replay starts 300 minutes (the REST warm-up)
    after the data's start instead. Only symbols with simulator trading rules (BTCUSDT, ETHUSDT) can be traded.
    """

    speed: float = Field(60.0, gt=0, le=1_000_000)
    time_mode: Literal["historical", "now"] = "historical"
    start: datetime = datetime(2021, 4, 22, 18, 5, tzinfo=UTC)
    update_interval_ms: int = Field(250, ge=10, description="wall ms between in-progress kline updates")
    data_dir: Path | None = Field(None, description="directory of Binance 1m kline files; None: the bundled data")

    @model_validator(mode="before")
    @classmethod
    def _now_is_real_time(cls, data: Any) -> Any:
        """In time mode ``now`` the speed is 1 unless set (and :meth:`_one_clock` refuses any other)."""
        if isinstance(data, dict) and data.get("time_mode") == "now" and "speed" not in data:
            data = {**data, "speed": 1.0}
        return data

    @model_validator(mode="after")
    def _one_clock(self) -> SimSettings:
        if self.time_mode == "now" and self.speed != 1:
            raise ValueError(
                f'sim.speed is {self.speed:g}, but with sim.time_mode = "now" server time is the wall clock: the replay '
                "runs in real time (leave sim.speed unset, or 1)"
            )
        return self

    @field_validator("data_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """``PAPERTRADER_SIM__DATA_DIR=`` (empty) means the bundled data, not the working directory; ``~`` is the
        home directory (as in a shell)."""
        if isinstance(value, str):
            return Path(value).expanduser() if value.strip() else None
        return value


class StorageSettings(_Section):
    """DuckDB file and the Recorder's batching."""

    path: Path = Path("data/papertrader.duckdb")
    flush_interval_ms: int = Field(250, gt=0, le=250)
    max_buffered_rows: int = Field(200_000, gt=0)


class StrategySettings(_Section):
    """The signal (``../shared/SPEC.md`` §2): ``name`` is a built-in — ``sma_crossover`` (buy when the fast SMA of
    closes crosses above the slow one, exit when it crosses below; parameters ``fast`` = 9, ``slow`` = 21) or
    ``rsi_reversion`` (buy when RSI(``period`` = 14) falls below ``oversold`` = 30, exit when it rises above
    ``overbought`` = 70) — or any class by import path, ``"package.module:ClassName"``, that implements
    :class:`engine.core.strategy.Strategy` (``docs/strategies.md``). ``params`` (``[strategy.params]``; in the
    environment a JSON object, ``PAPERTRADER_STRATEGY__PARAMS='{"fast": 5}'``) are the class's keyword arguments;
    those not given keep the class's defaults.

    Raises:
        pydantic.ValidationError: the class cannot be found or imported (on ``strategy.name``), or refuses its
            parameters — unknown, missing, of the wrong type, or out of range (on ``strategy.params``, naming the
            parameter); see :mod:`engine.core.strategy_loader`.
    """

    name: str = "sma_crossover"
    params: dict[str, Any] = Field(default_factory=dict, validate_default=True, description="the strategy's keyword arguments")

    @field_validator("name")
    @classmethod
    def _loadable(cls, name: str) -> str:
        strategy_class(name)
        return name

    @field_validator("params")
    @classmethod
    def _buildable(cls, params: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """Built once here, so that a bad parameter refuses the start; a ``name`` already refused is not tried."""
        name = info.data.get("name")
        if name is not None:
            build_strategy(name, params)
        return params

    def build(self) -> Strategy:
        """A new instance of the configured strategy (validated when these settings were)."""
        return build_strategy(self.name, self.params)

    def effective_params(self) -> dict[str, Any]:
        """The parameters the strategy runs with: ``params`` converted to the constructor's types, the defaults of
        those not given added."""
        return validated_params(self.name, strategy_class(self.name), self.params)

    def describe(self) -> str:
        """``name(parameter=value, ...)``, with the parameters it runs with (``papertrader run`` and ``replay`` say
        it), e.g. ``rsi_reversion(period=14, oversold=25.0, overbought=70.0)``."""
        return f"{self.name}({', '.join(f'{k}={v}' for k, v in self.effective_params().items())})"


class TradingSettings(_Section):
    """Paper account, fills, sizing and exits (``../shared/SPEC.md`` §2, §3.2). Money, percentages and the exit
    multiples are exact decimals (a TOML float such as ``0.1`` is read as the decimal ``0.1``, not the binary float).

    Sizing happens at the fill: ``risk_pct`` of equity is the loss the stop may cost; the stop is
    ``stop_atr_multiple`` × ATR(``atr_period``) below the fill price, the target ``reward_risk`` × that distance
    above it. The trailing stop (``trailing_stop``) starts once the price has risen ``trailing_activation`` × the
    stop distance above the fill, then follows the highest high at the initial stop distance, never moving down.

    ``interval`` is the kline interval traded, any of Binance's from ``1m`` to ``1d``
    (:data:`engine.core.models.INTERVAL_MS`): the candles bootstrapped, streamed, checked for gaps, backfilled, fed to
    the strategy and stored. The simulator serves every one of them from its 1m data. A database keeps one interval.
    """

    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
    interval: str = Field("1m", description="kline interval: 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d")
    quote_asset: str = "USDT"
    starting_balance: Money = Field(Decimal("10000"), gt=0, description="quote asset")
    taker_fee_pct: ExactPercent = Field(Decimal("0.1"), ge=0, le=100)
    slippage_bps: Decimal = Field(Decimal("2"), ge=0, le=10_000, description="basis points against the order")
    risk_pct: ExactPercent = Field(Decimal("2"), gt=0, le=100, description="of equity, lost if the stop is hit")
    max_position_pct: ExactPercent = Field(Decimal("20"), gt=0, le=100, description="of equity, per position")
    min_stop_pct: ExactPercent = Field(Decimal("0.5"), ge=0, le=100, description="a closer stop is not opened")
    atr_period: int = Field(14, ge=1)
    stop_atr_multiple: Decimal = Field(Decimal("1.5"), gt=0, description="stop = fill - multiple x ATR")
    reward_risk: Decimal = Field(Decimal("2"), gt=0, description="target = fill + reward_risk x stop distance")
    trailing_stop: bool = Field(True, description="trail the stop behind the highest high once in profit")
    trailing_activation: Decimal = Field(
        Decimal("1"), gt=0, description="the trail starts at fill + this x the stop distance"
    )

    @field_validator("interval")
    @classmethod
    def _kline_interval(cls, interval: str) -> str:
        if interval not in INTERVAL_MS:
            raise ValueError(f"trading.interval {interval!r} is not one of the kline intervals {', '.join(INTERVAL_MS)}")
        return interval

    @field_validator("symbols")
    @classmethod
    def _upper_unique(cls, symbols: tuple[str, ...]) -> tuple[str, ...]:
        if not symbols:
            raise ValueError("trading.symbols must name at least one symbol")
        upper = tuple(s.upper() for s in symbols)
        if len(set(upper)) != len(upper):
            raise ValueError("trading.symbols has duplicates")
        return upper


class BreakerSettings(_Section):
    """The portfolio circuit breaker (``../shared/SPEC.md`` §3.1). ``enabled = false`` puts it in state DISABLED."""

    enabled: bool = True
    warning_pct: ExactPercent = Field(Decimal("3.0"), gt=0, le=100, description="daily loss that raises WARNING")
    daily_loss_pct: ExactPercent = Field(Decimal("5.0"), gt=0, le=100, description="daily loss vs equity at 00:00 UTC that trips")
    drawdown_pct: ExactPercent = Field(Decimal("15.0"), gt=0, le=100, description="drawdown from peak equity that trips")
    flatten_on_trip: bool = False

    @model_validator(mode="after")
    def _warning_below_trip(self) -> BreakerSettings:
        if self.warning_pct >= self.daily_loss_pct:
            raise ValueError(
                f"breaker.warning_pct ({self.warning_pct}) must be below breaker.daily_loss_pct ({self.daily_loss_pct})"
            )
        return self


class RiskSettings(_Section):
    """Pre-trade limits (``../shared/SPEC.md`` §3.2); sizing percentages live in ``[trading]``."""

    max_open_positions: int = Field(3, ge=1)
    max_trades_per_day: int = Field(50, ge=1)
    correlation_scale: tuple[Decimal, ...] = Field(
        (Decimal("1.0"), Decimal("0.7"), Decimal("0.5")),
        description="size factor for the 1st, 2nd, 3rd ... same-direction position; beyond: denied",
    )
    max_price_age_s: float = Field(120.0, gt=0, description="market seconds after which a price is stale")

    @field_validator("correlation_scale")
    @classmethod
    def _factors(cls, scale: tuple[Decimal, ...]) -> tuple[Decimal, ...]:
        if not scale or any(not 0 < f <= 1 for f in scale):
            raise ValueError("risk.correlation_scale needs at least one factor, each in (0, 1]")
        return scale


class RestSettings(_Section):
    """REST guards: rate limiter (§3.3), retry (§3.4) and the API failure breaker."""

    weight_limit_per_minute: int = Field(6000, gt=0, description="Binance REQUEST_WEIGHT per minute per IP")
    burst: int | None = Field(None, gt=0, description="bucket capacity; default = the per-minute limit")
    max_wait_s: float = Field(10.0, gt=0)
    warn_pct: Percent = Field(80.0, gt=0, le=100)
    retry_base_s: float = Field(1.0, gt=0)
    retry_cap_s: float = Field(30.0, gt=0)
    retry_jitter_pct: Percent = Field(25.0, ge=0, le=100)
    max_retries: int = Field(3, ge=0)
    breaker_failures: int = Field(5, ge=1, description="consecutive failures that open the API breaker")
    breaker_reset_s: float = Field(60.0, gt=0, description="seconds OPEN before one trial call")


class StreamSettings(_Section):
    """WebSocket recovery (§3.5)."""

    backoff_cap_s: float = Field(64.0, gt=0)
    jitter_pct: Percent = Field(25.0, ge=0, le=100)
    stable_after_s: float = Field(60.0, gt=0, description="a connection up this long resets the backoff")
    stale_after_s: float = Field(6.0, gt=0, description="no message for this long: the stream is dead")
    max_attempts: int | None = Field(None, ge=1, description="reconnect attempts; none = unlimited")
    max_held_candles: int = Field(
        5000, ge=1, description="closed candles per symbol held behind an open gap; beyond, they are fetched later"
    )


class WebhookSettings(_Section):
    """One alert webhook (``[[alerts.webhooks]]``).

    ``format`` picks the body :mod:`engine.sinks.alerts` POSTs: ``json`` (the whole alert), ``slack`` (``{"text"}``,
    Slack incoming webhooks), ``discord`` (``{"content"}``, Discord webhooks) or ``telegram``
    (``{"chat_id", "text"}`` to a Bot API ``sendMessage`` URL, ``https://api.telegram.org/bot<token>/sendMessage``).
    ``url`` is secret (see the module docstring); ``chat_id`` is required by, and only allowed for, ``telegram``.
    """

    url: SecretStr
    format: Literal["json", "slack", "discord", "telegram"] = "json"
    chat_id: str | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: SecretStr) -> SecretStr:
        """http(s) with a host; the message never contains the URL (it may hold a token)."""
        try:
            parsed = httpx.URL(url.get_secret_value())
        except httpx.InvalidURL:
            raise ValueError("alerts.webhooks.url is not a valid URL") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError("alerts.webhooks.url must be an http:// or https:// URL with a host")
        return url

    @model_validator(mode="after")
    def _chat_id_for_telegram(self) -> WebhookSettings:
        if self.format == "telegram" and not (self.chat_id or "").strip():
            raise ValueError("alerts.webhooks.chat_id is required when format = \"telegram\"")
        if self.format != "telegram" and self.chat_id is not None:
            raise ValueError(f"alerts.webhooks.chat_id is only used with format = \"telegram\", not {self.format!r}")
        return self


class AlertSettings(_Section):
    """Webhook alerts on breaker WARNING/TRIPPED/RESET, an API ban (HTTP 418), long stream outages (SPEC §6), and the
    REST guards' load: request-weight utilisation above ``weight_utilisation_pct`` for ``weight_utilisation_for_s``,
    and REST retries above ``retry_rate_pct`` of the requests sent over ``retry_rate_window_s`` (with at least
    ``retry_rate_min_requests`` requests) — each of these once per episode.

    No webhooks (the default) means alerts are only logged. Deliveries use the ``[rest]`` retry policy.
    """

    webhooks: tuple[WebhookSettings, ...] = ()
    disconnect_alert_after_s: float = Field(60.0, gt=0, description="market stream down this long raises an alert")
    queue_size: int = Field(100, ge=1, description="alerts waiting for delivery; beyond it new ones are dropped")
    timeout_s: float = Field(10.0, gt=0, description="per POST attempt")
    weight_utilisation_pct: Percent = Field(
        80.0, gt=0, le=100, description="request-weight utilisation that alerts once it has lasted weight_utilisation_for_s"
    )
    weight_utilisation_for_s: float = Field(60.0, gt=0, description="how long the utilisation must stay above it")
    retry_rate_pct: Percent = Field(
        20.0, gt=0, le=100, description="REST retries as a percent of REST requests over retry_rate_window_s that alerts"
    )
    retry_rate_window_s: float = Field(300.0, gt=0, description="the window of the retry rate")
    retry_rate_min_requests: int = Field(20, ge=1, description="fewer requests in the window never alert")


class MetricsSettings(_Section):
    """The operations endpoint (``../shared/SPEC.md`` §6), served by the Runtime (dashboard and ``papertrader run``) on
    a thread of its own: Prometheus metrics at ``/metrics``, liveness at ``/healthz``, readiness at ``/readyz``.

    ``port`` 0 takes any free port (the Runtime's ``metrics_url`` and ``papertrader run`` say which); give every engine
    of a host its own port. Bound to a non-loopback ``host``, the Runtime refuses to start unless an admin token is set
    (then every request must carry ``Authorization: Bearer <token>``) or ``allow_unauthenticated`` is true; with a
    token set, it is required on loopback too (as the dashboard's controls do). Without a token, a request's ``Host``
    must be a loopback name, ``host`` or one of ``allowed_hosts`` (e.g. the name Prometheus scrapes by): a defence
    against DNS rebinding, as the dashboard's ``server.allowedHosts``.

    ``loop_stall_s``: ``/healthz`` fails once the engine loop has not turned for this long (or the engine thread is
    gone). ``/readyz`` fails before the engine has bootstrapped, while the market stream has been down longer than
    ``max_disconnected_s``, while the data lag exceeds ``max_data_lag_s``, and while rows wait and no flush has
    committed for ``max_flush_age_s``.

    Raises:
        pydantic.ValidationError: ``host`` is empty or holds a scheme, path, port or space.
    """

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(9479, ge=0, le=65535, description="TCP port; 0: any free port")
    allow_unauthenticated: bool = Field(False, description="serve a non-loopback host without the admin token")
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="without a token, Host names accepted besides loopback names and host (DNS-rebinding check)",
    )
    loop_stall_s: float = Field(3.0, gt=0, description="/healthz: the engine loop has not turned for this long")
    max_data_lag_s: float = Field(30.0, gt=0, description="/readyz: no market message for this long")
    max_disconnected_s: float = Field(60.0, gt=0, description="/readyz: the market stream down (reconnecting) this long")
    max_flush_age_s: float = Field(10.0, gt=0, description="/readyz: rows waiting and no flush committed for this long")

    @field_validator("host")
    @classmethod
    def _bare_host(cls, host: str) -> str:
        bare = host.strip().removeprefix("[").removesuffix("]")
        if not bare or any(c in bare for c in "/ @") or "://" in host or (bare.count(":") == 1):
            raise ValueError(
                "metrics.host must be a bare host name or IP address (127.0.0.1, ::1, 0.0.0.0), without scheme or port"
            )
        return bare
