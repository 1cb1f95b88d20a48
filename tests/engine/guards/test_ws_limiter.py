"""The outgoing WebSocket message limiter, on a hand-moved clock (no real waiting)."""

from __future__ import annotations

import asyncio

import pytest

from engine.guards.ws_limiter import BINANCE_MAX_MESSAGES_PER_S, MAX_MESSAGES_PER_S, RESERVED_FOR_KEEPALIVE, WsMessageLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_requests_leave_room_for_a_ping_and_a_pong_under_binances_limit() -> None:
    """At most 2 requests in any second: with the library's ping and pong, never more than 4 counted messages,
    one below Binance's 5."""
    clock = Clock()
    waits: list[float] = []

    async def sleep(delay_s: float) -> None:
        waits.append(delay_s)
        clock.now += delay_s

    limiter = WsMessageLimiter(clock=clock, sleep=sleep)
    sent: list[float] = []

    async def main() -> None:
        for _ in range(7):
            await limiter.acquire()
            sent.append(clock.now)

    asyncio.run(main())
    budget = MAX_MESSAGES_PER_S - RESERVED_FOR_KEEPALIVE
    assert budget == 2 and MAX_MESSAGES_PER_S < BINANCE_MAX_MESSAGES_PER_S
    assert waits == [1.0, 1.0, 1.0]
    assert all(later - earlier >= 1.0 for earlier, later in zip(sent, sent[budget:], strict=False)), "no 3 within 1 s"
    status = limiter.status()
    assert (status.sent, status.sent_last_s, status.budget, status.used, status.waited_s) == (7, 1, 2, 0.5, 3.0)


def test_the_window_frees_up_as_time_passes() -> None:
    clock = Clock()

    async def no_sleep(delay_s: float) -> None:  # would be a bug: there is room
        raise AssertionError(f"waited {delay_s} s")

    limiter = WsMessageLimiter(clock=clock, sleep=no_sleep)

    async def main() -> None:
        await limiter.acquire()
        await limiter.acquire()
        clock.now += 1.0
        await limiter.acquire()

    asyncio.run(main())
    assert limiter.status().sent_last_s == 1


def test_no_request_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="no request budget"):
        WsMessageLimiter(max_messages=2, reserved=2)
