"""Portfolio accounting, checked against hand-computed numbers (exact Decimal equality).

Every expectation below is worked out in the comment above it; the fee is passed explicitly
(0.1 % of the quote quantity) so the arithmetic stays visible.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from engine.core.models import ExitReason, Fill, Side
from engine.core.portfolio import InsufficientFunds, Portfolio

D = Decimal
T0 = int(datetime(2021, 4, 20, tzinfo=UTC).timestamp() * 1000)  # 2021-04-20 00:00:00 UTC = 1618876800000
MINUTE = 60_000


def fill(side: Side, quantity: str, price: str, fee: str, *, symbol: str = "BTCUSDT", time_ms: int = T0, fill_id: str = "F") -> Fill:
    """A fill with ``quote_qty`` = price × quantity (exact) and an explicit fee."""
    q, p = D(quantity), D(price)
    return Fill(fill_id, fill_id.removesuffix("-F"), symbol, side, p, q, q * p, D(fee), time_ms, p)


def buy(quantity: str, price: str, fee: str, **kw: object) -> Fill:
    return fill(Side.BUY, quantity, price, fee, **kw)  # type: ignore[arg-type]


def sell(quantity: str, price: str, fee: str, **kw: object) -> Fill:
    return fill(Side.SELL, quantity, price, fee, **kw)  # type: ignore[arg-type]


@pytest.fixture
def account() -> Portfolio:
    return Portfolio(D("10000"))


def test_buy_debits_cash_and_books_cost_basis_including_fee(account: Portfolio) -> None:
    # 0.1 BTC × 30,000 = 3,000 quote; fee 0.1 % = 3.00; cash 10,000 − 3,003 = 6,997
    trade = account.apply_fill(buy("0.1", "30000", "3.00"), stop_price=D("29000"), target_price=D("32000"))

    assert trade is None
    assert account.cash == D("6997")
    position = account.positions["BTCUSDT"]
    assert position.quantity == D("0.1")
    assert position.avg_entry == D("30000")  # excludes the fee
    assert position.cost_basis == D("3003")  # 3,000 + 3 fee
    assert position.entry_fees == D("3")
    assert (position.stop_price, position.target_price) == (D("29000"), D("32000"))
    # valued at the fill price until the first mark: equity 6,997 + 0.1 × 30,000 = 9,997 (the fee is lost)
    assert account.equity() == D("9997")
    assert account.unrealised_pnl() == D("-3")


def test_unrealised_pnl_and_equity_at_a_mark(account: Portfolio) -> None:
    account.apply_fill(buy("0.1", "30000", "3.00"))

    snap = account.mark("BTCUSDT", D("31000"), T0 + MINUTE)

    # positions value 0.1 × 31,000 = 3,100; unrealised 3,100 − 3,003 = 97
    # equity = cash + Σ q × mark = 6,997 + 3,100 = 10,097 = 10,000 + 0 realised + 97 unrealised
    assert snap.positions_value == D("3100")
    assert snap.unrealised_pnl == D("97")
    assert snap.realised_pnl == D("0")
    assert snap.equity == D("10097")
    assert snap.equity == snap.cash + snap.positions_value
    assert snap.equity == account.starting_balance + snap.realised_pnl + snap.unrealised_pnl


def test_round_trip_realised_pnl_is_net_of_both_fees(account: Portfolio) -> None:
    account.apply_fill(buy("0.1", "30000", "3.00", fill_id="B-F"))
    account.mark("BTCUSDT", D("31000"), T0 + MINUTE)

    trade = account.apply_fill(sell("0.1", "31000", "3.10", time_ms=T0 + 2 * MINUTE, fill_id="S-F"), exit_reason=ExitReason.TARGET)

    # proceeds 0.1 × 31,000 − 3.10 fee = 3,096.90; realised 3,096.90 − 3,003 basis = 93.90
    # cash 6,997 + 3,096.90 = 10,093.90 = 10,000 + 93.90; flat, so unrealised 0
    assert account.cash == D("10093.90")
    assert account.realised_pnl == D("93.90")
    assert account.positions == {}
    assert account.unrealised_pnl() == D("0")
    assert account.equity() == D("10093.90")
    assert trade is not None
    assert trade.pnl == D("93.90")
    assert trade.fees == D("6.10")  # 3.00 entry + 3.10 exit
    assert (trade.entry_price, trade.exit_price, trade.quantity) == (D("30000"), D("31000"), D("0.1"))
    assert (trade.entry_time_ms, trade.exit_time_ms) == (T0, T0 + 2 * MINUTE)
    assert trade.exit_reason is ExitReason.TARGET
    assert trade.trade_id == "S-F"
    assert trade.pnl_pct == pytest.approx(93.90 / 3003 * 100)  # 3.1269 %


def test_losing_round_trip_realises_a_loss_including_fees(account: Portfolio) -> None:
    account.apply_fill(buy("0.1", "30000", "3.00"))
    # proceeds 0.1 × 29,000 − 2.90 = 2,897.10; realised 2,897.10 − 3,003 = −105.90
    trade = account.apply_fill(sell("0.1", "29000", "2.90"), exit_reason=ExitReason.STOP)

    assert account.realised_pnl == D("-105.90")
    assert account.cash == D("9894.10")  # 10,000 − 105.90
    assert trade is not None and trade.pnl == D("-105.90")


def test_partial_sell_releases_a_proportional_share_of_the_cost_basis(account: Portfolio) -> None:
    # buy 0.3 × 20,000 = 6,000 + 6.00 fee: cash 3,994, basis 6,006
    account.apply_fill(buy("0.3", "20000", "6.00"))

    trade = account.apply_fill(sell("0.1", "21000", "2.10"))

    # a third is sold: basis released 6,006 / 3 = 2,002; proceeds 2,100 − 2.10 = 2,097.90; realised 95.90
    # cash 3,994 + 2,097.90 = 6,091.90; left 0.2 BTC with basis 4,004 and entry fees 6 − 2 = 4
    assert account.cash == D("6091.90")
    assert account.realised_pnl == D("95.90")
    position = account.positions["BTCUSDT"]
    assert position.quantity == D("0.2")
    assert position.cost_basis == D("4004")
    assert position.entry_fees == D("4")
    assert position.avg_entry == D("20000")
    assert trade is not None
    assert (trade.quantity, trade.pnl, trade.fees) == (D("0.1"), D("95.90"), D("4.10"))  # fees: 2 entry share + 2.10 exit

    snap = account.mark("BTCUSDT", D("21000"), T0 + MINUTE)
    # equity 6,091.90 + 0.2 × 21,000 = 10,291.90; unrealised 4,200 − 4,004 = 196; 10,000 + 95.90 + 196 = 10,291.90
    assert snap.unrealised_pnl == D("196")
    assert snap.equity == D("10291.90")
    assert snap.equity == account.starting_balance + snap.realised_pnl + snap.unrealised_pnl

    account.apply_fill(sell("0.2", "22000", "4.40"))
    # the rest: proceeds 4,400 − 4.40 = 4,395.60; realised += 4,395.60 − 4,004 = 391.60 → 487.50 in all
    assert account.positions == {}
    assert account.realised_pnl == D("487.50")
    assert account.cash == D("10487.50")


def test_adding_to_a_position_averages_the_entry_and_sums_the_basis(account: Portfolio) -> None:
    account.apply_fill(buy("0.1", "20000", "2.00"), stop_price=D("19000"), target_price=D("22000"))
    account.apply_fill(buy("0.1", "22000", "2.20"))

    # avg entry (0.1 × 20,000 + 0.1 × 22,000) / 0.2 = 4,200 / 0.2 = 21,000
    # basis 2,002 + 2,202.20 = 4,204.20; cash 10,000 − 4,204.20 = 5,795.80
    position = account.positions["BTCUSDT"]
    assert position.quantity == D("0.2")
    assert position.avg_entry == D("21000")
    assert position.cost_basis == D("4204.20")
    assert position.entry_fees == D("4.20")
    assert account.cash == D("5795.80")
    # an add without exits keeps the position's stop and target
    assert (position.stop_price, position.target_price) == (D("19000"), D("22000"))
    assert position.entry_time_ms == T0


def test_positions_in_two_symbols_are_valued_each_at_its_own_mark(account: Portfolio) -> None:
    account.apply_fill(buy("0.1", "30000", "3.00"))  # cash 6,997
    account.apply_fill(buy("1", "2000", "2.00", symbol="ETHUSDT"))  # cash 4,995
    account.mark("BTCUSDT", D("31000"), T0)
    snap = account.mark("ETHUSDT", D("1900"), T0)

    # 4,995 + 0.1 × 31,000 + 1 × 1,900 = 4,995 + 3,100 + 1,900 = 9,995
    # unrealised (3,100 − 3,003) + (1,900 − 2,002) = 97 − 102 = −5
    assert snap.equity == D("9995")
    assert snap.unrealised_pnl == D("-5")


def test_peak_equity_and_drawdown_percent_from_peak(account: Portfolio) -> None:
    account.apply_fill(buy("0.1", "30000", "3.00"))  # cash 6,997

    up = account.mark("BTCUSDT", D("32000"), T0)
    # equity 6,997 + 3,200 = 10,197: a new peak, no drawdown
    assert up.peak_equity == D("10197")
    assert up.drawdown_pct == 0.0

    down = account.mark("BTCUSDT", D("28000"), T0 + MINUTE)
    # equity 6,997 + 2,800 = 9,797; drawdown (10,197 − 9,797) / 10,197 × 100 = 3.9227 %
    assert down.equity == D("9797")
    assert down.peak_equity == D("10197")
    assert down.drawdown_pct == pytest.approx(400 / 10197 * 100)


def test_an_exit_above_the_last_mark_raises_the_peak(account: Portfolio) -> None:
    account.apply_fill(buy("0.1", "30000", "3.00"))  # cash 6,997
    account.mark("BTCUSDT", D("31000"), T0)  # equity 6,997 + 3,100 = 10,097: the peak

    account.apply_fill(sell("0.1", "32000", "3.20"))  # the next candle opens higher: + 3,200 − 3.20 = 10,193.80 cash

    snap = account.snapshot(T0 + MINUTE)
    assert snap.equity == snap.cash == D("10193.80")
    assert snap.peak_equity == D("10193.80")  # the account was worth this, so it is the peak before any later mark
    assert snap.drawdown_pct == 0.0


def test_peak_starts_at_the_starting_balance(account: Portfolio) -> None:
    account.apply_fill(buy("0.1", "30000", "3.00"))
    snap = account.mark("BTCUSDT", D("29000"), T0)

    # equity 6,997 + 2,900 = 9,897, never above 10,000: drawdown 103 / 10,000 × 100 = 1.03 %
    assert snap.peak_equity == D("10000")
    assert snap.drawdown_pct == pytest.approx(1.03)


def test_day_baseline_rolls_over_at_midnight_utc_by_market_time(account: Portfolio) -> None:
    account.apply_fill(buy("0.1", "30000", "3.00"))  # cash 6,997, valued at 30,000 → equity 9,997

    last_ms_of_day = T0 + 86_400_000 - 1  # 2021-04-20 23:59:59.999
    first = account.mark("BTCUSDT", D("31000"), last_ms_of_day)
    # first mark ever: the baseline is the equity just before it, 9,997; equity 10,097 → daily +100 / 9,997
    assert first.day_start_equity == D("9997")
    assert first.daily_pnl_pct == pytest.approx(100 / 9997 * 100)

    midnight = account.mark("BTCUSDT", D("30500"), T0 + 86_400_000)  # 2021-04-21 00:00:00.000
    # new UTC day: baseline = equity before this mark = 10,097; equity 6,997 + 3,050 = 10,047 → −50 / 10,097
    assert midnight.day_start_equity == D("10097")
    assert midnight.daily_pnl_pct == pytest.approx(-50 / 10097 * 100)

    noon = account.mark("BTCUSDT", D("31500"), T0 + 86_400_000 + 12 * 3_600_000)
    # same day: baseline stays 10,097; equity 10,147 → +50 / 10,097
    assert noon.day_start_equity == D("10097")
    assert noon.daily_pnl_pct == pytest.approx(50 / 10097 * 100)


def test_a_late_mark_from_the_previous_day_does_not_move_the_baseline(account: Portfolio) -> None:
    account.apply_fill(buy("0.1", "30000", "3.00"))
    account.mark("BTCUSDT", D("31000"), T0 + 86_400_000)  # day 2: baseline 9,997
    snap = account.mark("BTCUSDT", D("32000"), T0)  # day 1, out of order

    assert snap.day_start_equity == D("9997")


def test_overspending_raises_and_leaves_the_account_unchanged(account: Portfolio) -> None:
    # 1 × 10,000 + 10 fee = 10,010 > 10,000 cash
    with pytest.raises(InsufficientFunds):
        account.apply_fill(buy("1", "10000", "10.00"))

    assert account.cash == D("10000")
    assert account.positions == {}


def test_spending_exactly_all_cash_is_allowed(account: Portfolio) -> None:
    # 1 × 9,990.01 + 9.99 fee = 10,000.00, all of the cash
    account.apply_fill(buy("1", "9990.01", "9.99"))

    assert account.cash == D("0")


@pytest.mark.parametrize(
    ("held", "sold"),
    [(None, "0.1"), ("0.1", "0.10000001")],
    ids=["no-position", "more-than-held"],
)
def test_overselling_raises_and_leaves_the_account_unchanged(account: Portfolio, held: str | None, sold: str) -> None:
    if held is not None:
        account.apply_fill(buy(held, "30000", "3.00"))
    cash, positions = account.cash, dict(account.positions)

    with pytest.raises(InsufficientFunds):
        account.apply_fill(sell(sold, "30000", "3.00"))

    assert account.cash == cash
    assert account.positions == positions
