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
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from engine.config_sections import (
    AlertSettings,
    BreakerSettings,
    MetricsSettings,
    RestSettings,
    RiskSettings,
    SimSettings,
    StorageSettings,
    StrategySettings,
    StreamSettings,
    TradingSettings,
    VenueSettings,
    WebhookSettings,
)
from engine.errors import ConfigError

__all__ = [
    "AlertSettings",
    "BreakerSettings",
    "MetricsSettings",
    "RestSettings",
    "RiskSettings",
    "Settings",
    "SimSettings",
    "StorageSettings",
    "StrategySettings",
    "StreamSettings",
    "TradingSettings",
    "VenueSettings",
    "WebhookSettings",
]

DEFAULT_CONFIG_FILE = "papertrader.toml"

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
    metrics: MetricsSettings = MetricsSettings()

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

ADMIN_TOKEN_ENV = "PAPERTRADER_ADMIN_TOKEN"
"""The admin token: the dashboard's controls (``dashboard.auth``) and the operations endpoint (``[metrics]``)."""

NON_SETTINGS_ENV: tuple[str, ...] = (
    "PAPERTRADER_CONFIG",  # the TOML file to read (config_file)
    ADMIN_TOKEN_ENV,  # the admin token of the dashboard's controls and the metrics endpoint
    "PAPERTRADER_REQUIRE_BROWSER",  # tests: browser tests fail instead of skipping without Chromium (tests/e2e)
    "PAPERTRADER_CHROMIUM",  # tests: the Chromium binary of the browser tests (tests/e2e)
    "PAPERTRADER_REQUIRE_PROMETHEUS",  # tests: Prometheus tests fail instead of skipping without it (tests/deploy)
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
