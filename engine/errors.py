"""The engine's exception tree. Decisions (a denied order, a rejected fill) are values, not exceptions;
these are for broken infrastructure and bad input at the boundary::

    PapertraderError
    ├── ConfigError               invalid configuration (names the key)
    ├── ExchangeError             anything from the venue, mapped at the boundary with ``raise ... from exc``
    │   ├── TransportError        connection refused/reset, timeout, TLS, DNS (httpx/websockets errors)
    │   ├── HTTPStatusError       non-2xx answer; ``status``, ``code`` (Binance error code), ``msg``
    │   └── ProtocolError         a 2xx answer whose payload breaks the documented format (bad JSON, bad price)
    └── EngineError               the engine loop cannot continue
"""

from __future__ import annotations


class PapertraderError(Exception):
    """Base of every papertrader error."""


class ConfigError(PapertraderError):
    """Invalid configuration; the message names the key."""


class ExchangeError(PapertraderError):
    """Something went wrong talking to the venue."""

    def __init__(self, message: str, *, endpoint: str = "") -> None:
        super().__init__(message)
        self.endpoint = endpoint


class TransportError(ExchangeError):
    """The request did not get an HTTP answer (connection error, timeout)."""


class HTTPStatusError(ExchangeError):
    """The venue answered with a non-2xx status.

    ``code``/``msg`` are Binance's error payload fields when present (Binance spot REST docs, "Error codes").
    """

    def __init__(self, message: str, *, endpoint: str = "", status: int, code: int | None = None, msg: str = "") -> None:
        super().__init__(message, endpoint=endpoint)
        self.status = status
        self.code = code
        self.msg = msg


class ProtocolError(ExchangeError):
    """A payload that breaks the documented format (malformed JSON, missing field, invalid price)."""


class EngineError(PapertraderError):
    """The engine loop cannot continue."""
