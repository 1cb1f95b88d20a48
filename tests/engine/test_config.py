"""Settings: SPEC defaults, environment overrides, the TOML file, precedence, and validation errors that name the key.

Every test runs in an empty ``tmp_path`` with no ``PAPERTRADER_*`` variable set, so neither a stray
``papertrader.toml`` nor the developer's environment can interfere.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from engine.config import NON_SETTINGS_ENV, Settings, check_environment, describe_validation_error
from engine.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("PAPERTRADER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write_toml(tmp_path: Path, text: str, name: str = "custom.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_match_the_spec() -> None:
    s = Settings()

    assert s.venue.name == "sim"
    assert s.sim.speed == 60.0  # one 1m candle per wall second
    assert s.storage.path == Path("data/papertrader.duckdb")
    assert s.storage.flush_interval_ms == 250
    assert s.trading.symbols == ("BTCUSDT", "ETHUSDT")
    assert s.trading.starting_balance == Decimal("10000")
    assert (s.breaker.enabled, s.breaker.warning_pct, s.breaker.daily_loss_pct, s.breaker.drawdown_pct) == (
        True, Decimal("3"), Decimal("5"), Decimal("15")
    )
    assert s.breaker.flatten_on_trip is False
    assert (s.risk.max_open_positions, s.risk.max_trades_per_day) == (3, 50)
    assert s.risk.correlation_scale == (Decimal("1"), Decimal("0.7"), Decimal("0.5"))
    assert (s.rest.weight_limit_per_minute, s.rest.max_wait_s, s.rest.warn_pct) == (6000, 10.0, 80.0)
    assert (s.rest.retry_base_s, s.rest.retry_cap_s, s.rest.retry_jitter_pct, s.rest.max_retries) == (1.0, 30.0, 25.0, 3)
    assert (s.rest.breaker_failures, s.rest.breaker_reset_s) == (5, 60.0)
    assert (s.stream.backoff_cap_s, s.stream.stable_after_s, s.stream.max_attempts) == (64.0, 60.0, None)
    assert s.trading.quote_asset == "USDT"
    assert s.trading.taker_fee_pct == Decimal("0.1")
    assert s.trading.slippage_bps == Decimal("2")
    assert s.trading.risk_pct == Decimal("2")
    assert s.trading.max_position_pct == Decimal("20")
    assert s.trading.min_stop_pct == Decimal("0.5")
    assert s.trading.atr_period == 14
    assert s.trading.stop_atr_multiple == Decimal("1.5")
    assert s.trading.reward_risk == Decimal("2")  # take-profit at 2 × the stop distance
    assert (s.trading.trailing_stop, s.trading.trailing_activation) == (True, Decimal("1"))  # trail from 1 × the stop distance
    assert (s.strategy.name, s.strategy.params, s.strategy.effective_params()) == ("sma_crossover", {}, {"fast": 9, "slow": 21})
    assert (s.metrics.enabled, s.metrics.host, s.metrics.port, s.metrics.allow_unauthenticated) == (True, "127.0.0.1", 9479, False)
    assert (s.alerts.weight_utilisation_pct, s.alerts.weight_utilisation_for_s) == (80.0, 60.0)  # above 80 % for a minute
    assert (s.alerts.retry_rate_pct, s.alerts.retry_rate_window_s) == (20.0, 300.0)  # above 20 % over 5 minutes


@pytest.mark.parametrize(
    ("given", "host"), [("::1", "::1"), ("[::1]", "::1"), (" 0.0.0.0 ", "0.0.0.0"), ("metrics.internal", "metrics.internal")]
)
def test_metrics_host_is_a_bare_name_or_address(monkeypatch: pytest.MonkeyPatch, given: str, host: str) -> None:
    monkeypatch.setenv("PAPERTRADER_METRICS__HOST", given)
    assert Settings().metrics.host == host


def test_environment_overrides_nested_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERTRADER_STORAGE__PATH", "/tmp/x.duckdb")
    monkeypatch.setenv("PAPERTRADER_SIM__SPEED", "600")

    s = Settings()

    assert s.storage.path == Path("/tmp/x.duckdb")
    assert s.sim.speed == 600.0
    assert s.storage.flush_interval_ms == 250  # the rest of the section keeps its default


def test_toml_file_named_by_papertrader_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        """
        [trading]
        symbols = ["btcusdt"]
        risk_pct = 1.0
        max_position_pct = 10.0

        [strategy.params]
        fast = 5
        slow = 20
        """,
    )
    monkeypatch.setenv("PAPERTRADER_CONFIG", str(path))

    s = Settings()

    assert s.trading.symbols == ("BTCUSDT",)  # upper-cased
    assert (s.trading.risk_pct, s.trading.max_position_pct) == (Decimal("1"), Decimal("10"))
    assert s.strategy.params == {"fast": 5, "slow": 20}
    assert s.trading.taker_fee_pct == Decimal("0.1")  # untouched keys keep their defaults


def test_papertrader_toml_in_the_working_directory_is_read_by_default(tmp_path: Path) -> None:
    write_toml(tmp_path, "[sim]\nspeed = 120.0\n", name="papertrader.toml")

    assert Settings().sim.speed == 120.0


def test_environment_beats_toml_key_by_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[trading]\nrisk_pct = 1.0\nmax_position_pct = 10.0\n")
    monkeypatch.setenv("PAPERTRADER_CONFIG", str(path))
    monkeypatch.setenv("PAPERTRADER_TRADING__RISK_PCT", "1.5")

    s = Settings()

    assert s.trading.risk_pct == Decimal("1.5")  # from the environment
    assert s.trading.max_position_pct == Decimal("10")  # still from the file


def test_keyword_arguments_beat_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERTRADER_SIM__SPEED", "600")

    assert Settings(sim={"speed": 5.0}).sim.speed == 5.0


def test_settings_are_frozen() -> None:
    s = Settings()

    with pytest.raises(ValidationError):
        s.trading = s.trading  # type: ignore[misc]


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        pytest.param("[trading]\nrisk_pct = -1.0\n", "trading.risk_pct", id="negative-risk"),
        pytest.param("[trading]\nrisk_pct = 101.0\n", "trading.risk_pct", id="risk-over-100"),
        pytest.param("[trading]\nmax_position_pct = 0\n", "trading.max_position_pct", id="zero-position-cap"),
        pytest.param("[trading]\ntaker_fee_pct = -0.1\n", "trading.taker_fee_pct", id="negative-fee"),
        pytest.param("[trading]\nmin_stop_pct = 150.0\n", "trading.min_stop_pct", id="min-stop-over-100"),
        pytest.param("[trading]\nsymbols = []\n", "trading.symbols", id="no-symbols"),
        pytest.param('[trading]\nsymbols = ["BTCUSDT", "btcusdt"]\n', "trading.symbols", id="duplicate-symbols"),
        pytest.param("[strategy.params]\nfast = 21\nslow = 21\n", "strategy.params", id="fast-equals-slow"),
        pytest.param("[strategy.params]\nfast = 30\nslow = 21\n", "strategy.params", id="fast-above-slow"),
        pytest.param('[strategy]\nname = "rsi_reversion"\n[strategy.params]\nperiod = "x"\n', "strategy.params", id="param-type"),
        pytest.param('[strategy]\nname = "macd"\n', "strategy.name", id="unknown-strategy"),
        pytest.param("[sim]\nspeed = 0\n", "sim.speed", id="zero-speed"),
        pytest.param('[sim]\ntime_mode = "now"\nspeed = 60.0\n', "sim.speed is 60, but with sim.time_mode", id="now-not-real-time"),
        pytest.param('[sim]\ntime_mode = "later"\n', "sim.time_mode", id="unknown-time-mode"),
        pytest.param('[trading]\ninterval = "1s"\n', "trading.interval", id="interval-below-1m"),
        pytest.param('[trading]\ninterval = "1M"\n', "trading.interval", id="interval-above-1d"),
        pytest.param("[trading]\nrisk_pc = 1.0\n", "trading.risk_pc", id="unknown-key-typo"),
        pytest.param("[tradin]\nrisk_pct = 1.0\n", "tradin", id="unknown-section"),
        pytest.param('[venue]\nname = "kraken"\n', "venue.name", id="unknown-venue"),
        pytest.param("[breaker]\ndaily_loss_pct = -5\n", "breaker.daily_loss_pct", id="negative-daily-loss"),
        pytest.param("[breaker]\ndrawdown_pct = 150\n", "breaker.drawdown_pct", id="drawdown-over-100"),
        pytest.param("[breaker]\nwarning_pct = 6\n", "breaker.warning_pct", id="warning-above-trip"),
        pytest.param("[risk]\nmax_open_positions = 0\n", "risk.max_open_positions", id="no-positions"),
        pytest.param("[risk]\ncorrelation_scale = [1.0, 1.5]\n", "risk.correlation_scale", id="scale-above-1"),
        pytest.param("[rest]\nmax_wait_s = -1\n", "rest.max_wait_s", id="negative-max-wait"),
        pytest.param("[stream]\nbackoff_cap_s = 0\n", "stream.backoff_cap_s", id="zero-backoff-cap"),
        pytest.param("[metrics]\nport = 70000\n", "metrics.port", id="port-above-65535"),
        pytest.param("[metrics]\nport = -1\n", "metrics.port", id="negative-port"),
        pytest.param('[metrics]\nhost = "http://127.0.0.1"\n', "metrics.host", id="host-with-scheme"),
        pytest.param('[metrics]\nhost = "127.0.0.1:9479"\n', "metrics.host", id="host-with-port"),
        pytest.param('[metrics]\nhost = ""\n', "metrics.host", id="empty-host"),
        pytest.param("[metrics]\nloop_stall_s = 0\n", "metrics.loop_stall_s", id="zero-loop-stall"),
        pytest.param("[alerts]\nweight_utilisation_pct = 120\n", "alerts.weight_utilisation_pct", id="weight-alert-over-100"),
        pytest.param("[alerts]\nretry_rate_min_requests = 0\n", "alerts.retry_rate_min_requests", id="no-min-requests"),
    ],
)
def test_invalid_toml_is_refused_naming_the_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, toml: str, key: str) -> None:
    monkeypatch.setenv("PAPERTRADER_CONFIG", str(write_toml(tmp_path, toml)))

    with pytest.raises(ValidationError) as info:
        Settings()

    assert key in str(info.value)


def test_time_mode_now_runs_in_real_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERTRADER_SIM__TIME_MODE", "now")

    assert (Settings().sim.time_mode, Settings().sim.speed) == ("now", 1.0)  # the speed follows unless set


@pytest.mark.parametrize(
    ("name", "value", "key"),
    [
        ("PAPERTRADER_TRADING__RISK_PCT", "-2", "trading.risk_pct"),
        ("PAPERTRADER_TRADING__MAX_POSITION_PCT", "120", "trading.max_position_pct"),
        ("PAPERTRADER_STRATEGY__PARAMS", '{"fast": 50}', "strategy.params"),
        ("PAPERTRADER_SIM__SPEED", "fast", "sim.speed"),
    ],
)
def test_invalid_environment_value_is_refused_naming_the_key(monkeypatch: pytest.MonkeyPatch, name: str, value: str, key: str) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError) as info:
        Settings()

    assert key in str(info.value)


# ---------------------------------------------------------------------------------------------- venue presets
@pytest.mark.parametrize(
    ("name", "rest_url", "ws_url"),
    [
        ("binance", "https://data-api.binance.vision", "wss://data-stream.binance.vision"),
        ("binance-testnet", "https://testnet.binance.vision", "wss://stream.testnet.binance.vision"),
    ],
)
def test_venue_name_selects_preset_urls(monkeypatch: pytest.MonkeyPatch, name: str, rest_url: str, ws_url: str) -> None:
    monkeypatch.setenv("PAPERTRADER_VENUE__NAME", name)

    venue = Settings().venue

    assert str(venue.rest_url).rstrip("/") == rest_url
    assert str(venue.ws_url).rstrip("/") == ws_url


def test_explicit_urls_beat_the_preset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = '[venue]\nname = "binance-testnet"\nrest_url = "https://api.binance.com"\nws_url = "wss://stream.binance.com:9443"\n'
    monkeypatch.setenv("PAPERTRADER_CONFIG", str(write_toml(tmp_path, toml)))

    venue = Settings().venue

    assert (venue.name, venue.rest_url.host, venue.ws_url.port) == ("binance-testnet", "api.binance.com", 9443)


@pytest.mark.parametrize(
    ("toml", "key", "words"),
    [
        pytest.param('[venue]\nrest_url = "wss://data-api.binance.vision"\n', "venue.rest_url", "http", id="rest-not-http"),
        pytest.param('[venue]\nws_url = "https://data-stream.binance.vision"\n', "venue.ws_url", "ws://", id="ws-not-ws"),
        pytest.param('[venue]\nrest_url = "https://testnet.binance.vision/api"\n', "venue.rest_url", "/api", id="rest-with-api-path"),
        pytest.param('[venue]\nws_url = "wss://stream.testnet.binance.vision/ws"\n', "venue.ws_url", "/ws", id="ws-with-ws-path"),
        pytest.param('[venue]\nrest_url = "not a url"\n', "venue.rest_url", "url", id="rest-garbage"),
    ],
)
def test_bad_venue_urls_are_refused_naming_the_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, toml: str, key: str, words: str
) -> None:
    monkeypatch.setenv("PAPERTRADER_CONFIG", str(write_toml(tmp_path, toml)))

    with pytest.raises(ValidationError) as info:
        Settings()

    assert key in str(info.value)
    assert words in str(info.value).lower()


# ---------------------------------------------------------------------------------------------- the config file
def test_papertrader_config_naming_a_missing_file_is_refused_naming_the_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "papertrader.toml"
    monkeypatch.setenv("PAPERTRADER_CONFIG", str(missing))

    with pytest.raises(ConfigError, match="PAPERTRADER_CONFIG") as info:
        Settings()

    assert str(missing) in str(info.value)


def test_papertrader_config_naming_a_directory_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PAPERTRADER_CONFIG", str(tmp_path))

    with pytest.raises(ConfigError, match=str(tmp_path)):
        Settings()


def test_without_papertrader_config_a_missing_default_file_is_fine() -> None:
    assert not Path("papertrader.toml").exists()

    assert Settings().sim.speed == 60.0


def test_the_example_file_is_valid_and_states_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """``papertrader.toml.example`` parses as it is and changes nothing: it documents the defaults."""
    defaults = Settings().model_dump()
    monkeypatch.setenv("PAPERTRADER_CONFIG", str(Path(__file__).resolve().parents[2] / "papertrader.toml.example"))

    assert Settings().model_dump() == defaults


# ---------------------------------------------------------------------------------------------- alerts
def test_alerts_default_to_no_webhooks() -> None:
    alerts = Settings().alerts

    assert (alerts.webhooks, alerts.disconnect_alert_after_s, alerts.queue_size, alerts.timeout_s) == ((), 60.0, 100, 10.0)


def test_alert_webhooks_from_toml_with_secret_urls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    toml = """
    [alerts]
    disconnect_alert_after_s = 30

    [[alerts.webhooks]]
    url = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    format = "slack"

    [[alerts.webhooks]]
    url = "https://api.telegram.org/bot123:SECRETTOKEN/sendMessage"
    format = "telegram"
    chat_id = "-100123"
    """
    monkeypatch.setenv("PAPERTRADER_CONFIG", str(write_toml(tmp_path, toml)))

    s = Settings()

    slack, telegram = s.alerts.webhooks
    assert (slack.format, telegram.format, telegram.chat_id) == ("slack", "telegram", "-100123")
    assert telegram.url.get_secret_value().endswith("/bot123:SECRETTOKEN/sendMessage")
    assert s.alerts.disconnect_alert_after_s == 30.0
    shown = f"{s!r} {s.model_dump(mode='json')}"
    assert "SECRET" not in shown  # what `papertrader config` prints is masked


def test_alert_webhooks_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERTRADER_ALERTS__WEBHOOKS", '[{"url": "https://discord.com/api/webhooks/1/tok", "format": "discord"}]')

    (hook,) = Settings().alerts.webhooks

    assert hook.format == "discord"


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        pytest.param(
            '[[alerts.webhooks]]\nurl = "https://x.test/bot1:T/sendMessage"\nformat = "telegram"\n',
            "chat_id",
            id="telegram-without-chat-id",
        ),
        pytest.param('[[alerts.webhooks]]\nurl = "https://x.test/h"\nchat_id = "1"\n', "chat_id", id="chat-id-without-telegram"),
        pytest.param('[[alerts.webhooks]]\nurl = "ftp://x.test/SECRET"\n', "alerts.webhooks.0.url", id="ftp-url"),
        pytest.param('[[alerts.webhooks]]\nurl = "SECRET"\n', "alerts.webhooks.0.url", id="no-scheme"),
        pytest.param('[[alerts.webhooks]]\nurl = "https://x.test/h"\nformat = "teams"\n', "alerts.webhooks.0.format", id="unknown-format"),
        pytest.param("[alerts]\ndisconnect_alert_after_s = 0\n", "alerts.disconnect_alert_after_s", id="zero-disconnect"),
        pytest.param("[alerts]\nqueue_size = 0\n", "alerts.queue_size", id="zero-queue"),
    ],
)
def test_invalid_alerts_are_refused_naming_the_key_without_echoing_the_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, toml: str, key: str
) -> None:
    monkeypatch.setenv("PAPERTRADER_CONFIG", str(write_toml(tmp_path, toml)))

    with pytest.raises(ValidationError) as info:
        Settings()

    assert key in str(info.value)
    assert "SECRET" not in str(info.value)


# ---------------------------------------------------------------------------------------------- a broken config file
@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        pytest.param("[trading]\nrisk_pct 1.0\n", "Expected '=' after a key in a key/value pair (at line 2, column 10)", id="no-equals"),
        pytest.param("[trading]\nrisk_pct = 1.0\nrisk_pct = 2.0\n", "Cannot overwrite a value (at line 3, column 15)", id="twice"),
        pytest.param('[trading]\nsymbols = ["BTCUSDT"\n\n[sim]\n', "Unclosed array (at line 4, column 1)", id="unclosed-array"),
    ],
)
def test_a_toml_syntax_error_is_a_config_error_naming_file_line_and_column(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, toml: str, problem: str
) -> None:
    path = write_toml(tmp_path, toml)
    monkeypatch.setenv("PAPERTRADER_CONFIG", str(path))

    with pytest.raises(ConfigError) as info:
        Settings()

    assert str(info.value) == f"{path}: {problem}"
    assert info.value.__cause__ is None and info.value.__suppress_context__  # one line, no chained traceback


def test_a_syntax_error_in_the_default_file_names_it(tmp_path: Path) -> None:
    write_toml(tmp_path, "[sim\nspeed = 1\n", name="papertrader.toml")

    with pytest.raises(ConfigError) as info:
        Settings()

    assert str(info.value) == "papertrader.toml: Expected ']' at the end of a table declaration (at line 1, column 5)"


def test_a_config_file_that_is_not_utf8_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes("[trading]\nquote_asset = \"\u00e9\"\n".encode("latin-1"))
    monkeypatch.setenv("PAPERTRADER_CONFIG", str(path))

    with pytest.raises(ConfigError) as info:
        Settings()

    assert str(info.value) == f"{path}: not UTF-8 text (byte 25: invalid continuation byte)"


def test_an_unreadable_config_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Permissions cannot be taken away from root (the CI user), so ``open`` is made to fail as it does for others."""
    path = write_toml(tmp_path, "[sim]\nspeed = 1\n")
    monkeypatch.setenv("PAPERTRADER_CONFIG", str(path))
    real_open = Path.open

    def denied(self: Path, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)

    with pytest.raises(ConfigError) as info:
        Settings()

    assert str(info.value) == f"{path}: cannot be read: Permission denied"


