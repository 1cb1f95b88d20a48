"""Domain values → rows of the storage tables (``storage/schema.py``), as plain dicts for the Recorder.

Market times become tz-aware UTC datetimes; wall times (``time_s``, Unix seconds) too; chart series become floats;
money stays Decimal. :mod:`engine.sinks.record` decides which event becomes which row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from engine.core.breaker import BreakerEvent
from engine.core.models import Candle, Fill, Order, Trade
from engine.core.portfolio import Position, Snapshot
from engine.core.risk import RiskDecision
from engine.feed.gaps import Gap
from engine.feed.rest import RestGuardStatus
from engine.feed.stream_events import BadMessage, Connected, Disconnected
from engine.guards.retry import RetryAttempt
from storage.columns import Units, units

Row = dict[str, Any]
ZERO = Decimal(0)


_UTC_CACHE: dict[int, datetime] = {}
_UTC_CACHE_SIZE = 1024


def utc(ms: int) -> datetime:
    """Unix milliseconds → aware UTC datetime.

    Memoised over the last few hundred distinct times (a candle's close time is also its equity row's time, and
    every symbol shares the same minutes); datetimes are immutable, so sharing one is safe.
    """
    dt = _UTC_CACHE.get(ms)
    if dt is None:
        if len(_UTC_CACHE) >= _UTC_CACHE_SIZE:
            _UTC_CACHE.clear()
        dt = _UTC_CACHE[ms] = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt


def candle_row(candle: Candle, *, interval: str, source: str) -> Row:
    open_, high, low, close, volume = candle.floats()
    return {
        "symbol": candle.symbol,
        "interval": interval,
        "open_time": utc(candle.open_time_ms),
        "close_time": utc(candle.close_time_ms),
        "open": open_,
        "high": high,
        "low": low,
        "close": close,
        "volume": volume,
        "source": source,
    }


class _LastUnits:
    """:func:`storage.columns.units` of a money value, remembered for the last value: the equity fields that change
    only on fills, a new day or a new peak (cash, realised P&L, day start, peak) mostly come back equal, so most
    snapshots skip the conversion. The pair is replaced as one tuple, so a reader on another thread never pairs a
    value with another value's units."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: tuple[Decimal | None, Units] = (None, Units(0))

    def __call__(self, value: Decimal) -> Units:
        last = self._last
        if last[0] is not value and last[0] != value:
            last = self._last = (value, units(value))
        return last[1]


class EquityRows:
    """``equity`` rows of one account: money as :class:`~storage.columns.Units` (exact, and cheap to write),
    each field converted only when it changed since the last row — and, while the account's money does not move at
    all (no position open: the same objects snapshot after snapshot), none of them."""

    __slots__ = ("_cash", "_day_start", "_equity", "_last", "_peak", "_positions", "_realised", "_unrealised")

    def __init__(self) -> None:
        self._equity, self._cash, self._positions = _LastUnits(), _LastUnits(), _LastUnits()
        self._realised, self._unrealised = _LastUnits(), _LastUnits()
        self._peak, self._day_start = _LastUnits(), _LastUnits()
        self._last: tuple[tuple[Decimal, ...], tuple[Units, Units, Units, Units, Units, Units, Units]] = (
            (),
            (Units(0),) * 7,  # replaced at the first call: () never equals a snapshot
        )

    def money(self, s: Snapshot) -> tuple[Units, Units, Units, Units, Units, Units, Units]:
        """The snapshot's equity, cash, positions value, realised and unrealised P&L, peak and day-start equity, in
        :class:`~storage.columns.Units` (the ``equity`` columns' order)."""
        money = (s.equity, s.cash, s.positions_value, s.realised_pnl, s.unrealised_pnl, s.peak_equity, s.day_start_equity)
        last = self._last
        if money != last[0]:  # a tuple compares its items by identity first: cheap when nothing moved
            last = self._last = (
                money,
                (
                    self._equity(s.equity),
                    self._cash(s.cash),
                    self._positions(s.positions_value),
                    self._realised(s.realised_pnl),
                    self._unrealised(s.unrealised_pnl),
                    self._peak(s.peak_equity),
                    self._day_start(s.day_start_equity),
                ),
            )
        return last[1]

    def row(self, s: Snapshot, symbol: str | None, source: str, candle_open_ms: int | None, price: Decimal | None) -> Row:
        """The account at market time ``s.time_ms``, marked by ``symbol`` (``source`` ``candle``, ``price`` or ``fill``;
        ``candle_open_ms`` the open of the candle that did it) or re-based by a breaker reset (``symbol`` and the
        candle ``None``, ``source`` ``reset``)."""
        equity, cash, positions, realised, unrealised, peak, day_start = self.money(s)
        return {
            "ts": utc(s.time_ms),
            "symbol": symbol,
            "source": source,
            "candle_open_time": None if candle_open_ms is None else utc(candle_open_ms),
            "price": None if price is None else units(price),  # a new price nearly every row: no memo
            "equity": equity,
            "cash": cash,
            "positions_value": positions,
            "realised_pnl": realised,
            "unrealised_pnl": unrealised,
            "peak_equity": peak,
            "drawdown_pct": s.drawdown_pct,
            "day_start_equity": day_start,
            "daily_pnl_pct": s.daily_pnl_pct,
        }


