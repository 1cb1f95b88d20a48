"""Configuration: one TOML file plus environment overrides, validated at start.

Sources, highest priority first:

1. keyword arguments to :class:`Settings` (tests),
2. environment variables with prefix ``PAPERTRADER_``, nested with ``__``
   (``PAPERTRADER_STORAGE__PATH=/tmp/x.duckdb``, ``PAPERTRADER_SIM__SPEED=600``),
3. the TOML file named by ``PAPERTRADER_CONFIG`` — which must exist (a missing file is a
   :class:`~engine.errors.ConfigError` naming the path; an empty value counts as unset) — else
   ``papertrader.toml`` in the working directory, when there is one,
4. the defaults below (those of ``../shared/SPEC.md``).

Percentages are in percent (``5.0`` means 5 %); ``*_bps`` in basis points; ``*_s`` seconds; ``*_ms`` milliseconds.
Unknown keys are refused, so a typo names itself instead of being ignored: in the TOML file by validation
(``pydantic.ValidationError``), in the environment by :func:`check_environment` (every ``PAPERTRADER_*`` variable
must name a section and key of :class:`Settings`, or be one of :data:`NON_SETTINGS_ENV`). Numbers must be finite:
``inf``, ``-inf`` and ``nan`` are refused for every float setting.

Errors at load time: ``Settings()`` raises :class:`~engine.errors.ConfigError` for a config file that cannot be
read or parsed (``<file>: <problem> (at line L, column C)``) and for an unknown environment variable, and
``pydantic.ValidationError`` for invalid values (:func:`describe_validation_error` turns it into lines).

Secrets. Webhook URLs carry tokens (Slack, Discord and Telegram put them in the path), so
``alerts.webhooks[].url`` is a :class:`~pydantic.SecretStr`: ``repr``/``str`` show ``**********`` and so does
``Settings.model_dump(mode="json")``, which is what ``papertrader config`` should print. The masking rule: every
field named ``url`` under ``[alerts]`` is secret; read it with ``.get_secret_value()`` only where the request is
sent (:mod:`engine.sinks.alerts`). Validation errors never echo input values (``hide_input_in_errors``), so a bad
webhook URL is not printed either; the message still names the key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import AnyUrl, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from engine.errors import ConfigError

Percent = float

DEFAULT_CONFIG_FILE = "papertrader.toml"


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
    ``start`` is the market time the replay starts at (history before it is served over REST for the
    bootstrap). The default, 2021-04-22 18:05 UTC, opens a lively stretch of the bundled data: the default
    strategy trades within the first minute. When the database already holds later candles the replay starts
    at the minute after the last processed one instead (the run resumes).
    """

    speed: float = Field(60.0, gt=0, le=1_000_000)
    start: datetime = datetime(2021, 4, 22, 18, 5, tzinfo=UTC)
    update_interval_ms: int = Field(250, ge=10, description="wall ms between in-progress kline updates")


class StorageSettings(_Section):
    """DuckDB file and the Recorder's batching."""

    path: Path = Path("data/papertrader.duckdb")
    flush_interval_ms: int = Field(250, gt=0, le=250)
    max_buffered_rows: int = Field(200_000, gt=0)


class StrategySettings(_Section):
    """The signal. ``sma_crossover``: buy when the fast SMA of closes crosses above the slow one, exit when it crosses below."""

    name: Literal["sma_crossover"] = "sma_crossover"
    fast: int = Field(9, ge=1)
    slow: int = Field(21, ge=2)

    @model_validator(mode="after")
    def _fast_below_slow(self) -> StrategySettings:
        if self.fast >= self.slow:
            raise ValueError(f"strategy.fast ({self.fast}) must be below strategy.slow ({self.slow})")
        return self


