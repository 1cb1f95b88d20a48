"""Guards around the venue's REST API, each in its own module with a ``status()`` snapshot:

- :mod:`engine.guards.rate_limiter`: weighted token bucket for REQUEST_WEIGHT, synced from ``X-MBX-USED-WEIGHT-1M``.
- :mod:`engine.guards.retry`: classification of failures and retry with exponential backoff and jitter (tenacity).
- :mod:`engine.guards.api_breaker`: per-host failure breaker ``CLOSED → OPEN → HALF_OPEN → CLOSED``.
- :mod:`engine.guards.host_ban`: per-host IP ban after HTTP 418, until its ``Retry-After`` elapses.

Every guard takes its time as injected ``clock`` (monotonic seconds) and, where it waits, an async ``sleep``.
"""
