"""The operations endpoint over real HTTP on 127.0.0.1 (port 0): /metrics in the Prometheus text format, /healthz and
/readyz as JSON with 200 or 503, the bearer token when one is set, and the refusals at start (address in use, a
public address without a token)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families

from engine.errors import ConfigError
from engine.health import Check, HealthReport
from engine.ops_server import OpsServer, check_access, is_loopback

OK = HealthReport((Check("thread", True, "the engine thread is running"),))
DEAD = HealthReport((Check("thread", False, "the engine thread is not running"), Check("loop", True, "turned 0.1 s ago")))


@pytest.fixture
def registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("papertrader_test_things", "Things.", registry=registry).inc(3)
    return registry


def serve(registry: CollectorRegistry, *, token: str | None = None, health: HealthReport = OK, ready: HealthReport = DEAD) -> OpsServer:
    return OpsServer(host="127.0.0.1", port=0, registry=registry, health=lambda: health, ready=lambda: ready, token=token).start()


@pytest.fixture
def server(registry: CollectorRegistry) -> Iterator[OpsServer]:
    server = serve(registry)
    yield server
    server.stop()


def test_metrics_are_served_in_the_prometheus_text_format(server: OpsServer) -> None:
    response = httpx.get(f"{server.url}/metrics", timeout=5)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert families["papertrader_test_things"].samples[0].value == 3
    assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}"


def test_health_and_readiness_answer_200_or_503_with_the_reasons(server: OpsServer) -> None:
    health = httpx.get(f"{server.url}/healthz", timeout=5)
    ready = httpx.get(f"{server.url}/readyz", timeout=5)

    assert (health.status_code, health.headers["content-type"]) == (200, "application/json")
    assert health.json() == {"status": "ok", "checks": {"thread": {"ok": True, "detail": "the engine thread is running"}}, "failing": []}
    assert ready.status_code == 503
    assert ready.json()["failing"] == ["thread: the engine thread is not running"]


def test_an_unknown_path_is_404(server: OpsServer) -> None:
    response = httpx.get(f"{server.url}/", timeout=5)
    assert response.status_code == 404 and "/metrics" in response.json()["error"]


def test_with_a_token_every_path_needs_it_as_a_bearer_token(registry: CollectorRegistry) -> None:
    server = serve(registry, token="s3cret-token")
    try:
        for path in ("/metrics", "/healthz", "/readyz"):
            denied = httpx.get(f"{server.url}{path}", timeout=5)
            wrong = httpx.get(f"{server.url}{path}", headers={"Authorization": "Bearer s3cret-tokeN"}, timeout=5)
            assert (denied.status_code, wrong.status_code) == (401, 401), path
            assert denied.headers["www-authenticate"] == "Bearer"
            assert "s3cret" not in denied.text + wrong.text
        allowed = httpx.get(f"{server.url}/metrics", headers={"Authorization": "Bearer s3cret-token"}, timeout=5)
        assert allowed.status_code == 200 and "papertrader_test_things_total 3.0" in allowed.text
    finally:
        server.stop()


def test_a_port_in_use_is_refused_naming_the_setting(registry: CollectorRegistry) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"^metrics\.port {port} on 127\.0\.0\.1: cannot listen \(Address already in use\)"):
            OpsServer(host="127.0.0.1", port=port, registry=registry, health=lambda: OK, ready=lambda: OK, token=None)


def test_an_address_of_another_machine_is_refused_naming_the_host(registry: CollectorRegistry) -> None:
    """192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this machine."""
    with pytest.raises(ConfigError, match=r"^metrics\.host 192\.0\.2\.1: cannot listen on port 0 \(Cannot assign requested address\)$"):
        OpsServer(host="192.0.2.1", port=0, registry=registry, health=lambda: OK, ready=lambda: OK, token=None)


def test_stop_closes_the_socket(registry: CollectorRegistry) -> None:
    server = serve(registry)
    port = server.port
    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)


@pytest.mark.parametrize(
    ("host", "local"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.10", False), ("papertrader.example", False)],
)  # fmt: skip
def test_loopback_hosts(host: str, local: bool) -> None:
    assert is_loopback(host) is local


def test_a_public_address_needs_a_token_or_an_explicit_opt_out() -> None:
    refusal = r"^metrics\.host 0\.0\.0\.0 is not a loopback address and no admin token is set: set one \(PAPERTRADER_ADMIN_TOKEN"
    with pytest.raises(ConfigError, match=refusal):
        check_access(host="0.0.0.0", token=None, allow_unauthenticated=False)
    check_access(host="0.0.0.0", token="t", allow_unauthenticated=False)
    check_access(host="0.0.0.0", token=None, allow_unauthenticated=True)
    check_access(host="127.0.0.1", token=None, allow_unauthenticated=False)


def test_without_a_token_a_foreign_host_header_is_refused_against_dns_rebinding(registry: CollectorRegistry) -> None:
    """A page whose name was re-pointed at 127.0.0.1 sends its own name as Host: 403; loopback names, the bound host and
    ``allowed_hosts`` pass (port ignored, case-insensitive)."""
    server = OpsServer(
        host="127.0.0.1", port=0, registry=registry, health=lambda: OK, ready=lambda: OK, token=None,
        allowed_hosts=["prometheus.internal"],
    ).start()
    try:
        def status(host: str) -> int:
            return httpx.get(f"{server.url}/metrics", headers={"Host": host}, timeout=5).status_code

        refused = httpx.get(f"{server.url}/healthz", headers={"Host": "attacker.example:9479"}, timeout=5)
        assert refused.status_code == 403 and "metrics.allowed_hosts" in refused.json()["error"]
        assert status("rebind.attacker.example") == 403
        for host in ("localhost", "LOCALHOST:9479", f"127.0.0.1:{server.port}", "[::1]:9479", "Prometheus.Internal:80"):
            assert status(host) == 200, host
    finally:
        server.stop()


def test_with_a_token_the_host_header_is_not_checked(registry: CollectorRegistry) -> None:
    server = serve(registry, token="s3cret-token")
    try:
        response = httpx.get(
            f"{server.url}/metrics", headers={"Host": "scraper.example", "Authorization": "Bearer s3cret-token"}, timeout=5
        )
        assert response.status_code == 200
    finally:
        server.stop()