def order_row(order: Order, *, status: str, reason: str, time_ms: int) -> Row:
    """An ``orders`` row: one status change. An entry carries what it was decided with (its plan: equity at the
    signal, risk amount, ATR, stop distance, correlation factor) and, once sized at the fill, how (stop %, the cap
    that bound the size, stop, target, the equity and cash at the fill)."""
    plan, sizing = order.plan, order.sizing
    return {
        "order_id": order.order_id,
        "ts": utc(time_ms),
        "symbol": order.symbol,
        "side": order.side.value,
        "type": "MARKET",
        "quantity": order.quantity,
        "status": status,
        "reason": reason,
        "equity": None if plan is None else (plan.equity if sizing is None else sizing.equity),
        "risk_amount": None if plan is None else plan.risk_amount,
        "atr": None if plan is None else plan.atr,
        "stop_distance": None if plan is None else plan.stop_distance,
        "correlation_factor": None if plan is None else plan.correlation_factor,
        "stop_pct": None if sizing is None else sizing.stop_pct,
        "size_cap": None if sizing is None else sizing.bound,
        "stop_price": None if sizing is None else sizing.stop_price,
        "target_price": None if sizing is None else sizing.target_price,
        "cash": None if sizing is None else sizing.cash,
    }


def fill_row(fill: Fill, *, exit_reason: str | None) -> Row:
    """A ``fills`` row; ``exit_reason`` says why a sell was made (``None`` for an entry)."""
    return {
        "exit_reason": exit_reason,
        "fill_id": fill.fill_id,
        "order_id": fill.order_id,
        "ts": utc(fill.time_ms),
        "symbol": fill.symbol,
        "side": fill.side.value,
        "price": fill.price,
        "quantity": fill.quantity,
        "quote_qty": fill.quote_qty,
        "fee": fill.fee,
        "reference_price": fill.reference_price,
    }


def trade_row(trade: Trade) -> Row:
    return {
        "trade_id": trade.trade_id,
        "symbol": trade.symbol,
        "entry_time": utc(trade.entry_time_ms),
        "exit_time": utc(trade.exit_time_ms),
        "quantity": trade.quantity,
        "entry_price": trade.entry_price,
        "exit_price": trade.exit_price,
        "fees": trade.fees,
        "pnl": trade.pnl,
        "pnl_pct": trade.pnl_pct,
        "exit_reason": trade.exit_reason.value,
    }


def position_row(symbol: str, position: Position | None, *, time_ms: int) -> Row:
    """The position after a change; ``None`` (flat) is a row with quantity 0."""
    return {
        "ts": utc(time_ms),
        "symbol": symbol,
        "quantity": position.quantity if position else ZERO,
        "avg_entry": position.avg_entry if position else ZERO,
        "cost_basis": position.cost_basis if position else ZERO,
        "stop_price": position.stop_price if position else None,
        "target_price": position.target_price if position else None,
        "stop_distance": position.stop_distance if position else None,
        "trail_high": position.trail_high if position else None,
    }


def _wall(time_s: float) -> datetime:
    return datetime.fromtimestamp(time_s, tz=UTC)


def _ws_row(*, time_s: float, event: str, url: str, reason: str = "", code: int | None = None,
            retry_in_s: float | None = None, attempt: int = 0, candles: int | None = None) -> Row:
    return {
        "ts": _wall(time_s), "event": event, "url": url, "code": code, "reason": reason,
        "retry_in_s": retry_in_s, "attempt": attempt, "candles": candles,
    }


def ws_connected_row(event: Connected, *, time_s: float) -> Row:
    """A ``ws_events`` CONNECTED row at wall time ``time_s`` (Unix seconds)."""
    return _ws_row(time_s=time_s, event="CONNECTED", url=event.url, attempt=event.attempt)


def ws_disconnected_row(event: Disconnected, *, url: str, time_s: float) -> Row:
    """A ``ws_events`` DISCONNECTED row: close code/reason (or the error) and the backoff before the next try."""
    reason = "; ".join(part for part in (event.reason, event.error) if part)
    return _ws_row(
        time_s=time_s, event="DISCONNECTED", url=url, reason=reason, code=event.code,
        retry_in_s=event.retry_in_s, attempt=event.attempt,
    )


