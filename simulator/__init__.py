"""papertrader simulator: a local Binance-compatible spot exchange replaying bundled real 1m candles."""
