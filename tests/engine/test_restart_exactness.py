"""kill -9 mid-trading, then restore: the account and the breaker come back with exactly the numbers they had — the
equity, cash, peak and day-start equity of the last row written before the kill, to the last unit, and the breaker in
the same state, judging the same loss and drawdown (``../shared/SPEC.md`` §4; since schema v4 every one of them is a
``DECIMAL`` and the marks are stored with the equity rows)."""

from __future__ import annotations

import pytest

from engine.core.breaker import BreakerState, daily_loss_pct, drawdown_pct
from engine.core.core import TradingCore
from engine.recovery import restore
from storage.store import Store


@pytest.mark.parametrize("run_s", [2.5, 4.0])
def test_the_restored_account_and_breaker_equal_the_last_written_state_exactly(fast_settings, killed_run, run_s: float) -> None:
    # a breaker close enough to act within minutes of trading, so its state and baselines are not the defaults
    settings = fast_settings(breaker={"warning_pct": "0.2", "daily_loss_pct": "0.5"})
    killed_run(settings, run_s, PAPERTRADER_BREAKER__WARNING_PCT="0.2", PAPERTRADER_BREAKER__DAILY_LOSS_PCT="0.5")

    with Store(settings.storage.path) as store, store.cursor() as cur:
        before = cur.execute(
            "SELECT epoch_ms(ts), equity, cash, peak_equity, day_start_equity FROM equity ORDER BY recorded_at DESC LIMIT 1"
        ).fetchone()
        assert before is not None, "the engine wrote no equity row before the kill"
        ts_ms, equity, cash, peak, day_start = before
        (fills,) = cur.execute("SELECT count(*) FROM fills").fetchone()
        assert fills, "the engine made no fill before the kill: nothing was at stake"
        state_row = cur.execute("SELECT state_to FROM breaker_events ORDER BY recorded_at DESC LIMIT 1").fetchone()
        state = BreakerState.ACTIVE if state_row is None else BreakerState(state_row[0])

        restored = restore(cur, starting_balance=settings.trading.starting_balance)

    strategy = settings.strategy.build()
    core = TradingCore(settings, strategy=strategy, portfolio=restored.portfolio, breaker_state=restored.breaker_state)
    snapshot = core.portfolio.snapshot(ts_ms)
    # exactly, not approximately: Decimal == Decimal, every digit
    assert (snapshot.equity, snapshot.cash, snapshot.peak_equity, snapshot.day_start_equity) == (equity, cash, peak, day_start)
    assert core.breaker.state is state
    assert core.breaker.evaluate(snapshot) is None  # the same account judged again: no transition
    exact = (peak - equity) / peak * 100, (day_start - equity) / day_start * 100
    assert (drawdown_pct(snapshot), daily_loss_pct(snapshot)) == (max(exact[0], 0), max(exact[1], 0))
