"""PaperBroker fills: slippage and tick rounding against the order, step flooring, the taker fee, the cash cap,
and filter rejections with their stable reason codes. Expectations are worked out by hand in the comments."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.core.broker import PaperBroker, Rejection
from engine.core.filters import SymbolFilters
from engine.core.models import Fill, Order, Side

D = Decimal

# Binance BTCUSDT rules: PRICE_FILTER tickSize 0.01, LOT_SIZE stepSize/minQty 0.00001, maxQty 9000, NOTIONAL 5
BTCUSDT = SymbolFilters(
    symbol="BTCUSDT",
    base_asset="BTC",
    quote_asset="USDT",
    tick_size=D("0.01"),
    step_size=D("0.00001"),
    min_qty=D("0.00001"),
    max_qty=D("9000"),
    min_notional=D("5"),
)


def order(side: Side, quantity: str, *, symbol: str = "BTCUSDT") -> Order:
    return Order(order_id="O1", symbol=symbol, side=side, quantity=D(quantity), created_ms=1_000, reason="test")


@pytest.fixture
def broker() -> PaperBroker:
    """0.1 % taker fee, 2 bps slippage."""
    return PaperBroker({"BTCUSDT": BTCUSDT}, taker_fee_pct=0.1, slippage_bps=2.0)


@pytest.fixture
def frictionless_price() -> PaperBroker:
    """0.1 % taker fee, no slippage: the fill price is the reference price."""
    return PaperBroker({"BTCUSDT": BTCUSDT}, taker_fee_pct=0.1, slippage_bps=0.0)


def test_buy_fills_above_the_reference_by_the_slippage_and_pays_the_fee(broker: PaperBroker) -> None:
    result = broker.fill(order(Side.BUY, "0.1"), reference_price=D("30000.00"), time_ms=2_000)

    # 30,000 × (1 + 2/10,000) = 30,006.00 (already on the 0.01 tick)
    # quote 0.1 × 30,006 = 3,000.60; fee 0.1 % = 3.0006 → 3.00060000
    assert isinstance(result, Fill)
    assert result.price == D("30006.00")
    assert result.quantity == D("0.1")
    assert result.quote_qty == D("3000.60")
    assert result.fee == D("3.00060000")
    assert result.reference_price == D("30000.00")
    assert (result.fill_id, result.order_id, result.symbol, result.side, result.time_ms) == ("O1-F", "O1", "BTCUSDT", Side.BUY, 2_000)


def test_sell_fills_below_the_reference_by_the_slippage(broker: PaperBroker) -> None:
    result = broker.fill(order(Side.SELL, "0.1"), reference_price=D("30000.00"), time_ms=2_000)

    # 30,000 × (1 − 0.0002) = 29,994.00; quote 2,999.40; fee 2.9994
    assert isinstance(result, Fill)
    assert result.price == D("29994.00")
    assert result.quote_qty == D("2999.40")
    assert result.fee == D("2.99940000")


def test_tick_rounding_goes_against_the_order(broker: PaperBroker) -> None:
    # buy: 30,000.01 × 1.0002 = 30,006.010002 → up to the tick → 30,006.02
    assert broker.fill_price("BTCUSDT", Side.BUY, D("30000.01")) == D("30006.02")
    # sell: 30,000.01 × 0.9998 = 29,994.009998 → down to the tick → 29,994.00
    assert broker.fill_price("BTCUSDT", Side.SELL, D("30000.01")) == D("29994.00")


def test_quantity_is_floored_to_the_step(frictionless_price: PaperBroker) -> None:
    result = frictionless_price.fill(order(Side.BUY, "0.123456789"), reference_price=D("30000"), time_ms=0)

    # 0.123456789 → multiple of 0.00001 below → 0.12345 (never more than asked)
    assert isinstance(result, Fill)
    assert result.quantity == D("0.12345")
    assert result.quote_qty == D("3703.50")  # 0.12345 × 30,000


def test_fee_is_rounded_half_up_to_1e_8(frictionless_price: PaperBroker) -> None:
    result = frictionless_price.fill(order(Side.BUY, "20.00001"), reference_price=D("0.50"), time_ms=0)

    # quote 20.00001 × 0.50 = 10.000005; fee 10.000005 × 0.001 = 0.010000005
    # half-up at 1e-8 → 0.01000001 (half-even would give 0.01000000)
    assert isinstance(result, Fill)
    assert result.quote_qty == D("10.000005")
    assert result.fee == D("0.01000001")


def test_max_cost_caps_a_buy_including_its_fee(broker: PaperBroker) -> None:
    result = broker.fill(order(Side.BUY, "1"), reference_price=D("30000"), time_ms=0, max_cost=D("1000"))

    # price 30,006.00; 1,000 / (30,006 × 1.001) = 1,000 / 30,036.006 = 0.0332933… → floored 0.03329
    # quote 0.03329 × 30,006 = 998.89974; fee 0.99889974; total 999.89863974 ≤ 1,000
    # (one step more, 0.03330, would cost 999.1998 + 0.9991998 = 1,000.1989998 > 1,000)
    assert isinstance(result, Fill)
    assert result.quantity == D("0.03329")
    assert result.quote_qty == D("998.89974")
    assert result.fee == D("0.99889974")
    assert result.quote_qty + result.fee == D("999.89863974")


def test_max_cost_leaves_an_affordable_buy_alone(broker: PaperBroker) -> None:
    # 0.1 × 30,006 × 1.001 = 3,003.6006 ≤ 5,000
    result = broker.fill(order(Side.BUY, "0.1"), reference_price=D("30000"), time_ms=0, max_cost=D("5000"))

    assert isinstance(result, Fill)
    assert result.quantity == D("0.1")


def test_max_cost_does_not_limit_a_sell(broker: PaperBroker) -> None:
    result = broker.fill(order(Side.SELL, "0.1"), reference_price=D("30000"), time_ms=0, max_cost=D("1"))

    assert isinstance(result, Fill)
    assert result.quantity == D("0.1")


def test_max_cost_holds_when_the_fee_rounds_up_at_a_fine_tick() -> None:
    """With tick 0.0001 × step 0.00001 the quote has 9 decimals, and the half-up fee may round up by 0.5e-8:
    the cap must still hold."""
    fine = SymbolFilters("XUSDT", "X", "USDT", D("0.0001"), D("0.00001"), D("0.00001"), D("9000"), D("0"))
    broker = PaperBroker({"XUSDT": fine}, taker_fee_pct=0.1, slippage_bps=0.0)

    # quote 1.00716 × 3.0007 = 3.022185012, × 1.001 = 3.025207197012 → cap 3.02520720 (8 decimals, rounded up)
    # fee 0.003022185012 → half-up 0.00302219; quote + fee = 3.025207202 > 3.02520720: 1.00716 does not fit
    result = broker.fill(order(Side.BUY, "1000", symbol="XUSDT"), reference_price=D("3.0007"), time_ms=0, max_cost=D("3.02520720"))

    assert isinstance(result, Fill)
    assert result.quote_qty + result.fee <= D("3.02520720")
    assert result.quantity == D("1.00715")  # one step below: 3.022155005 + 0.00302216 = 3.025177165


@pytest.mark.parametrize(
    ("side", "quantity", "code"),
    [
        (Side.BUY, "0.000009", "LOT_SIZE"),  # floors to 0 < minQty 0.00001
        (Side.SELL, "9000.00001", "LOT_SIZE"),  # above maxQty 9,000
        (Side.BUY, "0.0001", "NOTIONAL"),  # 0.0001 × 30,006 = 3.0006 < 5
        (Side.SELL, "0.0001", "NOTIONAL"),  # 0.0001 × 29,994 = 2.9994 < 5
    ],
)
def test_orders_breaking_a_filter_are_rejected_with_its_reason_code(broker: PaperBroker, side: Side, quantity: str, code: str) -> None:
    o = order(side, quantity)

    result = broker.fill(o, reference_price=D("30000"), time_ms=0)

    assert isinstance(result, Rejection)
    assert result.reason.startswith(f"{code}:")
    assert result.order is o


def test_max_cost_too_small_for_one_step_is_a_lot_size_rejection(broker: PaperBroker) -> None:
    # 0.10 / 30,036.006 = 0.0000033 → floored to 0
    result = broker.fill(order(Side.BUY, "1"), reference_price=D("30000"), time_ms=0, max_cost=D("0.10"))

    assert isinstance(result, Rejection)
    assert result.reason.startswith("LOT_SIZE:")


def test_just_above_min_notional_fills(broker: PaperBroker) -> None:
    # 0.00017 × 30,006 = 5.10102 ≥ 5
    assert isinstance(broker.fill(order(Side.BUY, "0.00017"), reference_price=D("30000"), time_ms=0), Fill)


def test_unknown_symbol_is_rejected_with_no_filters(broker: PaperBroker) -> None:
    result = broker.fill(order(Side.BUY, "1", symbol="DOGEUSDT"), reference_price=D("0.1"), time_ms=0)

    assert isinstance(result, Rejection)
    assert result.reason.startswith("NO_FILTERS:")
