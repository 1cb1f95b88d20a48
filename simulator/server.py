"""Run the simulator app in-process: uvicorn on a loopback socket, in a daemon thread.

The socket is bound by :meth:`SimulatorServer.start` in the caller's thread (port 0 picks a free ephemeral port), so
the URL is known, and a bind failure raised, before the server thread runs. uvicorn installs no signal handlers
outside the main thread (``uvicorn.Server.capture_signals`` is a no-op there), so Ctrl-C stays with the host program.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from simulator.app import create_app
from simulator.faults import Faults
from simulator.market import Market

WS_PONG_TIMEOUT_S = 60.0
"""A client that does not answer a ping within this time is disconnected (Binance WebSocket Streams docs)."""
_GRACEFUL_SHUTDOWN_S = 5  # whole seconds: uvicorn's timeout_graceful_shutdown is an int


class SimulatorStartError(RuntimeError):
    """The simulator server could not bind its socket or did not come up in time."""


class SimulatorServer:
    """A Binance-compatible exchange serving ``market`` over HTTP and WebSocket on ``host``.

    Args:
        market: the replayed exchange (see :func:`simulator.app.create_app`).
        host: IPv4 address or host name to bind; loopback by default.
        port: TCP port; 0 picks a free ephemeral port (read it from :attr:`port` after :meth:`start`).
        update_interval_ms: wall-clock milliseconds between two stream ticks of a WebSocket connection.
        ws_ping_interval_s: seconds between the server's WebSocket pings (Binance: 20).
        faults: the fault switches (default: a new :class:`~simulator.faults.Faults`, all off); switch them at
            run time through :attr:`faults` or the control API (:mod:`simulator.control`).

    Use as a context manager (``with SimulatorServer(market) as server: ...``) or call :meth:`start` and
    :meth:`stop`. A server runs once: it cannot be started again after :meth:`stop`.
    """

    def __init__(
        self,
        market: Market,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        update_interval_ms: int = 250,
        ws_ping_interval_s: float = 20.0,
        faults: Faults | None = None,
    ) -> None:
        self._address = (host, port)
        self.market = market
        self.faults = faults if faults is not None else Faults()
        self._server = uvicorn.Server(
            uvicorn.Config(
                create_app(market, faults=self.faults, update_interval_ms=update_interval_ms),
                log_level="warning",
                lifespan="off",
                ws="websockets-sansio",
                ws_ping_interval=ws_ping_interval_s,
                ws_ping_timeout=WS_PONG_TIMEOUT_S,
                timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_S,
            )
        )
        self._socket: socket.socket | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None

    def start(self, *, timeout_s: float = 10.0) -> SimulatorServer:
        """Bind, start serving in a daemon thread and return once connections are accepted.

        Raises:
            SimulatorStartError: already started, the address cannot be bound, or the server did not come up
                within ``timeout_s`` seconds (it is stopped again).
        """
        if self._thread is not None:
            raise SimulatorStartError("this simulator server was already started; create a new one")
        try:
            self._socket = socket.create_server(self._address)
        except OSError as exc:
            raise SimulatorStartError(f"cannot bind the simulator to {self._address[0]}:{self._address[1]}") from exc
        self._port = self._socket.getsockname()[1]
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name=f"simulator:{self.port}", daemon=True
        )
        self._thread.start()
        deadline_s = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive():
                self.stop()
                raise SimulatorStartError("the simulator server exited during startup (see the uvicorn log)")
            if time.monotonic() > deadline_s:
                self.stop()
                raise SimulatorStartError(f"the simulator server did not start within {timeout_s} s")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Close WebSocket connections (code 1012) and the listening socket, and join the thread. Idempotent."""
        if self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(_GRACEFUL_SHUTDOWN_S + 1.0)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join()
        if self._socket is not None:
            self._socket.close()

    @property
    def port(self) -> int:
        """The bound TCP port. Raises ``RuntimeError`` before :meth:`start`."""
        if self._port is None:
            raise RuntimeError("the simulator server is not started")
        return self._port

    @property
    def rest_url(self) -> str:
        """Base URL of the REST API, e.g. ``http://127.0.0.1:54321`` (endpoints under ``/api/v3``)."""
        return f"http://{self._address[0]}:{self.port}"

    @property
    def ws_url(self) -> str:
        """Base URL of the WebSocket streams, e.g. ``ws://127.0.0.1:54321`` (``/ws/<stream>``, ``/stream?...``)."""
        return f"ws://{self._address[0]}:{self.port}"

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
