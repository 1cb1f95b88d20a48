"""papertrader engine: domain models, config, strategy, portfolio, paper broker, Binance clients, engine loop, Runtime."""
