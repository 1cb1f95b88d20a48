"""What the trading core decided, as typed domain events (``../shared/ARCHITECTURE.md``, "The engine in three parts").

Every call into :class:`~engine.core.core.TradingCore` returns the events it produced, in order; the sinks turn them
into rows (:mod:`engine.sinks.record`), alerts and status. The core never writes anything itself. All times are market
time in Unix ms; money is exact (``Decimal``).

======================  =====================================================  ===============================
event                   when                                                   stored as
======================  =====================================================  ===============================
:class:`CandleClosed`   a closed candle was processed (warm-up included)       ``candles``
:class:`CandleDropped`  a closed candle was not newer than the last processed  counted (status)
:class:`Marked`         the portfolio was marked to a price                    ``equity``
:class:`OrderCreated`   a market order was queued or sent                      ``orders`` NEW
:class:`OrderCancelled` a queued order was withdrawn                           ``orders`` CANCELLED
:class:`OrderRejected`  the broker refused an order (exchange filters)          ``orders`` REJECTED
:class:`OrderDenied`    a pre-trade check refused an entry                     ``risk_denials``
:class:`Filled`         an order filled                                        ``orders`` FILLED, ``fills``,
                                                                               ``positions``, ``trades``
:class:`StopMoved`      a trailing stop moved up                               ``positions``
:class:`BreakerChanged` the portfolio breaker changed state                    ``breaker_events``
:class:`CommandApplied` a person's command was applied (or refused)            ``commands``
======================  =====================================================  ===============================
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from engine.commands import Command
from engine.core.breaker import BreakerEvent
from engine.core.models import Candle, ExitReason, Fill, Order, Trade
from engine.core.portfolio import Position, Snapshot
from engine.core.risk import RiskDecision


class MarkSource(StrEnum):
    """What triggered a mark (the ``equity.source`` column)."""

    CANDLE = "candle"  # a closed candle's close
    PRICE = "price"  # an in-progress kline's last price
    FILL = "fill"  # a fill changed cash and positions (fees, slippage)
    RESET = "reset"  # a breaker reset re-based the baselines


class CommandResult(StrEnum):
    """A command's outcome (the ``commands.result`` column)."""

    OK = "OK"
    IGNORED = "IGNORED"  # nothing to do (already paused, no position ...)
    REFUSED = "REFUSED"  # not allowed now; the detail says why


@dataclass(frozen=True, slots=True)
class CandleClosed:
    """``candle`` was processed; ``source`` is where it came from: ``bootstrap`` (warm-up, no trading), ``stream``,
    ``backfill`` or ``replay``."""

    candle: Candle
    source: str


@dataclass(frozen=True, slots=True)
class CandleDropped:
    """``candle`` was dropped: its open time is not after the last processed one of its symbol (a duplicate or an
    out-of-order candle); ``last_ms`` is that last open time."""

    candle: Candle
    last_ms: int


@dataclass(frozen=True, slots=True)
class Marked:
    """The portfolio after marking ``symbol`` (``None`` for a reset) to a new price, or after a fill in it;
    ``candle_open_ms`` is the open time of the candle (closed or in progress) that did it, ``None`` for a reset or a
    command."""

    snapshot: Snapshot
    symbol: str | None
    source: MarkSource
    candle_open_ms: int | None = None
    price: Decimal | None = None
    """``symbol``'s mark after it (the price it was marked to; for a fill, its mark then)."""


@dataclass(frozen=True, slots=True)
class OrderCreated:
    order: Order


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    """``order`` was withdrawn before it filled (breaker trip, pause, data gap ...) at market time ``time_ms``."""

    order: Order
    reason: str
    time_ms: int


@dataclass(frozen=True, slots=True)
class OrderRejected:
    """The broker refused ``order`` at ``time_ms``; ``reason`` starts with the filter's code (``LOT_SIZE`` ...)."""

    order: Order
    reason: str
    time_ms: int


@dataclass(frozen=True, slots=True)
class OrderDenied:
    """A pre-trade check refused an entry in ``symbol`` at ``time_ms`` (``decision.reason_code``)."""

    symbol: str
    decision: RiskDecision
    time_ms: int


@dataclass(frozen=True, slots=True)
class Filled:
    """``order`` filled as ``fill``; ``position`` is the position afterwards (``None``: flat), ``trade`` the round
    trip it closed (sells), ``exit_reason`` why a sell was made."""

    order: Order
    fill: Fill
    position: Position | None
    trade: Trade | None
    exit_reason: ExitReason


@dataclass(frozen=True, slots=True)
class StopMoved:
    """The trailing stop of ``position`` moved up at market time ``time_ms`` (``position.stop_price`` is the new stop,
    ``position.trail_high`` the highest high it follows)."""

    position: Position
    time_ms: int


@dataclass(frozen=True, slots=True)
class BreakerChanged:
    event: BreakerEvent


@dataclass(frozen=True, slots=True)
class CommandApplied:
    """``command`` was applied with ``result``; ``detail`` says what happened or why not."""

    command: Command
    result: CommandResult
    detail: str


CoreEvent = (
    CandleClosed
    | CandleDropped
    | Marked
    | OrderCreated
    | OrderCancelled
    | OrderRejected
    | OrderDenied
    | Filled
    | StopMoved
    | BreakerChanged
    | CommandApplied
)
