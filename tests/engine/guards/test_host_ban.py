"""The 418 ban of a host, on a fake clock."""

from __future__ import annotations

import pytest

from engine.errors import HostBanned
from engine.guards.host_ban import DEFAULT_BAN_S, HostBan


def test_blocks_until_retry_after_has_passed(clock) -> None:
    ban = HostBan("api.binance.com", clock=clock)
    ban.check()
    ban.ban(120)
    clock.advance(119)
    with pytest.raises(HostBanned) as caught:
        ban.check("/api/v3/time")
    assert caught.value.retry_after_s == pytest.approx(1.0)
    assert caught.value.until_s == pytest.approx(1120.0)
    assert ban.status().banned
    clock.advance(1)
    ban.check()
    status = ban.status()
    assert (status.banned, status.retry_after_s, status.bans) == (False, 0.0, 1)


def test_without_retry_after_assumes_the_shortest_binance_ban(clock) -> None:
    ban = HostBan("h", clock=clock)
    ban.ban(None)
    assert ban.status().retry_after_s == DEFAULT_BAN_S


def test_a_shorter_second_ban_does_not_shorten_the_first(clock) -> None:
    ban = HostBan("h", clock=clock)
    ban.ban(300)
    ban.ban(10)
    assert ban.status().retry_after_s == 300