def test_a_directory_named_papertrader_toml_is_refused(tmp_path: Path) -> None:
    (tmp_path / "papertrader.toml").mkdir()

    with pytest.raises(ConfigError) as info:
        Settings()

    assert str(info.value) == "papertrader.toml: cannot be read: not a file"


# ---------------------------------------------------------------------------------------------- unknown variables
SECTIONS = "venue, sim, storage, strategy, trading, breaker, risk, rest, stream, alerts, metrics"
TRADING_KEYS = (
    "symbols, interval, quote_asset, starting_balance, taker_fee_pct, slippage_bps, risk_pct, max_position_pct, "
    "min_stop_pct, atr_period, stop_atr_multiple, reward_risk, trailing_stop, trailing_activation"
)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param(
            "PAPERTRADER_TRADINGX__RISK_PCT",
            f"PAPERTRADER_TRADINGX__RISK_PCT: unknown section 'tradingx' (sections: {SECTIONS})",
            id="unknown-section",
        ),
        pytest.param(
            "PAPERTRADER_TRADING__RISK_PCTT",
            f"PAPERTRADER_TRADING__RISK_PCTT: unknown key 'risk_pctt' in [trading] (keys: {TRADING_KEYS})",
            id="unknown-key",
        ),
        pytest.param(
            "PAPERTRADER_TRADING__BOGUS",
            f"PAPERTRADER_TRADING__BOGUS: unknown key 'bogus' in [trading] (keys: {TRADING_KEYS})",
            id="bogus-key",
        ),
        pytest.param(
            "papertrader_tradingx__risk_pct",  # pydantic-settings reads names in any case, so the check does too
            f"papertrader_tradingx__risk_pct: unknown section 'tradingx' (sections: {SECTIONS})",
            id="lower-case",
        ),
        pytest.param(
            "PAPERTRADER_RISK_PCT",
            f"PAPERTRADER_RISK_PCT: unknown section 'risk_pct' (sections: {SECTIONS})",
            id="no-section",
        ),
        pytest.param(
            "PAPERTRADER_TRADING__RISK_PCT__MAX",
            "PAPERTRADER_TRADING__RISK_PCT__MAX: trading.risk_pct is set as a whole (a value, or JSON), it has no key 'max'",
            id="below-a-value",
        ),
        pytest.param(
            "PAPERTRADER_ALERTS__WEBHOOKS__0__URL",
            "PAPERTRADER_ALERTS__WEBHOOKS__0__URL: alerts.webhooks is set as a whole (a value, or JSON), it has no key '0'",
            id="list-item",
        ),
    ],
)
def test_an_unknown_environment_variable_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, message: str
) -> None:
    monkeypatch.setenv(name, "2")

    with pytest.raises(ConfigError) as info:
        Settings()

    assert str(info.value) == message


