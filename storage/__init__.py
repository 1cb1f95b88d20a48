"""papertrader storage: DuckDB schema and migrations, Store, Recorder (batched writer), read queries."""