class TradingSettings(_Section):
    """Paper account, fills, sizing and exits (``../shared/SPEC.md`` §2, §3.2)."""

    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
    interval: Literal["1m"] = "1m"
    quote_asset: str = "USDT"
    starting_balance: float = Field(10_000.0, gt=0)
    taker_fee_pct: Percent = Field(0.1, ge=0, le=100)
    slippage_bps: float = Field(2.0, ge=0, le=10_000)
    risk_pct: Percent = Field(2.0, gt=0, le=100)
    max_position_pct: Percent = Field(20.0, gt=0, le=100)
    min_stop_pct: Percent = Field(0.5, ge=0, le=100)
    atr_period: int = Field(14, ge=1)
    stop_atr_multiple: float = Field(1.5, gt=0)
    reward_risk: float = Field(2.0, gt=0)

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
    warning_pct: Percent = Field(3.0, gt=0, le=100, description="daily loss that raises WARNING")
    daily_loss_pct: Percent = Field(5.0, gt=0, le=100, description="daily loss vs equity at 00:00 UTC that trips")
    drawdown_pct: Percent = Field(15.0, gt=0, le=100, description="drawdown from peak equity that trips")
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
    correlation_scale: tuple[float, ...] = Field(
        (1.0, 0.7, 0.5), description="size factor for the 1st, 2nd, 3rd ... same-direction position; beyond: denied"
    )
    max_price_age_s: float = Field(120.0, gt=0, description="market seconds after which a price is stale")

    @field_validator("correlation_scale")
    @classmethod
    def _factors(cls, scale: tuple[float, ...]) -> tuple[float, ...]:
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
    """Webhook alerts on breaker WARNING/TRIPPED/RESET, an API ban (HTTP 418) and long stream outages (SPEC §6).

    No webhooks (the default) means alerts are only logged. Deliveries use the ``[rest]`` retry policy.
    """

    webhooks: tuple[WebhookSettings, ...] = ()
    disconnect_alert_after_s: float = Field(60.0, gt=0, description="market stream down this long raises an alert")
    queue_size: int = Field(100, ge=1, description="alerts waiting for delivery; beyond it new ones are dropped")
    timeout_s: float = Field(10.0, gt=0, description="per POST attempt")


class Settings(BaseSettings):
    """The whole configuration; frozen once loaded.

    Raises:
        pydantic.ValidationError: at construction, naming the offending key (e.g. ``trading.risk_pct``).
        ConfigError: at construction, for an unknown ``PAPERTRADER_*`` environment variable (:func:`check_environment`)
            or a config file that is missing (``PAPERTRADER_CONFIG``), unreadable or not valid TOML.
    """

    model_config = SettingsConfigDict(
        env_prefix="PAPERTRADER_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        hide_input_in_errors=True,
    )

    venue: VenueSettings = Field(default_factory=lambda: VenueSettings.model_validate({}))
    sim: SimSettings = SimSettings()
    storage: StorageSettings = StorageSettings()
    strategy: StrategySettings = StrategySettings()
    trading: TradingSettings = TradingSettings()
    breaker: BreakerSettings = BreakerSettings()
    risk: RiskSettings = RiskSettings()
    rest: RestSettings = RestSettings()
    stream: StreamSettings = StreamSettings()
    alerts: AlertSettings = AlertSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        check_environment(os.environ)
        return (init_settings, env_settings, _TomlFile(settings_cls, toml_file=config_file()))


