"""Fault injection for the simulator: the switches (:class:`FaultSettings`) and the thread-safe :class:`Faults`.

Everything is off by default. The settings are replaced as a whole on every change, so a request or a stream tick
always sees one consistent set; the dashboard and tests switch them at run time through
:attr:`simulator.server.SimulatorServer.faults` or the control API of :mod:`simulator.control`.

What each switch does on the wire (REST in :mod:`simulator.rest`, streams in :mod:`simulator.streams`)::

    rest_418_ban_s          > 0: an IP ban starts now; every REST request answers 418 + Retry-After (ban seconds left)
    rest_429_storm          every REST request answers 429 + Retry-After, {"code": -1003, ...}
    rest_5xx_rate           probability of a 500 / 502 / 503 / 504 instead of the answer
    rest_delay_ms           every REST answer is held back this long (a client with a shorter timeout times out)
    background_weight_per_s "other clients on the same IP": this much weight per second joins the IP's tally
    ws_drop_every_s         > 0: a connection this old is dropped (TCP closed, no close frame: the client sees 1006)
    ws_close_every_s        > 0: a connection this old is closed normally (close code 1000)
    ws_stall                connections stay open but send no stream data (what would have come is lost)
    ws_malformed_rate       probability that a stream message is sent cut in half (not JSON)
    bad_price_rate          probability that a kline event's close is "0", "-1", "NaN" or "abc"
    duplicate_rate          probability that a closed kline is sent twice in a row
    out_of_order_rate       probability that an older closed kline (1 to 5 candles back) follows a closed kline

Binance bans an IP that keeps calling after 429s (Binance spot REST docs, "LIMITS": "Repeatedly violating rate
limits and/or failing to back off after receiving 429s will result in an automated IP ban (HTTP status 418)";
bans last from 2 minutes to 3 days). Here, with faults on or off: a 429 answered to a request that came before the
``Retry-After`` of the IP's previous 429 had passed counts as ignored, and ``auto_ban_after_429s`` ignored 429s in a
row start a ban of ``auto_ban_s`` seconds. Bans cover the whole simulator (its clients share the loopback IP).

Price shocks are not a switch but an event at a market time; see :meth:`simulator.market.Market.shock`.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

AUTO_BAN_AFTER_429S = 10
AUTO_BAN_S = 120
"""Binance's shortest automated ban: 2 minutes."""

Rate = Annotated[float, Field(ge=0.0, le=1.0)]
"""A probability in [0, 1], drawn per request (REST) or per message / event (streams)."""

_T = TypeVar("_T")


class FaultSettings(BaseModel):
    """The fault switches; all off by default (meanings in the module docstring). Frozen: change them with
    :meth:`Faults.update`."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    rest_429_storm: bool = False
    rest_418_ban_s: Annotated[int, Field(ge=0)] = 0
    rest_5xx_rate: Rate = 0.0
    rest_delay_ms: Annotated[int, Field(ge=0)] = 0
    background_weight_per_s: Annotated[int, Field(ge=0)] = 0
    ws_drop_every_s: Annotated[float, Field(ge=0.0)] = 0.0
    ws_close_every_s: Annotated[float, Field(ge=0.0)] = 0.0
    ws_stall: bool = False
    ws_malformed_rate: Rate = 0.0
    bad_price_rate: Rate = 0.0
    duplicate_rate: Rate = 0.0
    out_of_order_rate: Rate = 0.0


class Faults:
    """The current :class:`FaultSettings`, the IP-ban state and the randomness of the faults; thread-safe.

    Args:
        settings: the initial switches (default: all off).
        rng: source of every random choice; pass a seeded ``random.Random`` for repeatable runs.
        clock: monotonic wall clock in seconds for bans and connection ages; inject a fake one in tests.
        unix_clock: Unix wall clock in seconds, to tell a client when its ban ends (:meth:`ban_ends_ms`).
        auto_ban_after_429s: ignored 429s in a row that start an automated ban.
        auto_ban_s: length of an automated ban, seconds.
    """

    def __init__(
        self,
        settings: FaultSettings | None = None,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        unix_clock: Callable[[], float] = time.time,
        auto_ban_after_429s: int = AUTO_BAN_AFTER_429S,
        auto_ban_s: int = AUTO_BAN_S,
    ) -> None:
        self._settings = settings if settings is not None else FaultSettings()
        self._rng = rng if rng is not None else random.Random()
        self._clock = clock
        self._unix_clock = unix_clock
        self._auto_ban_after_429s = auto_ban_after_429s
        self._auto_ban_s = auto_ban_s
        self._lock = threading.Lock()
        self._banned_until_s = -math.inf
        self._retry_after_until_s: dict[str, float] = {}
        self._ignored_429s: dict[str, int] = {}
        if self._settings.rest_418_ban_s:
            self._banned_until_s = clock() + self._settings.rest_418_ban_s

    @property
    def settings(self) -> FaultSettings:
        """The switches in force now."""
        return self._settings

    def update(self, **changes: Any) -> FaultSettings:
        """Replace the settings by a copy with ``changes`` and return it. ``rest_418_ban_s`` > 0 among the changes
        starts a ban of that many seconds now (again, if one is running); 0 lifts any ban.

        Raises:
            pydantic.ValidationError: an unknown switch or a value out of range (nothing is changed then).
        """
        with self._lock:
            settings = FaultSettings.model_validate({**self._settings.model_dump(), **changes})
            self._settings = settings
            if "rest_418_ban_s" in changes:
                ban_s = settings.rest_418_ban_s
                self._banned_until_s = self._clock() + ban_s if ban_s else -math.inf
            return settings

    def reset(self) -> FaultSettings:
        """Switch every fault off and lift any ban; returns the default settings."""
        with self._lock:
            self._settings = FaultSettings()
            self._banned_until_s = -math.inf
            self._retry_after_until_s.clear()
            self._ignored_429s.clear()
            return self._settings

    def now_s(self) -> float:
        """The faults' clock, seconds."""
        return self._clock()

    def ban_remaining_s(self) -> int:
        """Whole seconds left of the current IP ban (rounded up), 0 when there is none."""
        remaining_s = self._banned_until_s - self._clock()
        return math.ceil(remaining_s) if remaining_s > 0 else 0

    def ban_ends_ms(self) -> int:
        """Unix ms at which the current IP ban ends (now when there is none): the ``%s`` of Binance's 418
        message "IP banned until %s" (Binance "Error codes", -1003)."""
        remaining_s = max(0.0, self._banned_until_s - self._clock())
        return round((self._unix_clock() + remaining_s) * 1000)

    def note_429(self, ip: str, *, retry_after_s: int) -> None:
        """Record a 429 answered to ``ip`` with ``Retry-After: retry_after_s``; start an automated ban when the IP
        has ignored too many in a row (see the module docstring)."""
        with self._lock:
            now_s = self._clock()
            ignored = now_s < self._retry_after_until_s.get(ip, -math.inf)
            count = self._ignored_429s.get(ip, 0) + 1 if ignored else 0
            self._retry_after_until_s[ip] = now_s + retry_after_s
            if count >= self._auto_ban_after_429s:
                self._banned_until_s = max(self._banned_until_s, now_s + self._auto_ban_s)
                count = 0
            self._ignored_429s[ip] = count

    def chance(self, rate: float) -> bool:
        """True with probability ``rate`` (no random draw when ``rate`` is 0)."""
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def pick(self, options: Sequence[_T]) -> _T:
        """One of ``options``, uniformly."""
        with self._lock:
            return self._rng.choice(options)
