"""The operations endpoint: ``/metrics`` (Prometheus text format, by ``prometheus_client``'s own WSGI app over the
Runtime's private registry), ``/healthz`` and ``/readyz`` (JSON, :mod:`engine.health`), served by a threaded
``wsgiref`` server (``prometheus_client``'s ``ThreadingWSGIServer``) on a daemon thread of its own, so it answers
even when the engine thread is dead.

Access (``[metrics]``, like the dashboard's controls): on a loopback host anyone local may read; with an admin token
configured every request must carry ``Authorization: Bearer <token>`` (401 otherwise, compared in constant time);
a non-loopback host without a token is refused at start unless ``metrics.allow_unauthenticated`` says otherwise.

Host check (against DNS rebinding, as the dashboard's ``server.allowedHosts``): without a token, a request whose
``Host`` header names anything but a loopback name, the bound host or one of ``metrics.allowed_hosts`` gets 403.
A web page on a name its author controls can re-point that name at 127.0.0.1 once loaded and then read a
tokenless loopback endpoint as its own origin; its requests still carry that name as ``Host``. With a token the
check is not needed (the page cannot know the token). A request without ``Host`` (HTTP/1.0; no browser sends one)
passes.

==============  ======================================================================================
path            answer
==============  ======================================================================================
``/metrics``    200, the exposition (``prometheus_client.make_wsgi_app``: content negotiation, gzip)
``/healthz``    200 ``{"status": "ok", ...}`` or 503 ``{"status": "fail", "failing": [...], ...}``
``/readyz``     the same for readiness
other           404 (401 before anything without the token, 403 for a Host not allowed)
==============  ======================================================================================
"""

from __future__ import annotations

import errno
import hmac
import ipaddress
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from engine.errors import ConfigError
from engine.health import HealthReport

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.05
"""How often the serving thread checks for shutdown, seconds (bounds :meth:`OpsServer.stop`)."""
TOKEN_SOURCES = "PAPERTRADER_ADMIN_TOKEN, or admin_token in .streamlit/secrets.toml for the dashboard"

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1); False for anything else, ``0.0.0.0`` included."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_access(*, host: str, token: str | None, allow_unauthenticated: bool) -> None:
    """Refuse to serve a non-loopback ``host`` without ``token`` unless ``allow_unauthenticated``.

    Raises:
        ConfigError: one line naming the setting and the ways out.
    """
    if token is None and not allow_unauthenticated and not is_loopback(host):
        raise ConfigError(
            f"metrics.host {host} is not a loopback address and no admin token is set: set one ({TOKEN_SOURCES}), "
            "bind metrics.host = 127.0.0.1, or set metrics.allow_unauthenticated = true"
        )


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not logged."""


class OpsServer:
    """``/metrics``, ``/healthz`` and ``/readyz`` on ``host:port`` (see the module docstring).

    Args:
        host, port: where to listen (``port`` 0: any free one; :attr:`port` is the one bound).
        registry: what ``/metrics`` serves.
        health, ready: the current liveness and readiness reports (called per request, from the serving thread).
        token: the admin token every request must carry as a bearer token; ``None``: none needed, and then the
            ``Host`` header must name a loopback name, ``host`` or one of ``allowed_hosts`` (port ignored,
            case-insensitive).

    Raises (from the constructor, which binds the port):
        ConfigError: the address cannot be bound: the port is in use (naming ``metrics.port``), or the host cannot
            be resolved or is not an address of this machine (naming ``metrics.host``).
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        registry: CollectorRegistry,
        health: Callable[[], HealthReport],
        ready: Callable[[], HealthReport],
        token: str | None,
        allowed_hosts: Iterable[str] = (),
    ) -> None:
        self._metrics_app = make_wsgi_app(registry)
        self._allowed_hosts = frozenset(h.lower() for h in (host, *allowed_hosts))
        self._health, self._ready = health, ready
        self._expected = None if token is None else f"Bearer {token}".encode()
        try:
            family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
        except socket.gaierror as exc:
            raise ConfigError(f"metrics.host {host}: cannot be resolved ({exc.strerror})") from None

        class Server(ThreadingWSGIServer):
            address_family = family

        try:
            self._server = make_server(host, port, self._app, server_class=Server, handler_class=_Quiet)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"metrics.port {port} on {host}: cannot listen ({exc.strerror}); give each engine its own "
                    "metrics.port, or 0 for any free port"
                ) from None
            raise ConfigError(f"metrics.host {host}: cannot listen on port {port} ({exc.strerror or exc})") from None
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL_S}, name="ops-server", daemon=True
        )

    @property
    def url(self) -> str:
        """``http://host:port`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> OpsServer:
        self._thread.start()
        log.info("metrics at %s/metrics, health at /healthz and /readyz", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (at most :data:`POLL_INTERVAL_S` plus the request in progress)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    # ------------------------------------------------------------------ the WSGI app
    def _app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if self._expected is not None:
            given = environ.get("HTTP_AUTHORIZATION", "").encode("latin-1")  # WSGI: header bytes as latin-1
            if not hmac.compare_digest(given, self._expected):
                return _json(start_response, "401 Unauthorized", {"error": "a bearer token is required"}, [("WWW-Authenticate", "Bearer")])
        elif not self._host_allowed(environ.get("HTTP_HOST")):
            error = "this Host is not allowed: add it to metrics.allowed_hosts, or set an admin token"
            return _json(start_response, "403 Forbidden", {"error": error})
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return self._metrics_app(environ, start_response)
        if path in ("/healthz", "/readyz"):
            report = self._health() if path == "/healthz" else self._ready()
            return _json(start_response, "200 OK" if report.ok else "503 Service Unavailable", report.body())
        return _json(start_response, "404 Not Found", {"error": f"no {path}; try /metrics, /healthz or /readyz"})

    def _host_allowed(self, header: str | None) -> bool:
        if header is None:
            return True
        name = header.rsplit(":", 1)[0] if header.count(":") == 1 else header  # host:port; IPv6 as [::1]:port
        name = name.removeprefix("[").split("]")[0].lower()
        return is_loopback(name) or name in self._allowed_hosts


def _json(start_response: StartResponse, status: str, body: dict[str, Any], headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *(headers or [])])
    return [data]
