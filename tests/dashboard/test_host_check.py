"""``dashboard.host_check.HostAllowList``: requests and WebSocket handshakes with a Host outside
``server.allowedHosts`` never reach the app (DNS rebinding)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect
from streamlit import config as st_config

from dashboard.host_check import HostAllowList


async def _page(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("dashboard")


async def _stream(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hello")
    await websocket.close()


@pytest.fixture
def allowed_hosts() -> Iterator[list[str]]:
    """``server.allowedHosts`` as the project configures it; a test may change the list in place."""
    saved = st_config.get_option("server.allowedHosts")
    hosts = ["localhost", "127.0.0.1", "::1"]
    st_config.set_option("server.allowedHosts", hosts)
    yield hosts
    st_config.set_option("server.allowedHosts", saved)


@pytest.fixture
def client(allowed_hosts: list[str]) -> TestClient:
    app = Starlette(routes=[Route("/", _page), WebSocketRoute("/_stcore/stream", _stream)], middleware=[Middleware(HostAllowList)])
    return TestClient(app)


@pytest.mark.parametrize("host", ["localhost:8501", "127.0.0.1:8501", "LOCALHOST", "[::1]:8501", "localhost."])
def test_the_loopback_names_are_served(client: TestClient, host: str) -> None:
    response = client.get("/", headers={"Host": host})
    assert (response.status_code, response.text) == (200, "dashboard")


@pytest.mark.parametrize("host", ["rebound.example:8501", "127.0.0.1.nip.io", "localhost.evil.example", "", "local host"])
def test_any_other_host_is_refused_with_403(client: TestClient, host: str) -> None:
    response = client.get("/", headers={"Host": host})
    assert response.status_code == 403
    assert "server.allowedHosts" in response.text and "dashboard" not in response.text


def test_a_websocket_handshake_with_another_host_is_refused(client: TestClient) -> None:
    with client.websocket_connect("/_stcore/stream", headers={"Host": "localhost:8501"}) as ws:
        assert ws.receive_text() == "hello"
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/_stcore/stream", headers={"Host": "rebound.example"}):
        pass
    assert refused.value.code == 1008


def test_the_list_is_configurable_with_wildcards_and_read_at_each_request(client: TestClient, allowed_hosts: list[str]) -> None:
    assert client.get("/", headers={"Host": "pt.lan.example"}).status_code == 403
    st_config.set_option("server.allowedHosts", [*allowed_hosts, "*.lan.example"])
    assert client.get("/", headers={"Host": "pt.lan.example:8501"}).status_code == 200
    st_config.set_option("server.allowedHosts", [])
    assert client.get("/", headers={"Host": "anything.example"}).status_code == 200, "an empty list accepts any Host, as Streamlit does"
