"""``python -m simulator [--port N] [--speed X]``: serve the simulated exchange until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import threading

from simulator.market import Market
from simulator.server import SimulatorServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default 0: a free one)")
    parser.add_argument("--speed", type=float, default=60.0, help="market seconds per wall second (default 60)")
    args = parser.parse_args(argv)
    with SimulatorServer(Market.replay(speed=args.speed), port=args.port) as server:
        print(f"REST {server.rest_url}\nWS   {server.ws_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