class _TomlFile(TomlConfigSettingsSource):
    """The TOML source, with a file that cannot be read or parsed reported as one :class:`ConfigError` line."""

    def _read_file(self, file_path: Path) -> dict[str, Any]:  # type: ignore[override]
        """The parsed TOML of ``file_path``.

        Raises:
            ConfigError: ``<file>: <problem>``, for a syntax error ending with ``(at line L, column C)``; also for a
                file that is not UTF-8 or cannot be opened (permissions).
        """
        try:
            return super()._read_file(file_path)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file_path}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{file_path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
        except OSError as exc:
            raise ConfigError(f"{file_path}: cannot be read: {exc.strerror or exc}") from None


def config_file() -> Path:
    """The TOML file to read: ``$PAPERTRADER_CONFIG`` when set (non-empty), else ``papertrader.toml`` (optional).

    Raises:
        ConfigError: ``PAPERTRADER_CONFIG`` names a path that is not an existing file, or ``papertrader.toml``
            exists but is not a file (a directory).
    """
    named = os.environ.get("PAPERTRADER_CONFIG", "")
    if not named:
        default = Path(DEFAULT_CONFIG_FILE)
        if default.exists() and not default.is_file():
            raise ConfigError(f"{default}: cannot be read: not a file")
        return default
    path = Path(named)
    if not path.is_file():
        raise ConfigError(f"PAPERTRADER_CONFIG names {str(path)!r}, which is not an existing file")
    return path


ENV_PREFIX = "PAPERTRADER_"

NON_SETTINGS_ENV: tuple[str, ...] = (
    "PAPERTRADER_CONFIG",  # the TOML file to read (config_file)
    "PAPERTRADER_ADMIN_TOKEN",  # the dashboard's admin token (dashboard.auth.TOKEN_ENV)
    "PAPERTRADER_REQUIRE_BROWSER",  # tests: browser tests fail instead of skipping without Chromium (tests/e2e)
    "PAPERTRADER_CHROMIUM",  # tests: the Chromium binary of the browser tests (tests/e2e)
)
"""The ``PAPERTRADER_*`` environment variables that are not settings; :func:`check_environment` lets them pass."""


def check_environment(environ: Mapping[str, str]) -> None:
    """Refuse every ``PAPERTRADER_*`` variable (any case, as pydantic-settings reads them) that names no setting.

    A setting's variable is ``PAPERTRADER_<SECTION>`` (a JSON object for the whole section) or
    ``PAPERTRADER_<SECTION>__<KEY>``; pydantic-settings would silently ignore an unknown section, so it is checked
    here, before loading. :data:`NON_SETTINGS_ENV` are allowed.

    Raises:
        ConfigError: one line, one ``; ``-separated problem per unknown variable in name order, e.g.
            ``PAPERTRADER_TRADINGX__RISK_PCT: unknown section 'tradingx' (sections: venue, sim, ...)``.
    """
    problems = [
        problem
        for name in sorted(environ)
        if name.upper().startswith(ENV_PREFIX) and (problem := _env_problem(name)) is not None
    ]
    if problems:
        raise ConfigError("; ".join(problems))


def _env_problem(name: str) -> str | None:
    """What is wrong with the environment variable ``name`` (prefix included), ``None`` when it names a setting."""
    if name.upper() in NON_SETTINGS_ENV:
        return None
    parts = name[len(ENV_PREFIX) :].lower().split("__")
    model: type[BaseModel] = Settings
    where = ""
    for depth, part in enumerate(parts):
        fields = model.model_fields
        if part not in fields:
            if model is Settings:
                return f"{name}: unknown section {part!r} (sections: {', '.join(fields)})"
            return f"{name}: unknown key {part!r} in [{where}] (keys: {', '.join(fields)})"
        where = f"{where}.{part}" if where else part
        annotation = fields[part].annotation
        if depth < len(parts) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return f"{name}: {where} is set as a whole (a value, or JSON), it has no key {parts[depth + 1]!r}"
            model = annotation
    return None


def describe_validation_error(exc: ValidationError) -> list[str]:
    """One line per invalid setting of a failed :class:`Settings` load: ``key (PAPERTRADER_ENV): problem``,
    e.g. ``trading.risk_pct (PAPERTRADER_TRADING__RISK_PCT): Input should be greater than 0``.

    The variable is the one that sets the key: for an item of a list (``risk.correlation_scale.1``,
    ``alerts.webhooks.0.url``) that is the list's (``PAPERTRADER_RISK__CORRELATION_SCALE``)."""
    lines = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        key = ".".join(loc) or "(settings)"
        settable = next((loc[:i] for i, part in enumerate(error["loc"]) if isinstance(part, int)), loc)
        env = ENV_PREFIX + "__".join(settable).upper()
        lines.append(f"{key} ({env}): {error['msg']}")
    return lines