def test_every_unknown_variable_is_named_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERTRADER_SIMM__SPEED", "1")
    monkeypatch.setenv("PAPERTRADER_BREAKER__ENABLE", "1")

    with pytest.raises(ConfigError) as info:
        Settings()

    assert str(info.value) == (
        "PAPERTRADER_BREAKER__ENABLE: unknown key 'enable' in [breaker] "
        "(keys: enabled, warning_pct, daily_loss_pct, drawdown_pct, flatten_on_trip); "
        f"PAPERTRADER_SIMM__SPEED: unknown section 'simm' (sections: {SECTIONS})"
    )


def test_the_check_applies_to_keyword_construction_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment is a source of every ``Settings(...)``, so every construction checks it."""
    monkeypatch.setenv("PAPERTRADER_TRADINGX__RISK_PCT", "2")

    with pytest.raises(ConfigError, match="unknown section 'tradingx'"):
        Settings(sim={"speed": 5.0})


def test_known_non_setting_variables_and_every_setting_variable_pass(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from dashboard.auth import TOKEN_ENV

    assert TOKEN_ENV in NON_SETTINGS_ENV
    environ = dict.fromkeys(NON_SETTINGS_ENV, "1")
    for section, field in Settings.model_fields.items():
        environ[f"PAPERTRADER_{section.upper()}"] = "{}"
        for key in field.annotation.model_fields:  # type: ignore[union-attr]
            environ[f"PAPERTRADER_{section.upper()}__{key.upper()}"] = "1"
    environ["papertrader_sim__speed"] = "1"
    environ["OTHER_TRADINGX__RISK_PCT"] = "1"  # not ours

    check_environment(environ)  # raises nothing

    monkeypatch.setenv("PAPERTRADER_CONFIG", str(write_toml(tmp_path, "")))
    for name in ("PAPERTRADER_ADMIN_TOKEN", "PAPERTRADER_REQUIRE_BROWSER", "PAPERTRADER_CHROMIUM", "PAPERTRADER_REQUIRE_PROMETHEUS"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("papertrader_sim__speed", "7")
    assert Settings().sim.speed == 7.0


# ---------------------------------------------------------------------------------------------- exact money
EXACT_KEYS = {
    "trading.starting_balance", "trading.taker_fee_pct", "trading.slippage_bps", "trading.risk_pct",
    "trading.max_position_pct", "trading.min_stop_pct", "trading.stop_atr_multiple", "trading.reward_risk",
    "trading.trailing_activation", "breaker.warning_pct", "breaker.daily_loss_pct", "breaker.drawdown_pct",
}
"""The settings that enter money arithmetic: ``Decimal``, never ``float``."""


def test_money_and_percentages_are_exact_decimals_from_toml_and_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A TOML float such as ``0.1`` becomes the decimal 0.1, not the binary float's 0.1000000000000000055…"""
    toml = "[trading]\ntaker_fee_pct = 0.1\nstarting_balance = 1234.56\n[risk]\ncorrelation_scale = [1.0, 0.7]\n"
    monkeypatch.setenv("PAPERTRADER_CONFIG", str(write_toml(tmp_path, toml)))
    monkeypatch.setenv("PAPERTRADER_BREAKER__DAILY_LOSS_PCT", "4.3")

    s = Settings()

    assert (s.trading.taker_fee_pct, s.trading.starting_balance) == (Decimal("0.1"), Decimal("1234.56"))
    assert s.breaker.daily_loss_pct == Decimal("4.3")
    assert s.risk.correlation_scale == (Decimal("1"), Decimal("0.7"))
    for key in EXACT_KEYS:
        section, name = key.split(".")
        assert type(getattr(getattr(s, section), name)) is Decimal, key
    assert all(type(f) is Decimal for f in s.risk.correlation_scale)


