"""The one backoff generator shared by REST retries, stream reconnects and backfills."""

from __future__ import annotations

import itertools
import random

import pytest

from engine.guards.backoff import Backoff


def test_reconnect_delays_double_from_1_s_to_a_64_s_cap_within_25_pct_jitter() -> None:
    nominal = [1, 2, 4, 8, 16, 32, 64, 64, 64, 64]
    backoff = Backoff(base_s=1.0, cap_s=64.0, jitter=0.25)
    ratios = []
    for seed in range(50):
        delays = list(itertools.islice(backoff.delays(random.Random(seed)), len(nominal)))
        ratios += [d / n for d, n in zip(delays, nominal, strict=True)]
        assert max(delays) <= 64.0, "never longer than the cap"
    assert all(0.75 <= r <= 1.25 for r in ratios)
    assert min(ratios) < 0.8 and max(ratios) > 1.2, "jitter spans the ±25 % band"


def test_without_jitter_the_delays_are_exact_powers_of_two() -> None:
    delays = Backoff(base_s=1.0, cap_s=64.0, jitter=0.0).delays()
    assert list(itertools.islice(delays, 9)) == [1, 2, 4, 8, 16, 32, 64, 64, 64]


def test_the_same_seed_gives_the_same_delays_and_a_new_generator_starts_over() -> None:
    backoff = Backoff()
    first = list(itertools.islice(backoff.delays(random.Random(7)), 8))
    assert first == list(itertools.islice(backoff.delays(random.Random(7)), 8))
    assert next(Backoff(jitter=0).delays()) == 1.0


def test_a_huge_attempt_number_stays_at_the_cap() -> None:
    assert Backoff(cap_s=30.0, jitter=0.0).delay_s(10_000, random.Random(1)) == 30.0


def test_a_cap_below_the_base_caps_every_delay() -> None:
    assert list(itertools.islice(Backoff(base_s=1.0, cap_s=0.5, jitter=0.0).delays(), 3)) == [0.5, 0.5, 0.5]


@pytest.mark.parametrize("kwargs", [{"base_s": -1.0}, {"cap_s": -1.0}, {"jitter": 1.5}])
def test_nonsense_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="bad backoff"):
        Backoff(**kwargs)
