"""The portfolio circuit breaker (``../shared/SPEC.md`` §3.1): a latched stop on new entries after a large loss.

States and transitions (all made by :meth:`PortfolioBreaker._transition`, each one returning a :class:`BreakerEvent`)::

    ACTIVE  --daily loss >= warning_pct-->  WARNING      (WarningTriggered)
    WARNING --daily loss <  warning_pct-->  ACTIVE       (WarningCleared; e.g. a new UTC day re-bases the loss)
    ACTIVE | WARNING --daily loss >= daily_loss_pct
                       or drawdown >= drawdown_pct-->  TRIPPED      (BreakerTripped)
    TRIPPED --reset(actor, reason) by a person-->  ACTIVE        (BreakerReset)
    DISABLED (``BreakerLimits.enabled`` is False): never changes, allows entries.

TRIPPED is **latched**: :meth:`PortfolioBreaker.evaluate` never leaves it, whatever the equity or the day does;
only :meth:`PortfolioBreaker.reset` does, and :meth:`PortfolioBreaker.restore` re-installs it after a restart.

Inputs are :class:`engine.core.portfolio.Snapshot` values: daily loss % = max(0, (day start − equity) / day start × 100),
drawdown % = max(0, (peak − equity) / peak × 100), exact (``Decimal``), so a limit is met *at* its threshold (5.00 %
trips a 5.0 % limit). Cheaply: "daily loss ≥ L %" is "equity ≤ day start − day start × L / 100", and those equity
thresholds are computed once per change of the day-start equity or the peak, so a mark costs one comparison per
limit. Market time only; no I/O: the engine persists the returned events (with the baselines they were judged on).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from engine.config_sections import BreakerSettings
from engine.core.money import exact
from engine.core.portfolio import Snapshot

SYSTEM_ACTOR = "breaker"
"""The ``actor`` of transitions made by :meth:`PortfolioBreaker.evaluate` (a reset names its person)."""

_ZERO = Decimal(0)
_HUNDRED = Decimal(100)


class BreakerState(StrEnum):
    ACTIVE = "ACTIVE"
    WARNING = "WARNING"
    TRIPPED = "TRIPPED"
    DISABLED = "DISABLED"


class BreakerEventKind(StrEnum):
    """Stable event names (stored as-is)."""

    WARNING_TRIGGERED = "WarningTriggered"
    WARNING_CLEARED = "WarningCleared"
    BREAKER_TRIPPED = "BreakerTripped"
    BREAKER_RESET = "BreakerReset"


@dataclass(frozen=True, slots=True)
class BreakerLimits:
    """Percentages in percent (5.0 = 5 %), of the day-start equity (daily loss) or of the peak equity (drawdown).

    Exact: floats given are converted through their repr. The same rules as ``[breaker]`` in the configuration
    (:class:`engine.config.BreakerSettings`), so the two always agree.

    Raises:
        ValueError: a limit outside (0, 100], or ``warning_pct`` not below ``daily_loss_pct``.
    """

    daily_loss_pct: Decimal = Decimal("5.0")
    warning_pct: Decimal = Decimal("3.0")
    drawdown_pct: Decimal = Decimal("15.0")
    enabled: bool = True

    @classmethod
    def from_settings(cls, settings: BreakerSettings) -> BreakerLimits:
        """The limits of ``[breaker]``."""
        return cls(
            daily_loss_pct=settings.daily_loss_pct,
            warning_pct=settings.warning_pct,
            drawdown_pct=settings.drawdown_pct,
            enabled=settings.enabled,
        )

    def __post_init__(self) -> None:
        for name in ("daily_loss_pct", "warning_pct", "drawdown_pct"):
            value = exact(getattr(self, name))
            object.__setattr__(self, name, value)
            if not 0 < value <= 100:
                raise ValueError(f"{name} must be in (0, 100] percent, got {value}")
        if self.warning_pct >= self.daily_loss_pct:
            raise ValueError(f"warning_pct {self.warning_pct} must be below daily_loss_pct {self.daily_loss_pct}")


@dataclass(frozen=True, slots=True)
class BreakerEvent:
    """One state change, with the account at that moment.

    ``time_ms`` is market time (Unix ms, from the snapshot); ``equity`` and the baselines it was judged on
    (``day_start_equity``, ``peak_equity``) in the quote asset, exact; ``daily_loss_pct`` and ``drawdown_pct`` in
    percent (≥ 0); ``reason`` is human text; ``actor`` is :data:`SYSTEM_ACTOR` or the person.
    """

    kind: BreakerEventKind
    state_from: BreakerState
    state_to: BreakerState
    time_ms: int
    equity: Decimal
    daily_loss_pct: float
    drawdown_pct: float
    reason: str
    actor: str
    day_start_equity: Decimal = _ZERO
    peak_equity: Decimal = _ZERO


@dataclass(frozen=True, slots=True)
class BreakerStatus:
    """The breaker for a gauge: state, the last evaluated loss/drawdown (percent) and their use of the limits (0..1)."""

    state: BreakerState
    daily_loss_pct: float
    drawdown_pct: float
    daily_loss_used: float
    drawdown_used: float


class ResetRefused(ValueError):
    """A reset that is not allowed: the breaker is not TRIPPED, or no reason was given."""


def daily_loss_pct(snapshot: Snapshot) -> Decimal:
    """max(0, (day start − equity) / day start × 100), exact; 0 when the day-start equity is not positive."""
    start = snapshot.day_start_equity
    if start <= 0:
        return _ZERO
    return max((start - snapshot.equity) / start * _HUNDRED, _ZERO)


def drawdown_pct(snapshot: Snapshot) -> Decimal:
    """max(0, (peak − equity) / peak × 100), exact (the snapshot's ``drawdown_pct`` is its float)."""
    peak = snapshot.peak_equity
    if peak <= 0:
        return _ZERO
    return max((peak - snapshot.equity) / peak * _HUNDRED, _ZERO)


class PortfolioBreaker:
    """The breaker's state machine. Pure and synchronous; not thread-safe (owned by the engine thread).

    Args:
        limits: thresholds; ``enabled=False`` makes the state DISABLED for good.
        state: the persisted state to start from (see :meth:`restore`), ACTIVE by default.
    """

    def __init__(self, limits: BreakerLimits, *, state: BreakerState = BreakerState.ACTIVE) -> None:
        self.limits = limits
        self.state = BreakerState.ACTIVE
        self._last: Snapshot | None = None
        self._baselines: tuple[Decimal, Decimal] | None = None
        self._daily_trip = self._warning = self._drawdown_trip = _ZERO
        self.restore(state)

    def restore(self, state: BreakerState) -> None:
        """Re-install a persisted state after a restart (no event: nothing changed). A TRIPPED breaker stays tripped.

        With ``limits.enabled`` False the state is DISABLED whatever was stored; a stored DISABLED on an enabled
        breaker becomes ACTIVE (the configuration turned it back on).
        """
        if not self.limits.enabled:
            self.state = BreakerState.DISABLED
        elif state is BreakerState.DISABLED:
            self.state = BreakerState.ACTIVE
        else:
            self.state = BreakerState(state)

    def allows_entry(self) -> bool:
        """False only when TRIPPED (exits always continue; DISABLED allows everything)."""
        return self.state is not BreakerState.TRIPPED

    def evaluate(self, snapshot: Snapshot) -> BreakerEvent | None:
        """Check the account after a mark-to-market or before an order; return the transition made, if any.

        Trips when daily loss ≥ ``daily_loss_pct`` or drawdown ≥ ``drawdown_pct``; otherwise WARNING while the daily
        loss ≥ ``warning_pct`` and ACTIVE below it. TRIPPED and DISABLED never change here.
        """
        self._last = snapshot
        if self.state in (BreakerState.TRIPPED, BreakerState.DISABLED):
            return None
        start, peak, equity = snapshot.day_start_equity, snapshot.peak_equity, snapshot.equity
        if self._baselines != (start, peak):
            self._set_thresholds(start, peak)
        daily_trip = start > 0 and equity <= self._daily_trip
        drawdown_trip = peak > 0 and equity <= self._drawdown_trip
        limits = self.limits
        if daily_trip or drawdown_trip:
            loss, drawdown = daily_loss_pct(snapshot), drawdown_pct(snapshot)
            breaches = [f"daily loss {loss:.2f} % >= {limits.daily_loss_pct} %"] if daily_trip else []
            if drawdown_trip:
                breaches.append(f"drawdown {drawdown:.2f} % >= {limits.drawdown_pct} %")
            return self._transition(BreakerState.TRIPPED, BreakerEventKind.BREAKER_TRIPPED, snapshot, "; ".join(breaches), SYSTEM_ACTOR)
        warning = start > 0 and equity <= self._warning
        if warning and self.state is BreakerState.ACTIVE:
            reason = f"daily loss {daily_loss_pct(snapshot):.2f} % >= warning {limits.warning_pct} %"
            return self._transition(BreakerState.WARNING, BreakerEventKind.WARNING_TRIGGERED, snapshot, reason, SYSTEM_ACTOR)
        if not warning and self.state is BreakerState.WARNING:
            reason = f"daily loss {daily_loss_pct(snapshot):.2f} % < warning {limits.warning_pct} %"
            return self._transition(BreakerState.ACTIVE, BreakerEventKind.WARNING_CLEARED, snapshot, reason, SYSTEM_ACTOR)
        return None

    def _set_thresholds(self, start: Decimal, peak: Decimal) -> None:
        """The equity at or below which each limit is met, for these baselines (exact)."""
        limits = self.limits
        self._daily_trip = start - start * limits.daily_loss_pct / _HUNDRED
        self._warning = start - start * limits.warning_pct / _HUNDRED
        self._drawdown_trip = peak - peak * limits.drawdown_pct / _HUNDRED
        self._baselines = (start, peak)

    def reset(self, *, actor: str, reason: str, snapshot: Snapshot) -> BreakerEvent:
        """A person re-arms a TRIPPED breaker: TRIPPED → ACTIVE, returning the ``BreakerReset`` event.

        This does not touch the portfolio: the caller must also call :meth:`engine.core.portfolio.Portfolio.rebase`
        (day-start equity and peak := current equity), or the next :meth:`evaluate` trips again at once.
        Pass the ``snapshot`` taken *before* re-basing, so the event records the loss and drawdown being overridden.

        Raises:
            ResetRefused: the breaker is not TRIPPED, or ``actor`` or ``reason`` is blank.
        """
        if self.state is not BreakerState.TRIPPED:
            raise ResetRefused(f"breaker is {self.state.value}, not TRIPPED: nothing to reset")
        if not reason.strip():
            raise ResetRefused("a reset needs a reason")
        if not actor.strip():
            raise ResetRefused("a reset needs an actor")
        self._last = snapshot
        return self._transition(BreakerState.ACTIVE, BreakerEventKind.BREAKER_RESET, snapshot, reason.strip(), actor.strip())

    def status(self) -> BreakerStatus:
        """The state and the last evaluated figures, with utilisation of each limit clamped to 0..1."""
        last = self._last
        loss = 0.0 if last is None else float(daily_loss_pct(last))
        drawdown = 0.0 if last is None else float(drawdown_pct(last))
        return BreakerStatus(
            state=self.state,
            daily_loss_pct=loss,
            drawdown_pct=drawdown,
            daily_loss_used=min(loss / float(self.limits.daily_loss_pct), 1.0),
            drawdown_used=min(drawdown / float(self.limits.drawdown_pct), 1.0),
        )

    def _transition(self, to: BreakerState, kind: BreakerEventKind, snapshot: Snapshot, reason: str, actor: str) -> BreakerEvent:
        """The one place the state changes."""
        event = BreakerEvent(
            kind=kind,
            state_from=self.state,
            state_to=to,
            time_ms=snapshot.time_ms,
            equity=snapshot.equity,
            daily_loss_pct=float(daily_loss_pct(snapshot)),
            drawdown_pct=float(drawdown_pct(snapshot)),
            reason=reason,
            actor=actor,
            day_start_equity=snapshot.day_start_equity,
            peak_equity=snapshot.peak_equity,
        )
        self.state = to
        return event