def ws_bad_message_row(event: BadMessage, *, url: str, time_s: float) -> Row:
    """A ``ws_events`` BAD_MESSAGE row: a message dropped for breaking the format (bad JSON, invalid price)."""
    return _ws_row(time_s=time_s, event="BAD_MESSAGE", url=url, reason=event.detail[:500])


def backfill_row(*, symbol: str, url: str, candles: int, error: str, time_s: float, attempt: int = 0, warmup: bool = False) -> Row:
    """A ``ws_events`` BACKFILL row: ``candles`` missed candles of ``symbol`` fetched over REST (or the error); the
    reason says ``warm-up`` for history a new symbol needed (those candles are stored with source ``bootstrap``)."""
    what = f"{symbol} warm-up" if warmup else symbol
    reason = f"{what}: {error}" if error else what
    return _ws_row(time_s=time_s, event="BACKFILL", url=url, reason=reason, candles=candles, attempt=attempt)


def dropped_row(candle: Candle, *, url: str, reason: str, time_s: float) -> Row:
    """A ``ws_events`` DROPPED row: a closed candle not processed (a duplicate, or older than the series)."""
    opened = utc(candle.open_time_ms).strftime("%Y-%m-%d %H:%M")
    return _ws_row(time_s=time_s, event="DROPPED", url=url, reason=f"{candle.symbol} {opened}: {reason}")


def gap_row(gap: Gap, *, interval_ms: int, time_s: float) -> Row:
    """A ``gaps`` row: the state of ``gap`` now (one row per change; the latest row per ``gap_id`` is current)."""
    return {
        "gap_id": gap.gap_id,
        "symbol": gap.symbol,
        "kind": gap.kind.value,
        "first_open_time": utc(gap.first_ms),
        "last_open_time": utc(gap.last_ms),
        "candles": gap.minutes(interval_ms),
        "state": gap.state.value,
        "opened_at": _wall(gap.opened_at_s or time_s),
        "closed_at": None if gap.closed_at_s is None else _wall(gap.closed_at_s),
        "attempts": gap.attempts,
        "last_error": gap.last_error[:500],
        "detail": gap.detail,
    }


def command_row(*, command_id: str, kind: str, actor: str, reason: str, result: str, detail: str, time_s: float) -> Row:
    """A ``commands`` row (the audit log) at wall time ``time_s``."""
    return {
        "ts": _wall(time_s),
        "command_id": command_id,
        "command": kind,
        "actor": actor,
        "reason": reason,
        "result": result,
        "detail": detail,
    }


def breaker_event_row(event: BreakerEvent) -> Row:
    """A ``breaker_events`` row: the transition with equity, daily loss % and drawdown % at that moment."""
    return {
        "ts": utc(event.time_ms),
        "kind": str(event.kind),
        "state_from": str(event.state_from),
        "state_to": str(event.state_to),
        "equity": event.equity,
        "day_start_equity": event.day_start_equity,
        "peak_equity": event.peak_equity,
        "daily_loss_pct": float(event.daily_loss_pct),
        "drawdown_pct": float(event.drawdown_pct),
        "reason": event.reason,
        "actor": event.actor,
    }


def denial_row(symbol: str | None, decision: RiskDecision, *, time_ms: int) -> Row:
    """A ``risk_denials`` row at market time ``time_ms``."""
    return {"ts": utc(time_ms), "symbol": symbol, "reason_code": str(decision.reason_code), "detail": decision.detail}


def api_call_row(attempt: RetryAttempt, *, host: str) -> Row:
    """An ``api_calls`` row: one REST attempt (endpoint, status, latency, attempt, backoff, outcome, reason)."""
    return {
        "ts": attempt.time,
        "host": host,
        "endpoint": attempt.endpoint,
        "status": attempt.status,
        "latency_ms": attempt.latency_ms,
        "attempt": attempt.attempt,
        "delay_s": attempt.delay_s,
        "outcome": attempt.outcome,
        "reason": attempt.reason,
    }


def rate_limit_row(status: RestGuardStatus, *, time_s: float) -> Row:
    """A ``rate_limit_samples`` row at wall time ``time_s`` (Unix seconds)."""
    limiter, ban = status.limiter, status.ban
    return {
        "ts": _wall(time_s),
        "host": ban.host,
        "used_weight": round(limiter.used_weight),
        "server_used_weight": limiter.server_used_weight,
        "weight_limit": limiter.limit,
        "utilisation_pct": limiter.utilisation * 100,
        "waiting": limiter.waiting,
        "wait_s": limiter.total_wait_s,
        "api_breaker": str(status.breaker.state),
        "banned_until": _wall(time_s + ban.retry_after_s) if ban.banned else None,
    }
