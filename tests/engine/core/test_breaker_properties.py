"""Property: on any price path marked through a real ``Portfolio`` holding a long position, the breaker trips exactly
at the first mark where daily loss ≥ 5 % or drawdown ≥ 15 %, warns/clears exactly when the daily loss crosses 3 %,
never leaves TRIPPED except by a reset (which, with ``Portfolio.rebase``, re-arms it at the current equity), and the
snapshot's drawdown stays within [0, 100] %.

The expectation is computed independently of ``Portfolio`` and ``engine.core.breaker``: an exact ``Fraction`` ledger
(equity = cash + quantity × price), its own running peak and UTC-day baseline, and thresholds compared by
cross-multiplication (loss ≥ 5 % ⇔ 100 × (start − equity) ≥ 5 × start).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import event as label_example
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.breaker import BreakerEventKind, BreakerLimits, BreakerState, PortfolioBreaker, ResetRefused
from engine.core.models import Fill, Side
from engine.core.portfolio import Portfolio

D = Decimal
START = D("10000")
T0 = 1_700_006_400_000  # 2023-11-15 00:00 UTC
DAY_MS = 86_400_000
CENT = D("0.01")

# a mark: price move in basis points (−4 % … +2.5 %, drifting down so limits are reached) and market time advanced
# either within the day (≤ 3 h) or past the next 00:00 UTC (24–30 h: a slow decline over days reaches the drawdown
# limit while no single day loses 5 %)
advances = st.one_of(st.integers(0, 3 * 3_600_000), st.integers(24 * 3_600_000, 30 * 3_600_000))
marks = st.tuples(st.just("mark"), st.sampled_from(range(-400, 251)), advances)  # sampled: uniform, not biased to 0
steps = st.lists(st.one_of(marks, marks, marks, st.tuples(st.just("reset"))), min_size=10, max_size=80)


def expected_state(state: BreakerState, loss_ge: dict[int, bool], drawdown_ge_15: bool) -> BreakerState:
    """The model of one evaluation: ``loss_ge[k]`` is daily loss ≥ k %."""
    if state is BreakerState.TRIPPED:
        return state
    if loss_ge[5] or drawdown_ge_15:
        return BreakerState.TRIPPED
    return BreakerState.WARNING if loss_ge[3] else BreakerState.ACTIVE


@settings(max_examples=300, deadline=None)
@given(
    price0=st.integers(1_000, 10_000_000).map(lambda cents: D(cents) / 100),  # 10.00 … 100,000.00
    invested_pct=st.integers(50, 99),  # share of the balance put in the position (less: the limits are hardly reached)
    path=steps,
)
def test_breaker_trips_exactly_when_a_limit_is_crossed_and_stays_tripped(price0: Decimal, invested_pct: int, path: list[tuple]) -> None:
    portfolio = Portfolio(START)
    breaker = PortfolioBreaker(BreakerLimits())
    quantity = (START * invested_pct / 100 / price0).quantize(D("0.00001"), rounding=ROUND_DOWN)
    quote = quantity * price0
    fee = (quote * D("0.001")).quantize(D("0.00000001"), rounding=ROUND_HALF_UP)
    portfolio.apply_fill(Fill("F1", "O1", "BTCUSDT", Side.BUY, price0, quantity, quote, fee, T0, price0))

    # the independent model
    cash = Fraction(START) - Fraction(quote) - Fraction(fee)
    qty = Fraction(quantity)
    price = price0
    equity = cash + qty * Fraction(price0)
    peak = Fraction(START)  # the peak starts at the starting balance and moves on marks only
    day_start = equity
    day: int | None = None
    state = BreakerState.ACTIVE
    now = T0
    trips: list[int] = []
    expected_trips: list[int] = []

    for i, step in enumerate([("mark", 0, 0), *path]):
        if step[0] == "reset":
            if state is not BreakerState.TRIPPED:
                with pytest.raises(ResetRefused):
                    breaker.reset(actor="prop", reason="test", snapshot=portfolio.snapshot(now))
                assert breaker.state is state
                continue
            event = breaker.reset(actor="prop", reason="test", snapshot=portfolio.snapshot(now))
            rebased = portfolio.rebase(now)
            assert event.kind is BreakerEventKind.BREAKER_RESET and breaker.state is BreakerState.ACTIVE
            state = BreakerState.ACTIVE
            peak = day_start = equity
            day = now // DAY_MS
            assert (rebased.peak_equity, rebased.day_start_equity) == (rebased.equity, rebased.equity)
            continue

        _, move_bps, advance_ms = step
        now += advance_ms
        price = max((price * (1 + D(move_bps) / 10_000)).quantize(CENT), CENT)
        if day is None or now // DAY_MS > day:  # the baseline is the equity just before the first mark of a new day
            day_start, day = equity, now // DAY_MS
        equity = cash + qty * Fraction(price)
        peak = max(peak, equity)
        loss = day_start - equity  # in quote units; compared as a share by cross-multiplying
        loss_ge = {k: 100 * loss >= k * day_start for k in (3, 5)}
        drawdown_ge_15 = 100 * (peak - equity) >= 15 * peak
        want = expected_state(state, loss_ge, drawdown_ge_15)

        snapshot = portfolio.mark("BTCUSDT", price, now)
        event = breaker.evaluate(snapshot)

        assert Fraction(snapshot.equity) == equity
        assert 0.0 <= snapshot.drawdown_pct <= 100.0
        where = f"step {i}: price {price}, equity {float(equity):.2f}, day start {float(day_start):.2f}, peak {float(peak):.2f}"
        assert breaker.state is want, where
        if want is state:
            assert event is None
        else:
            assert event is not None and (event.state_from, event.state_to) == (state, want)
        if want is BreakerState.TRIPPED and state is not BreakerState.TRIPPED:
            trips.append(i)
            label_example("a trip on daily loss" if loss_ge[5] else "a trip on drawdown alone")
        if state is not BreakerState.TRIPPED and (loss_ge[5] or drawdown_ge_15):
            expected_trips.append(i)
        assert breaker.allows_entry() is (want is not BreakerState.TRIPPED)
        state = want

    assert trips == expected_trips
    label_example(f"trips: {min(len(trips), 2)}")
