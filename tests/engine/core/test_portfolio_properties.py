"""Property: whatever the sequence of buys, sells and marks, the portfolio's books balance exactly.

After every step: cash matches an independent ledger; equity == cash + Σ quantity × mark ==
starting balance + realised + unrealised (exact Decimal equality); drawdown % is within [0, 100];
an order the account cannot pay for (or a sell of more than is held) raises and changes nothing.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.models import Fill, Side
from engine.core.portfolio import InsufficientFunds, Portfolio

D = Decimal
STEP = D("0.00001")
FEE_RATE = D("0.001")
FEE_QUANTUM = D("0.00000001")
START = D("10000")
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")

prices = st.integers(min_value=1, max_value=10_000_000).map(lambda cents: D(cents) / 100)  # 0.01 … 100,000.00
symbols = st.sampled_from(SYMBOLS)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("buy"), symbols, st.integers(1, 300_000).map(lambda k: D(k) * STEP), prices),
        st.tuples(st.just("sell"), symbols, st.integers(1, 100), prices),  # percent of the holding
        st.tuples(st.just("mark"), symbols, prices, st.integers(0, 2 * 86_400_000)),  # ms to advance
    ),
    max_size=40,
)


def make_fill(n: int, side: Side, symbol: str, quantity: Decimal, price: Decimal, time_ms: int) -> Fill:
    quote = quantity * price
    fee = (quote * FEE_RATE).quantize(FEE_QUANTUM, rounding=ROUND_HALF_UP)
    return Fill(f"F{n}", f"O{n}", symbol, side, price, quantity, quote, fee, time_ms, price)


@settings(max_examples=400, deadline=None)
@given(operations)
def test_books_balance_after_any_sequence_of_fills_and_marks(ops: list[tuple]) -> None:
    account = Portfolio(START)
    cash = START  # the independent ledger
    held: dict[str, Decimal] = {}
    marks: dict[str, Decimal] = {}
    now_ms = 1_618_876_800_000

    for n, op in enumerate(ops):
        kind, symbol = op[0], op[1]
        marked = False
        if kind == "buy":
            fill = make_fill(n, Side.BUY, symbol, op[2], op[3], now_ms)
            if fill.quote_qty + fill.fee > cash:
                before = (account.cash, dict(account.positions))
                try:
                    account.apply_fill(fill)
                except InsufficientFunds:
                    assert (account.cash, account.positions) == before
                else:
                    raise AssertionError("overspending was booked")
                continue
            account.apply_fill(fill)
            cash -= fill.quote_qty + fill.fee
            held[symbol] = held.get(symbol, D(0)) + fill.quantity
            marks.setdefault(symbol, fill.price)  # a new position is valued at its fill until marked
        elif kind == "sell":
            holding = held.get(symbol, D(0))
            quantity = (holding * op[2] / 100 / STEP).to_integral_value(rounding=ROUND_FLOOR) * STEP
            if quantity == 0:
                before = (account.cash, dict(account.positions))
                try:
                    account.apply_fill(make_fill(n, Side.SELL, symbol, holding + STEP, op[3], now_ms))
                except InsufficientFunds:
                    assert (account.cash, account.positions) == before
                else:
                    raise AssertionError("overselling was booked")
                continue
            fill = make_fill(n, Side.SELL, symbol, quantity, op[3], now_ms)
            trade = account.apply_fill(fill)
            assert trade is not None and trade.quantity == quantity
            cash += fill.quote_qty - fill.fee
            held[symbol] = holding - quantity
            if held[symbol] == 0:
                del held[symbol]
        else:
            now_ms += op[3]
            account.mark(symbol, op[2], now_ms)
            marks[symbol] = op[2]
            marked = True

        snap = account.snapshot(now_ms)
        positions_value = sum((q * marks[s] for s, q in held.items()), D(0))
        assert account.cash == cash >= 0
        assert {s: p.quantity for s, p in account.positions.items()} == held
        assert snap.equity == cash + positions_value
        assert snap.equity == START + snap.realised_pnl + snap.unrealised_pnl
        assert snap.positions_value == positions_value
        assert 0.0 <= snap.drawdown_pct <= 100.0
        if marked:
            assert snap.peak_equity >= snap.equity
