"""The recording sink: the core's events become rows of the history tables (``docs/schema.md``).

==============================  =====================================================================
event                           rows
==============================  =====================================================================
``CandleClosed``                ``candles``
``Marked``                      ``equity`` (with the symbol and what marked it)
``OrderCreated``                ``orders`` NEW
``OrderCancelled``              ``orders`` CANCELLED
``OrderRejected``               ``orders`` REJECTED
``OrderDenied``                 ``risk_denials``
``Filled``                      ``orders`` FILLED, ``fills`` (a sell: with its exit reason), ``positions``,
                                ``trades`` (a sell)
``StopMoved``                   ``positions`` (the trailing stop's new level)
``BreakerChanged``              ``breaker_events``
``CommandApplied``              ``commands`` (stamped with the wall clock)
``CandleDropped``               nothing (the feed's sequencer stores the drops it makes)
==============================  =====================================================================

:meth:`RecordSink.handle` returns whether the rows must reach the disk before the engine acts further (a fill, a
breaker transition, a command): state that must survive a crash is written before it is acted on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from engine.core.events import (
    BreakerChanged,
    CandleClosed,
    CandleDropped,
    CommandApplied,
    CoreEvent,
    Filled,
    Marked,
    MarkSource,
    OrderCancelled,
    OrderCreated,
    OrderDenied,
    OrderRejected,
    StopMoved,
)
from engine.core.models import Side
from engine.sinks import rows

_SOURCE_TEXT = {source: source.value for source in MarkSource}
"""``equity.source`` as a plain ``str`` (what the Recorder's column check takes as is)."""


class RecorderLike(Protocol):
    """What the sinks need from ``storage.recorder.Recorder``."""

    def record(self, table: str, row: Mapping[str, Any]) -> None: ...

    def flush(self) -> int: ...


class RecordSink:
    """Maps core events to rows of ``recorder`` (table in the module docstring).

    Args:
        recorder: the Recorder (or a batching stand-in in a replay).
        interval: the kline interval stored with candles.
        wall_clock: Unix seconds, for the rows stamped with wall time (commands).
    """

    def __init__(self, recorder: RecorderLike, *, interval: str, wall_clock: Callable[[], float] = time.time) -> None:
        self.recorder = recorder
        self.interval = interval
        self._wall_clock = wall_clock
        self._equity = rows.EquityRows()
        self._handlers: dict[type, Callable[[Any], bool]] = {
            CandleClosed: self._candle,
            CandleDropped: lambda _: False,
            Marked: self._marked,
            OrderCreated: self._created,
            OrderCancelled: self._cancelled,
            OrderRejected: self._rejected,
            OrderDenied: self._denied,
            Filled: self._filled,
            StopMoved: self._stop_moved,
            BreakerChanged: self._breaker,
            CommandApplied: self._command,
        }

    def handle(self, event: CoreEvent) -> bool:
        """Record ``event``'s rows; ``True`` when they must be flushed before the next event."""
        return self._handlers[type(event)](event)

    def handle_all(self, events: list[CoreEvent]) -> bool:
        """:meth:`handle` each event; ``True`` when any of them must be flushed."""
        handlers = self._handlers
        flush = False
        for event in events:
            if handlers[type(event)](event):
                flush = True
        return flush

    def _candle(self, e: CandleClosed) -> bool:
        self.recorder.record("candles", rows.candle_row(e.candle, interval=self.interval, source=e.source))
        return False

    def _marked(self, e: Marked) -> bool:
        row = self._equity.row(e.snapshot, e.symbol, _SOURCE_TEXT[e.source], e.candle_open_ms, e.price)
        self.recorder.record("equity", row)
        return False

    def _created(self, e: OrderCreated) -> bool:
        order = e.order
        self.recorder.record("orders", rows.order_row(order, status="NEW", reason=order.reason, time_ms=order.created_ms))
        return False

    def _cancelled(self, e: OrderCancelled) -> bool:
        self.recorder.record("orders", rows.order_row(e.order, status="CANCELLED", reason=e.reason, time_ms=e.time_ms))
        return False

    def _rejected(self, e: OrderRejected) -> bool:
        self.recorder.record("orders", rows.order_row(e.order, status="REJECTED", reason=e.reason, time_ms=e.time_ms))
        return False

    def _denied(self, e: OrderDenied) -> bool:
        self.recorder.record("risk_denials", rows.denial_row(e.symbol, e.decision, time_ms=e.time_ms))
        return False

    def _filled(self, e: Filled) -> bool:
        record, fill = self.recorder.record, e.fill
        record("orders", rows.order_row(e.order, status="FILLED", reason=e.order.reason, time_ms=fill.time_ms))
        record("fills", rows.fill_row(fill, exit_reason=e.exit_reason.value if fill.side is Side.SELL else None))
        record("positions", rows.position_row(fill.symbol, e.position, time_ms=fill.time_ms))
        if e.trade is not None:
            record("trades", rows.trade_row(e.trade))
        return True

    def _stop_moved(self, e: StopMoved) -> bool:
        self.recorder.record("positions", rows.position_row(e.position.symbol, e.position, time_ms=e.time_ms))
        return False

    def _breaker(self, e: BreakerChanged) -> bool:
        self.recorder.record("breaker_events", rows.breaker_event_row(e.event))
        return True

    def _command(self, e: CommandApplied) -> bool:
        c = e.command
        self.recorder.record(
            "commands",
            rows.command_row(
                command_id=c.command_id, kind=c.kind.value, actor=c.actor, reason=c.reason, result=e.result.value,
                detail=e.detail, time_s=self._wall_clock(),
            ),
        )
        return True
