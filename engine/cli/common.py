"""What every ``papertrader`` command shares: refusals (exit 2), loading the settings, parsing times, waiting for a
signal."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from engine.config import Settings, describe_validation_error
from engine.errors import ConfigError

EXIT_FAILED = 1
EXIT_REFUSED = 2
_STOP_POLL_S = 0.2


@dataclass
class Refused(Exception):
    """A command that cannot proceed for a reason the user can fix; printed as ``papertrader: <message>``, exit 2."""

    message: str

    def __str__(self) -> str:
        return self.message


def utc_time(text: str) -> datetime:
    """ISO 8601 date or date-time; naive values are UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r}") from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def load_settings() -> Settings:
    """``Settings()``, or :class:`Refused` with one line ``invalid configuration: ...``: each invalid key as
    ``key (PAPERTRADER_ENV): problem``, ``; ``-separated, or the :class:`ConfigError` (unreadable or malformed config
    file, unknown ``PAPERTRADER_*`` variable)."""
    try:
        return Settings()
    except ValidationError as exc:
        raise Refused("invalid configuration: " + "; ".join(describe_validation_error(exc))) from exc
    except ConfigError as exc:
        raise Refused(f"invalid configuration: {exc}") from exc


def wait_for_signal(*, poll: Callable[[], bool] | None = None) -> None:
    """Block until SIGINT or SIGTERM, or until ``poll()`` (called every 0.2 s) returns true."""
    stop = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(_STOP_POLL_S):
            if poll is not None and poll():
                return
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