# ---------------------------------------------------------------------------------------------- non-finite numbers
FLOAT_KEYS = [
    f"{section}.{key}"
    for section, field in Settings.model_fields.items()
    for key, sub in field.annotation.model_fields.items()  # type: ignore[union-attr]
    if sub.annotation in (float, float | None, Decimal, Decimal | None)
]
"""Every number setting that could be ``inf``/``nan``: the floats and the exact (``Decimal``) ones."""


def test_the_float_settings_are_found() -> None:
    """The non-finite check below covers the guard floats and the exact money settings alike."""
    assert {"sim.speed", "rest.max_wait_s", "alerts.timeout_s"} <= set(FLOAT_KEYS)
    assert set(FLOAT_KEYS) >= EXACT_KEYS  # e.g. PAPERTRADER_TRADING__STARTING_BALANCE=inf is refused
    assert len(FLOAT_KEYS) >= 25


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "Infinity", "NaN"])
@pytest.mark.parametrize("key", FLOAT_KEYS)
def test_a_non_finite_number_is_refused_for_every_float_setting(monkeypatch: pytest.MonkeyPatch, key: str, value: str) -> None:
    env = "PAPERTRADER_" + key.replace(".", "__").upper()
    monkeypatch.setenv(env, value)

    with pytest.raises(ValidationError) as info:
        Settings()

    assert f"{key} ({env}): Input should be a finite number" in describe_validation_error(info.value)


