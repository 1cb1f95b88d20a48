"""Trading rules of the simulated symbols and their ``exchangeInfo`` encoding.

The values are those Binance publishes for the real spot symbols (PRICE_FILTER, LOT_SIZE, NOTIONAL), so that order
sizing and rounding behave the same against ``sim`` and ``binance``.

Source: Binance spot REST docs, "Exchange information" and "Filters".
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from simulator.kline import fmt8
from simulator.weights import REQUEST_WEIGHT_LIMIT_PER_MINUTE

ORDER_TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")


@dataclass(frozen=True, slots=True)
class SymbolRules:
    """One spot symbol's assets and filters; prices in the quote asset, quantities in the base asset.

    The LOT_SIZE ``minQty`` is one ``step_size``, as for the real BTCUSDT and ETHUSDT.
    """

    symbol: str
    base_asset: str
    quote_asset: str
    tick_size: Decimal
    step_size: Decimal
    min_price: Decimal = Decimal("0.01")
    max_price: Decimal = Decimal("1000000")
    max_qty: Decimal = Decimal("9000")
    min_notional: Decimal = Decimal("5")
    max_notional: Decimal = Decimal("9000000")
    avg_price_mins: int = 5

    def to_exchange_info(self) -> dict[str, Any]:
        """This symbol's entry of ``exchangeInfo.symbols``."""
        return {
            "symbol": self.symbol,
            "status": "TRADING",
            "baseAsset": self.base_asset,
            "baseAssetPrecision": 8,
            "quoteAsset": self.quote_asset,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": list(ORDER_TYPES),
            "icebergAllowed": True,
            "ocoAllowed": True,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": True,
            "cancelReplaceAllowed": True,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": fmt8(self.min_price),
                    "maxPrice": fmt8(self.max_price),
                    "tickSize": fmt8(self.tick_size),
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": fmt8(self.step_size),
                    "maxQty": fmt8(self.max_qty),
                    "stepSize": fmt8(self.step_size),
                },
                {
                    "filterType": "NOTIONAL",
                    "minNotional": fmt8(self.min_notional),
                    "applyMinToMarket": True,
                    "maxNotional": fmt8(self.max_notional),
                    "applyMaxToMarket": False,
                    "avgPriceMins": self.avg_price_mins,
                },
            ],
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
        }


SYMBOL_RULES: dict[str, SymbolRules] = {
    "BTCUSDT": SymbolRules("BTCUSDT", "BTC", "USDT", tick_size=Decimal("0.01"), step_size=Decimal("0.00001")),
    "ETHUSDT": SymbolRules("ETHUSDT", "ETH", "USDT", tick_size=Decimal("0.01"), step_size=Decimal("0.0001")),
}


def rate_limits(request_weight_per_minute: int = REQUEST_WEIGHT_LIMIT_PER_MINUTE) -> list[dict[str, Any]]:
    """``exchangeInfo.rateLimits``: REQUEST_WEIGHT per minute, ORDERS per 10 s, RAW_REQUESTS per 5 min."""
    return [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": request_weight_per_minute},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
        {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
    ]
