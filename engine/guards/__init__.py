"""Guards around the venue's REST API and WebSocket streams, each in its own module (those with state have a
``status()`` snapshot):

- :mod:`engine.guards.backoff`: the one backoff generator (exponential, capped, with jitter) that REST retries,
  stream reconnects and backfills share.
- :mod:`engine.guards.rate_limiter`: weighted token bucket for REQUEST_WEIGHT, synced from ``X-MBX-USED-WEIGHT-1M``.
- :mod:`engine.guards.retry`: classification of failures and retry with backoff and ``Retry-After`` (tenacity); a
  caller that must not stall defers long waits to itself.
- :mod:`engine.guards.api_breaker`: per-host failure breaker ``CLOSED → OPEN → HALF_OPEN → CLOSED``.
- :mod:`engine.guards.host_ban`: per-host IP ban after HTTP 418, until its ``Retry-After`` elapses.
- :mod:`engine.guards.ws_limiter`: outgoing WebSocket messages, ≤ 4 counted messages a second.

Every guard takes its time as injected ``clock`` (monotonic seconds) and, where it waits, an async ``sleep``.
"""
