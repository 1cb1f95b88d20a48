"""The engine's exception tree. Decisions (a denied order, a rejected fill) are values, not exceptions;
these are for broken infrastructure and bad input at the boundary::

    PapertraderError
    ├── ConfigError               invalid configuration (names the key)
    ├── ExchangeError             anything from the venue, mapped at the boundary with ``raise ... from exc``
    │   ├── TransportError        connection refused/reset, timeout, TLS, DNS (httpx/websockets errors)
    │   │   └── RequestTimeout    no answer within the timeout (connect, read, write or pool)
    │   ├── HTTPStatusError       non-2xx answer; ``status``, ``code``, ``msg``, ``retry_after_s`` (seconds)
    │   ├── ProtocolError         a 2xx answer whose payload breaks the documented format (bad JSON, bad price)
    │   ├── RateLimitExceeded     the local request-weight bucket would make us wait longer than ``max_wait_s``
    │   ├── HostBanned            the host answered 418 (IP ban); nothing is sent until ``retry_after_s`` passes
    │   ├── ApiBreakerOpen        the host's API failure breaker is OPEN (or HALF_OPEN with its trial call out)
    │   └── StreamRefused         the stream's handshake was refused for good (401/403/404): fatal, not retried
    ├── ArchiveError              Binance's public data archive (``papertrader data fetch``): a file that cannot be
    │   │                         downloaded, or a CHECKSUM file that cannot be read
    │   └── ChecksumMismatch      a downloaded file's SHA-256 differs from its ``.CHECKSUM``; the file was deleted
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


class RequestTimeout(TransportError):
    """No answer within the client's timeout (connect, read, write or connection-pool timeout)."""


class HTTPStatusError(ExchangeError):
    """The venue answered with a non-2xx status.

    ``code``/``msg`` are Binance's error payload fields when present (Binance spot REST docs, "Error codes").
    ``retry_after_s`` is the ``Retry-After`` header in seconds (sent with 429 and 418), ``None`` when absent.
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str = "",
        status: int,
        code: int | None = None,
        msg: str = "",
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint)
        self.status = status
        self.code = code
        self.msg = msg
        self.retry_after_s = retry_after_s


class ProtocolError(ExchangeError):
    """A payload that breaks the documented format (malformed JSON, missing field, invalid price)."""


class RateLimitExceeded(ExchangeError):
    """Waiting for request weight would take longer than allowed; nothing was sent.

    ``wait_s`` is the wait the request would have needed, ``max_wait_s`` the allowed wait, both in seconds.
    """

    def __init__(self, message: str, *, endpoint: str = "", weight: int, wait_s: float, max_wait_s: float) -> None:
        super().__init__(message, endpoint=endpoint)
        self.weight = weight
        self.wait_s = wait_s
        self.max_wait_s = max_wait_s


class HostBanned(ExchangeError):
    """The host banned this IP (HTTP 418, Binance spot REST docs, "LIMITS"); nothing was sent.

    ``host`` is the banned host, ``retry_after_s`` the seconds left until the ban ends, ``until_s`` the end of the
    ban on the guard's monotonic clock (seconds).
    """

    def __init__(self, message: str, *, endpoint: str = "", host: str, retry_after_s: float, until_s: float) -> None:
        super().__init__(message, endpoint=endpoint)
        self.host = host
        self.retry_after_s = retry_after_s
        self.until_s = until_s


class ApiBreakerOpen(ExchangeError):
    """The host's API failure breaker rejects calls; nothing was sent.

    ``retry_after_s`` is the seconds until the breaker lets a trial call through (0 when HALF_OPEN with the trial
    call still out).
    """

    def __init__(self, message: str, *, endpoint: str = "", host: str, retry_after_s: float) -> None:
        super().__init__(message, endpoint=endpoint)
        self.host = host
        self.retry_after_s = retry_after_s


class StreamRefused(ExchangeError):
    """The market stream's handshake was refused in a way a retry cannot change (HTTP 401, 403 or 404, or an
    invalid URL): the reconnect loop stops and the engine shows the error."""


class ArchiveError(PapertraderError):
    """A file of Binance's public data archive could not be fetched or verified; the message names the file."""


class ChecksumMismatch(ArchiveError):
    """A downloaded file whose SHA-256 is not the one its ``.CHECKSUM`` file gives; the download was deleted.

    ``expected`` and ``actual`` are the two digests, lower-case hex.
    """

    def __init__(self, message: str, *, expected: str, actual: str) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class EngineError(PapertraderError):
    """The engine loop cannot continue."""
