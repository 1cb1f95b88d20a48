"""The portfolio circuit breaker (SPEC §3.1): ACTIVE → WARNING at 3 % daily loss → TRIPPED at 5 % daily loss or 15 %
drawdown; TRIPPED is latched (a new UTC day does not clear it) until a person resets it with a reason, and the reset
together with ``Portfolio.rebase`` re-arms it at the current equity. Every number is computed by hand in a comment."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from engine.core.breaker import (
    SYSTEM_ACTOR,
    BreakerEvent,
    BreakerEventKind,
    BreakerLimits,
    BreakerState,
    PortfolioBreaker,
    ResetRefused,
)
from engine.core.models import Fill, Side
from engine.core.portfolio import DAY_MS, Portfolio, Snapshot

D = Decimal
T0 = 1_700_006_400_000  # 2023-11-15 00:00:00 UTC, a day boundary (1_700_006_400_000 / 86_400_000 = 19_676 exactly)
LIMITS = BreakerLimits()  # daily 5 %, warning 3 %, drawdown 15 %


def snap(equity: str, *, day_start: str = "10000", peak: str = "10000", time_ms: int = T0 + 60_000) -> Snapshot:
    """A snapshot with only the fields the breaker reads being meaningful."""
    eq = D(equity)
    return Snapshot(
        time_ms=time_ms,
        equity=eq,
        cash=eq,
        positions_value=D(0),
        realised_pnl=D(0),
        unrealised_pnl=D(0),
        peak_equity=D(peak),
        drawdown_pct=float((D(peak) - eq) / D(peak) * 100),
        day_start_equity=D(day_start),
        daily_pnl_pct=float((eq - D(day_start)) / D(day_start) * 100),
    )


def breaker(state: BreakerState = BreakerState.ACTIVE, limits: BreakerLimits = LIMITS) -> PortfolioBreaker:
    return PortfolioBreaker(limits, state=state)


def account_long_50_at_100() -> Portfolio:
    """10,000 USDT; buy 50 units at 100 without fee → cash 5,000, equity = 5,000 + 50 × price."""
    portfolio = Portfolio(D("10000"))
    fill = Fill("F1", "O1", "BTCUSDT", Side.BUY, D("100"), D("50"), D("5000"), D("0"), T0, D("100"))
    portfolio.apply_fill(fill)
    portfolio.mark("BTCUSDT", D("100"), T0)  # equity 10,000, day baseline 10,000, peak 10,000
    return portfolio


# ---------------------------------------------------------------- transitions
def test_active_to_warning_at_three_percent_daily_loss() -> None:
    b = breaker()

    event = b.evaluate(snap("9700"))  # (10,000 − 9,700) / 10,000 = 3.00 % ≥ 3 %; drawdown also 3 %

    assert event == BreakerEvent(
        kind=BreakerEventKind.WARNING_TRIGGERED,
        state_from=BreakerState.ACTIVE,
        state_to=BreakerState.WARNING,
        time_ms=T0 + 60_000,
        equity=D("9700"),
        daily_loss_pct=3.0,
        drawdown_pct=3.0,
        reason="daily loss 3.00 % >= warning 3.0 %",
        actor=SYSTEM_ACTOR,
        day_start_equity=D("10000"),  # the baselines it was judged on
        peak_equity=D("10000"),
    )
    assert b.state is BreakerState.WARNING
    assert b.allows_entry()


def test_just_under_the_warning_level_stays_active() -> None:
    b = breaker()

    assert b.evaluate(snap("9701")) is None  # 299 / 10,000 = 2.99 % < 3 %
    assert b.state is BreakerState.ACTIVE


def test_warning_is_reported_once_while_the_loss_deepens() -> None:
    b = breaker()
    b.evaluate(snap("9700"))  # 3 % → WARNING

    assert b.evaluate(snap("9600")) is None  # 4 %: still WARNING, no new event
    assert b.state is BreakerState.WARNING


def test_warning_to_tripped_at_five_percent_daily_loss() -> None:
    b = breaker()
    b.evaluate(snap("9700"))

    event = b.evaluate(snap("9500"))  # 500 / 10,000 = 5.00 % ≥ 5 %

    assert event is not None
    assert (event.kind, event.state_from, event.state_to) == (
        BreakerEventKind.BREAKER_TRIPPED,
        BreakerState.WARNING,
        BreakerState.TRIPPED,
    )
    assert event.daily_loss_pct == 5.0
    assert event.reason == "daily loss 5.00 % >= 5.0 %"
    assert not b.allows_entry()


def test_active_trips_directly_on_a_gap_past_both_levels() -> None:
    b = breaker()

    event = b.evaluate(snap("9400"))  # 6 % in one mark: ACTIVE → TRIPPED, no WarningTriggered first

    assert event is not None
    assert (event.kind, event.state_from) == (BreakerEventKind.BREAKER_TRIPPED, BreakerState.ACTIVE)


def test_both_breaches_are_named_in_the_reason() -> None:
    # day start 10,000, peak 11,000, equity 9,350: daily 650 / 10,000 = 6.5 %, drawdown 1,650 / 11,000 = 15 %
    event = breaker().evaluate(snap("9350", peak="11000"))

    assert event is not None
    assert event.reason == "daily loss 6.50 % >= 5.0 %; drawdown 15.00 % >= 15.0 %"
    assert event.drawdown_pct == 15.0


def test_warning_clears_on_a_new_utc_day() -> None:
    portfolio = account_long_50_at_100()
    b = breaker()
    warned = b.evaluate(portfolio.mark("BTCUSDT", D("94"), T0 + 60_000))  # 5,000 + 4,700 = 9,700: 3 % → WARNING

    cleared = b.evaluate(portfolio.mark("BTCUSDT", D("94"), T0 + DAY_MS))  # 00:00 next day: baseline 9,700 → 0 %

    assert warned is not None and warned.kind is BreakerEventKind.WARNING_TRIGGERED
    assert cleared is not None
    assert (cleared.kind, cleared.state_from, cleared.state_to) == (
        BreakerEventKind.WARNING_CLEARED,
        BreakerState.WARNING,
        BreakerState.ACTIVE,
    )
    assert cleared.daily_loss_pct == 0.0
    assert cleared.drawdown_pct == 3.0  # the peak (10,000) is not re-based by the day: 300 / 10,000


def test_warning_clears_when_equity_recovers_the_same_day() -> None:
    b = breaker()
    b.evaluate(snap("9700"))

    event = b.evaluate(snap("9800"))  # 2 % < 3 %

    assert event is not None and event.kind is BreakerEventKind.WARNING_CLEARED
    assert b.state is BreakerState.ACTIVE


def test_tripped_stays_tripped_across_the_day_rollover_and_a_recovery() -> None:
    portfolio = account_long_50_at_100()
    b = breaker()
    assert b.evaluate(portfolio.mark("BTCUSDT", D("90"), T0 + 60_000)) is not None  # 9,500: 5 % → TRIPPED

    next_day = portfolio.mark("BTCUSDT", D("110"), T0 + DAY_MS)  # baseline 9,500; equity 10,500: no loss, new peak

    assert next_day.daily_pnl_pct > 0 and next_day.drawdown_pct == 0.0
    assert b.evaluate(next_day) is None
    assert b.state is BreakerState.TRIPPED
    assert not b.allows_entry()


def test_a_tripped_breaker_reports_the_trip_once() -> None:
    b = breaker()
    b.evaluate(snap("9500"))  # 5 % → TRIPPED

    assert b.evaluate(snap("9000")) is None  # 10 %: no second BreakerTripped
    assert b.state is BreakerState.TRIPPED


# ---------------------------------------------------------------- thresholds
@pytest.mark.parametrize(
    ("equity", "state"),
    [
        ("9501", BreakerState.WARNING),  # 499 / 10,000 = 4.99 %
        ("9500", BreakerState.TRIPPED),  # 5.00 %
        ("9499", BreakerState.TRIPPED),  # 5.01 %
    ],
    ids=["4.99%", "5.00%", "5.01%"],
)
def test_daily_loss_threshold(equity: str, state: BreakerState) -> None:
    b = breaker()
    b.evaluate(snap(equity))
    assert b.state is state


@pytest.mark.parametrize(
    ("equity", "state"),
    [
        ("17002", BreakerState.ACTIVE),  # (20,000 − 17,002) / 20,000 = 2,998 / 20,000 = 14.99 %
        ("17000", BreakerState.TRIPPED),  # 3,000 / 20,000 = 15.00 %
        ("16998", BreakerState.TRIPPED),  # 3,002 / 20,000 = 15.01 %
    ],
    ids=["14.99%", "15.00%", "15.01%"],
)
def test_drawdown_threshold(equity: str, state: BreakerState) -> None:
    b = breaker()
    b.evaluate(snap(equity, day_start=equity, peak="20000"))  # day baseline = equity: daily loss 0 %
    assert b.state is state


def test_custom_limits_are_used() -> None:
    b = breaker(limits=BreakerLimits(daily_loss_pct=2.0, warning_pct=1.0, drawdown_pct=10.0))

    b.evaluate(snap("9900"))  # 1 % → WARNING
    assert b.state is BreakerState.WARNING
    b.evaluate(snap("9800"))  # 2 % → TRIPPED
    assert b.state is BreakerState.TRIPPED


def test_a_gain_is_no_loss() -> None:
    b = breaker()
    assert b.evaluate(snap("12000", peak="12000")) is None  # daily loss max(0, −20 %) = 0
    assert b.status().daily_loss_pct == 0.0


# ---------------------------------------------------------------- reset
def test_reset_with_rebase_rearms_without_tripping_at_once() -> None:
    portfolio = account_long_50_at_100()
    b = breaker()
    b.evaluate(portfolio.mark("BTCUSDT", D("90"), T0 + 60_000))  # 9,500: 5 % daily loss, 5 % drawdown → TRIPPED
    before = portfolio.snapshot(T0 + 120_000)

    event = b.reset(actor="alice", reason="checked the feed, resume", snapshot=before)
    after = portfolio.rebase(T0 + 120_000)

    assert event == BreakerEvent(
        kind=BreakerEventKind.BREAKER_RESET,
        state_from=BreakerState.TRIPPED,
        state_to=BreakerState.ACTIVE,
        time_ms=T0 + 120_000,
        equity=D("9500"),
        daily_loss_pct=5.0,  # the figures being overridden, from the snapshot before re-basing
        drawdown_pct=5.0,
        reason="checked the feed, resume",
        actor="alice",
        day_start_equity=D("10000"),  # the baselines being overridden
        peak_equity=D("10000"),
    )
    assert (after.day_start_equity, after.peak_equity, after.drawdown_pct, after.daily_pnl_pct) == (D("9500"), D("9500"), 0.0, 0.0)
    assert b.evaluate(portfolio.mark("BTCUSDT", D("90"), T0 + 180_000)) is None  # same price: 0 % from the new base
    assert b.state is BreakerState.ACTIVE and b.allows_entry()


def test_after_reset_the_limits_count_from_the_new_base() -> None:
    portfolio = account_long_50_at_100()
    b = breaker()
    b.evaluate(portfolio.mark("BTCUSDT", D("90"), T0 + 60_000))  # TRIPPED at 9,500
    b.reset(actor="alice", reason="ok", snapshot=portfolio.snapshot(T0 + 60_000))
    portfolio.rebase(T0 + 60_000)

    # 3 % of 9,500 = 285 → equity 9,215 = 5,000 + 50 × 84.30
    warned = b.evaluate(portfolio.mark("BTCUSDT", D("84.30"), T0 + 120_000))
    # 5 % of 9,500 = 475 → equity 9,025 = 5,000 + 50 × 80.50
    tripped = b.evaluate(portfolio.mark("BTCUSDT", D("80.50"), T0 + 180_000))

    assert warned is not None and warned.kind is BreakerEventKind.WARNING_TRIGGERED and warned.daily_loss_pct == 3.0
    assert tripped is not None and tripped.kind is BreakerEventKind.BREAKER_TRIPPED and tripped.daily_loss_pct == 5.0


def test_reset_without_rebase_trips_again_on_the_next_evaluation() -> None:
    """Why the engine must call ``Portfolio.rebase`` too: the breaker itself does not touch the account."""
    b = breaker()
    b.evaluate(snap("9500"))
    b.reset(actor="alice", reason="ok", snapshot=snap("9500"))

    event = b.evaluate(snap("9500"))  # still 5 % below the old baseline

    assert event is not None and event.kind is BreakerEventKind.BREAKER_TRIPPED


def test_rebase_keeps_the_new_baseline_for_the_rest_of_the_day() -> None:
    portfolio = account_long_50_at_100()
    portfolio.mark("BTCUSDT", D("90"), T0 + 60_000)  # 9,500
    portfolio.rebase(T0 + 60_000)

    later = portfolio.mark("BTCUSDT", D("89"), T0 + DAY_MS - 1)  # 23:59:59.999 same day: 9,450

    assert later.day_start_equity == D("9500")
    assert later.peak_equity == D("9500")


@pytest.mark.parametrize("state", [BreakerState.ACTIVE, BreakerState.WARNING])
def test_reset_is_refused_unless_tripped(state: BreakerState) -> None:
    b = breaker(state)

    with pytest.raises(ResetRefused, match="not TRIPPED"):
        b.reset(actor="alice", reason="why not", snapshot=snap("10000"))
    assert b.state is state


def test_reset_is_refused_when_disabled() -> None:
    b = breaker(limits=BreakerLimits(enabled=False))
    with pytest.raises(ResetRefused):
        b.reset(actor="alice", reason="why not", snapshot=snap("10000"))


@pytest.mark.parametrize(("actor", "reason"), [("alice", ""), ("alice", "   "), ("", "ok"), (" ", "ok")])
def test_reset_needs_a_reason_and_an_actor(actor: str, reason: str) -> None:
    b = breaker(BreakerState.TRIPPED)

    with pytest.raises(ResetRefused):
        b.reset(actor=actor, reason=reason, snapshot=snap("9000"))
    assert b.state is BreakerState.TRIPPED


def test_reset_refusal_is_a_value_error() -> None:
    assert issubclass(ResetRefused, ValueError)


# ---------------------------------------------------------------- disabled, restore
def test_disabled_never_trips_and_allows_entries() -> None:
    b = breaker(limits=BreakerLimits(enabled=False))

    assert b.state is BreakerState.DISABLED
    for equity in ("9700", "9500", "1"):  # 3 %, 5 %, 99.99 % loss
        assert b.evaluate(snap(equity)) is None
    assert b.state is BreakerState.DISABLED
    assert b.allows_entry()


def test_a_stored_trip_is_restored_latched() -> None:
    b = breaker(BreakerState.TRIPPED)  # as read back from the database after a restart

    assert not b.allows_entry()
    assert b.evaluate(snap("10000")) is None  # healthy account: still TRIPPED
    assert b.state is BreakerState.TRIPPED
    assert b.reset(actor="bob", reason="after restart", snapshot=snap("10000")).state_to is BreakerState.ACTIVE


def test_restore_method_reinstalls_a_trip() -> None:
    b = breaker()
    b.restore(BreakerState.TRIPPED)
    assert b.state is BreakerState.TRIPPED


def test_config_disable_wins_over_a_stored_state() -> None:
    assert breaker(BreakerState.TRIPPED, BreakerLimits(enabled=False)).state is BreakerState.DISABLED
    assert breaker(BreakerState.DISABLED).state is BreakerState.ACTIVE  # enabled again in config


# ---------------------------------------------------------------- values
def test_status_reports_use_of_each_limit() -> None:
    b = breaker()
    b.evaluate(snap("9700", peak="10500"))  # daily 3 %; drawdown 800 / 10,500 = 7.619… %

    status = b.status()

    assert status.state is BreakerState.WARNING
    assert status.daily_loss_used == pytest.approx(0.6)  # 3 / 5
    assert status.drawdown_used == pytest.approx(800 / 10500 * 100 / 15)  # 7.619 / 15 = 0.508
    b.evaluate(snap("5000"))
    assert b.status().daily_loss_used == 1.0  # clamped


@pytest.mark.parametrize(
    "kwargs",
    [{"daily_loss_pct": 0}, {"drawdown_pct": 101}, {"warning_pct": -1}, {"warning_pct": 6.0}],
    ids=["zero-daily", "drawdown-over-100", "negative-warning", "warning-above-daily"],
)
def test_invalid_limits_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="must"):
        BreakerLimits(**kwargs)


def test_limits_and_events_are_frozen() -> None:
    event = breaker().evaluate(snap("9000"))
    assert event is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.equity = D(0)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        LIMITS.daily_loss_pct = 50.0  # type: ignore[misc]


def test_event_kinds_are_stable_strings() -> None:
    assert [k.value for k in BreakerEventKind] == ["WarningTriggered", "WarningCleared", "BreakerTripped", "BreakerReset"]
    assert [s.value for s in BreakerState] == ["ACTIVE", "WARNING", "TRIPPED", "DISABLED"]
