"""The Runtime's operations endpoint with the whole engine behind it (simulator over loopback, DuckDB): metrics that
follow the engine, /healthz failing within 5 s of the engine thread's end while the web server stays up, a wedged
loop and stale data seen by the probes, the admin token, and the refusals before anything is written."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.commands import Command, CommandKind
from engine.config import MetricsSettings, Settings
from engine.errors import ConfigError
from engine.runtime import Runtime

HEALTH_DEADLINE_S = 5.0


def base_url(runtime: Runtime) -> str:
    assert runtime.metrics_url is not None
    return runtime.metrics_url.removesuffix("/metrics")


def samples(runtime: Runtime, **headers: str) -> dict[str, float]:
    """``{"name{labels}": value}`` of one scrape."""
    assert runtime.metrics_url is not None
    response = httpx.get(runtime.metrics_url, headers=headers, timeout=5)
    response.raise_for_status()
    found = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            found[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return found


def ready(runtime: Runtime) -> Callable[[], bool]:
    return lambda: httpx.get(f"{base_url(runtime)}/readyz", timeout=5).status_code == 200


def stop_engine_thread(runtime: Runtime) -> None:
    """End the engine thread as :meth:`Runtime.stop` begins to, leaving every other part (the web server) running."""
    assert runtime._loop is not None and runtime._stop_event is not None
    runtime._loop.call_soon_threadsafe(runtime._stop_event.set)


def test_metrics_follow_the_engine_and_commands(fast_settings, wait_for) -> None:
    with Runtime(fast_settings()) as runtime:
        assert runtime.metrics_url is not None and runtime.metrics_url.startswith("http://127.0.0.1:")
        wait_for(ready(runtime), "/readyz to answer 200")
        runtime.submit(Command(CommandKind.PAUSE, actor="test")).result(timeout=5)
        first = samples(runtime)
        candles = first["papertrader_candles_processed_total"]
        wait_for(lambda: samples(runtime)["papertrader_candles_processed_total"] > candles + 20, "20 more candles")
        wait_for(lambda: samples(runtime)["papertrader_engine_loop_lag_seconds_count"] > 0, "a heartbeat (one every 0.5 s)")
        s = samples(runtime)

    assert s['papertrader_engine_state{state="PAUSED"}'] == 1
    assert s['papertrader_commands_total{kind="PAUSE",result="OK"}'] == 1
    assert s["papertrader_engine_healthy"] == s["papertrader_engine_ready"] == s["papertrader_stream_connected"] == 1
    assert s['papertrader_breaker_state{state="ACTIVE"}'] + s['papertrader_breaker_state{state="WARNING"}'] == 1
    assert s["papertrader_equity"] > 0 and s["papertrader_recorder_rows_written_total"] > 0
    assert s['papertrader_rest_requests_total{endpoint="/api/v3/exchangeInfo",status="200"}'] >= 1
    assert s["papertrader_backfilled_candles_total"] > 0, "the warm-up history came over REST"
    assert s["papertrader_recorder_flush_duration_seconds_count"] > 0 and s["papertrader_engine_loop_lag_seconds_count"] > 0


def test_healthz_fails_within_5_s_when_the_engine_thread_stops_while_the_server_stays_up(fast_settings, wait_for) -> None:
    with Runtime(fast_settings()) as runtime:
        url = f"{base_url(runtime)}/healthz"
        wait_for(lambda: httpx.get(url, timeout=5).status_code == 200, "/healthz to answer 200")

        stop_engine_thread(runtime)
        stopped = time.monotonic()
        while (response := httpx.get(url, timeout=5)).status_code == 200:
            assert time.monotonic() - stopped < HEALTH_DEADLINE_S, "/healthz still 200 after 5 s"
            time.sleep(0.05)
        took_s = time.monotonic() - stopped
        metrics = samples(runtime)

    assert response.status_code == 503 and took_s < HEALTH_DEADLINE_S
    assert "thread: the engine thread is not running" in response.json()["failing"]
    assert metrics["papertrader_engine_healthy"] == 0, "the metrics say so too, for the EngineDown alert"


def test_a_wedged_loop_fails_healthz_and_passes_again_once_it_turns(fast_settings, wait_for) -> None:
    with Runtime(fast_settings(metrics=MetricsSettings(port=0, loop_stall_s=0.5))) as runtime:
        url = f"{base_url(runtime)}/healthz"
        wait_for(lambda: httpx.get(url, timeout=5).status_code == 200, "/healthz to answer 200")
        wait_for(lambda: samples(runtime)["papertrader_engine_loop_lag_seconds_count"] > 0, "the heartbeat's first beat")
        assert runtime._loop is not None
        runtime._loop.call_soon_threadsafe(time.sleep, 2.0)  # something blocks the engine loop for 2 s

        wait_for(lambda: httpx.get(url, timeout=5).status_code == 503, "/healthz to fail", timeout_s=5)
        failing = httpx.get(url, timeout=5).json()["failing"]
        wait_for(lambda: httpx.get(url, timeout=5).status_code == 200, "/healthz to pass again", timeout_s=10)
        lag = samples(runtime)

    assert any(reason.startswith("loop: the engine loop turned") for reason in failing), failing
    assert lag['papertrader_engine_loop_lag_seconds_bucket{le="1.0"}'] < lag["papertrader_engine_loop_lag_seconds_count"], "a lag over 1 s"


def test_a_silent_market_makes_the_engine_not_ready_but_still_alive(fast_settings, wait_for) -> None:
    with Runtime(fast_settings(metrics=MetricsSettings(port=0, max_data_lag_s=1.0))) as runtime:
        wait_for(ready(runtime), "/readyz to answer 200")
        runtime.submit(Command(CommandKind.SET_FAULTS, actor="test", params={"ws_stall": True})).result(timeout=5)

        wait_for(lambda: not ready(runtime)(), "/readyz to fail", timeout_s=10)
        body = httpx.get(f"{base_url(runtime)}/readyz", timeout=5).json()
        alive = httpx.get(f"{base_url(runtime)}/healthz", timeout=5).status_code
        runtime.submit(Command(CommandKind.RESET_FAULTS, actor="test")).result(timeout=5)
        wait_for(ready(runtime), "/readyz to pass again", timeout_s=20)

    assert any(reason.startswith(("data_lag: last market message", "stream: ")) for reason in body["failing"]), body
    assert alive == 200


def test_with_an_admin_token_the_endpoint_needs_it(fast_settings) -> None:
    with Runtime(fast_settings(), admin_token="let-me-in") as runtime:
        assert runtime.metrics_url is not None
        assert httpx.get(runtime.metrics_url, timeout=5).status_code == 401
        assert "papertrader_engine_info" in "".join(samples(runtime, Authorization="Bearer let-me-in"))


def test_a_public_metrics_host_without_a_token_refuses_the_start_before_the_database(fast_settings, caplog) -> None:
    settings: Settings = fast_settings(metrics=MetricsSettings(host="0.0.0.0", port=0))
    with pytest.raises(ConfigError, match=r"^metrics\.host 0\.0\.0\.0 is not a loopback address and no admin token is set"):
        Runtime(settings).start()
    assert not settings.storage.path.exists()

    opted_out = fast_settings(metrics=MetricsSettings(host="0.0.0.0", port=0, allow_unauthenticated=True))
    with Runtime(opted_out) as runtime:
        assert runtime.ops is not None
        answer = httpx.get(f"http://127.0.0.1:{runtime.ops.port}/metrics", timeout=5)
        assert answer.status_code == 200 and "papertrader_engine_info" in answer.text, "served without a token"
    assert "open to anyone who can reach it" in caplog.text


def test_a_metrics_port_in_use_refuses_the_start_before_the_database(fast_settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings: Settings = fast_settings(metrics=MetricsSettings(port=taken.getsockname()[1]))
        with pytest.raises(ConfigError, match=r"^metrics\.port \d+ on 127\.0\.0\.1: cannot listen"):
            Runtime(settings).start()
    assert not settings.storage.path.exists()


def test_metrics_can_be_switched_off(fast_settings) -> None:
    with Runtime(fast_settings(metrics=MetricsSettings(enabled=False))) as runtime:
        assert runtime.metrics_url is None and runtime.ops is None
        assert runtime.health().ok
