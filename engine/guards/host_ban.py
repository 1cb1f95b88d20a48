"""A host's IP ban: after HTTP 418 no request may go to that host until its ``Retry-After`` has passed.

Binance spot REST docs, "LIMITS": an IP that keeps sending after 429 is banned with 418; the ban lasts from 2
minutes up to 3 days and ``Retry-After`` gives the seconds left.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from engine.errors import HostBanned

log = logging.getLogger(__name__)

DEFAULT_BAN_S = 120.0
"""Ban length assumed when a 418 carries no ``Retry-After`` (Binance's shortest ban)."""


@dataclass(frozen=True)
class HostBanStatus:
    """A snapshot of a :class:`HostBan`.

    Attributes:
        host: the guarded host.
        banned: whether calls are blocked now.
        retry_after_s: seconds left until the ban ends (0 when not banned).
        until_s: end of the current or last ban on the monotonic clock, ``None`` if never banned.
        bans: how many bans were recorded.
    """

    host: str
    banned: bool
    retry_after_s: float
    until_s: float | None
    bans: int


class HostBan:
    """The ban state of one host.

    Args:
        host: the host name, for messages.
        clock: monotonic clock, seconds.
    """

    def __init__(self, host: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.host = host
        self._clock = clock
        self._until_s: float | None = None
        self._bans = 0

    def ban(self, retry_after_s: float | None) -> None:
        """Block the host for ``retry_after_s`` seconds (:data:`DEFAULT_BAN_S` when ``None``)."""
        duration_s = DEFAULT_BAN_S if retry_after_s is None else retry_after_s
        until_s = self._clock() + duration_s
        self._until_s = until_s if self._until_s is None else max(self._until_s, until_s)
        self._bans += 1
        log.error("host %s banned this IP (HTTP 418); no REST calls for %.0f s", self.host, duration_s)

    def check(self, endpoint: str = "") -> None:
        """Return if calls to the host are allowed.

        Raises:
            HostBanned: the host is banned; carries the seconds left.
        """
        remaining_s = self._remaining_s()
        if remaining_s > 0:
            assert self._until_s is not None
            raise HostBanned(
                f"{self.host} bans this IP for another {remaining_s:.0f} s (HTTP 418)",
                endpoint=endpoint,
                host=self.host,
                retry_after_s=remaining_s,
                until_s=self._until_s,
            )

    def status(self) -> HostBanStatus:
        remaining_s = self._remaining_s()
        return HostBanStatus(
            host=self.host, banned=remaining_s > 0, retry_after_s=remaining_s, until_s=self._until_s, bans=self._bans
        )

    def _remaining_s(self) -> float:
        return 0.0 if self._until_s is None else max(0.0, self._until_s - self._clock())