@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_a_non_finite_number_in_toml_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str) -> None:
    monkeypatch.setenv("PAPERTRADER_CONFIG", str(write_toml(tmp_path, f"[trading]\nstarting_balance = {value}\n")))

    with pytest.raises(ValidationError) as info:
        Settings()

    assert describe_validation_error(info.value) == [
        "trading.starting_balance (PAPERTRADER_TRADING__STARTING_BALANCE): Input should be a finite number"
    ]


def test_a_non_finite_list_item_names_the_list_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A list is set as a whole, so the variable named is the list's, not one per item."""
    monkeypatch.setenv("PAPERTRADER_RISK__CORRELATION_SCALE", '[1.0, "inf"]')

    with pytest.raises(ValidationError) as info:
        Settings()

    assert describe_validation_error(info.value) == [
        "risk.correlation_scale.1 (PAPERTRADER_RISK__CORRELATION_SCALE): Input should be a finite number"
    ]


# ---------------------------------------------------------------------------------------------- sim.data_dir
def test_sim_data_dir_defaults_to_the_bundled_data_and_reads_a_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert Settings().sim.data_dir is None
    monkeypatch.setenv("PAPERTRADER_SIM__DATA_DIR", "")
    assert Settings().sim.data_dir is None  # empty is unset, not the working directory
    monkeypatch.setenv("PAPERTRADER_SIM__DATA_DIR", "~/klines")
    assert Settings().sim.data_dir == Path.home() / "klines"
    monkeypatch.delenv("PAPERTRADER_SIM__DATA_DIR")
    monkeypatch.setenv("PAPERTRADER_CONFIG", str(write_toml(tmp_path, '[sim]\ndata_dir = "/srv/klines"\n')))
    assert Settings().sim.data_dir == Path("/srv/klines")  # not checked here: read when the simulator starts
