"""exchangeInfo parsing into SymbolFilters, the rounding they impose, and ProtocolError on a malformed payload.

The fixture follows the documented ``GET /api/v3/exchangeInfo`` response (Binance spot REST docs,
"Exchange information" and "Filters"), trimmed to one symbol plus a legacy-style one.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from engine.core.filters import parse_exchange_info
from engine.errors import ProtocolError

D = Decimal

EXCHANGE_INFO: dict[str, Any] = {
    "timezone": "UTC",
    "serverTime": 1618876800000,
    "rateLimits": [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
        {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
    ],
    "exchangeFilters": [],
    "symbols": [
        {
            "symbol": "BTCUSDT",
            "status": "TRADING",
            "baseAsset": "BTC",
            "baseAssetPrecision": 8,
            "quoteAsset": "USDT",
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
            "icebergAllowed": True,
            "ocoAllowed": True,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": True,
            "cancelReplaceAllowed": True,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": True,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000", "tickSize": "0.01000000"},
                {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000", "stepSize": "0.00001000"},
                {"filterType": "ICEBERG_PARTS", "limit": 10},
                {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "83.16219318", "stepSize": "0.00000000"},
                {
                    "filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
                    "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000,
                },
                {
                    "filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "5", "bidMultiplierDown": "0.2",
                    "askMultiplierUp": "5", "askMultiplierDown": "0.2", "avgPriceMins": 5,
                },
                {
                    "filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True,
                    "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5,
                },
                {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
            ],
            "permissions": [],
            "permissionSets": [["SPOT", "MARGIN"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
        },
        {
            "symbol": "ETHUSDT",
            "status": "TRADING",
            "baseAsset": "ETH",
            "quoteAsset": "USDT",
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000", "tickSize": "0.01000000"},
                {"filterType": "LOT_SIZE", "minQty": "0.00010000", "maxQty": "9000.00000000", "stepSize": "0.00010000"},
                {"filterType": "MIN_NOTIONAL", "minNotional": "10.00000000", "applyToMarket": True, "avgPriceMins": 5},
            ],
        },
    ],
}


def test_parses_the_btcusdt_rules_exactly() -> None:
    btc = parse_exchange_info(EXCHANGE_INFO)["BTCUSDT"]

    assert (btc.symbol, btc.base_asset, btc.quote_asset) == ("BTCUSDT", "BTC", "USDT")
    assert btc.tick_size == D("0.01")
    assert btc.step_size == D("0.00001")
    assert btc.min_qty == D("0.00001")
    assert btc.max_qty == D("9000")
    assert btc.min_notional == D("5")


def test_legacy_min_notional_filter_is_understood() -> None:
    eth = parse_exchange_info(EXCHANGE_INFO)["ETHUSDT"]

    assert eth.min_notional == D("10")
    assert eth.step_size == D("0.0001")


def test_a_symbol_without_a_notional_filter_has_no_minimum() -> None:
    payload = copy.deepcopy(EXCHANGE_INFO)
    payload["symbols"][1]["filters"].pop()  # drop ETHUSDT's MIN_NOTIONAL

    assert parse_exchange_info(payload)["ETHUSDT"].min_notional == D("0")


def test_floor_quantity_and_round_price_use_the_parsed_steps() -> None:
    btc = parse_exchange_info(EXCHANGE_INFO)["BTCUSDT"]

    assert btc.floor_quantity(D("0.123456789")) == D("0.12345")
    assert btc.floor_quantity(D("0.00000999")) == D("0")
    assert btc.round_price(D("30000.001"), up=True) == D("30000.01")
    assert btc.round_price(D("30000.009"), up=False) == D("30000.00")
    assert btc.round_price(D("30000.00"), up=True) == D("30000.00")  # on the tick: unchanged


def test_rejection_names_the_filter() -> None:
    btc = parse_exchange_info(EXCHANGE_INFO)["BTCUSDT"]

    assert btc.rejection(quantity=D("0.001"), price=D("30000")) is None  # 30 ≥ 5
    assert btc.rejection(quantity=D("0"), price=D("30000")).startswith("LOT_SIZE:")  # type: ignore[union-attr]
    assert btc.rejection(quantity=D("0.0001"), price=D("30000")).startswith("NOTIONAL:")  # type: ignore[union-attr]  # 3 < 5


def _break(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A copy of the fixture with the item at ``path`` replaced by ``value`` (``...`` deletes it)."""
    payload = copy.deepcopy(EXCHANGE_INFO)
    target: Any = payload
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return payload


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({}, id="no-symbols"),
        pytest.param([], id="not-an-object"),
        pytest.param(None, id="null"),
        pytest.param({"symbols": None}, id="symbols-null"),
        pytest.param(_break(("symbols", 0, "filters", 0), ...), id="missing-price-filter"),
        pytest.param(_break(("symbols", 0, "filters", 1), ...), id="missing-lot-size"),
        pytest.param(_break(("symbols", 0, "filters"), ...), id="no-filters"),
        pytest.param(_break(("symbols", 0, "filters"), ["PRICE_FILTER"]), id="filter-not-an-object"),
        pytest.param(_break(("symbols", 0, "baseAsset"), ...), id="no-base-asset"),
        pytest.param(_break(("symbols", 0, "filters", 0, "tickSize"), "abc"), id="tick-not-decimal"),
        pytest.param(_break(("symbols", 0, "filters", 1, "stepSize"), None), id="step-null"),
        pytest.param(_break(("symbols", 0, "filters", 0, "tickSize"), "NaN"), id="tick-nan"),
        pytest.param(_break(("symbols", 0, "filters", 0, "tickSize"), "-0.01"), id="tick-negative"),
        pytest.param(_break(("symbols", 0, "filters", 1, "stepSize"), "Infinity"), id="step-infinite"),
        pytest.param(_break(("symbols", 0, "filters", 1, "minQty"), "-1"), id="min-qty-negative"),
        pytest.param(_break(("symbols", 0, "filters", 6, "minNotional"), "NaN"), id="min-notional-nan"),
    ],
)
def test_malformed_payload_is_a_protocol_error(payload: Any) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_exchange_info(payload)

    assert info.value.endpoint == "/api/v3/exchangeInfo"
