"""The alerts of the REST guards' load: request-weight utilisation held above a level for a while, and retries as a
share of requests over a sliding window — each once per episode, on an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.sinks.alerts import RetryRate, RetryRateWatch, SustainedWatch, alert_for_retry_rate, alert_for_weight_utilisation


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_utilisation_above_80_pct_alerts_once_it_has_lasted_a_minute() -> None:
    clock = Clock()
    watch = SustainedWatch(above=0.8, for_s=60.0, clock=clock)
    fired = []
    for second in range(200):
        clock.now = 1000.0 + second
        value = 0.9 if 10 <= second < 60 or second >= 61 else 0.5  # above for 50 s, one sample below, then above
        if (held := watch.poll(value)) is not None:
            fired.append((second, held))

    assert fired == [(121, 60.0)], "the dip at 60 s started a new count; then one alert, not one per sample"


def test_a_new_episode_alerts_again_and_the_level_itself_is_not_above() -> None:
    clock = Clock()
    watch = SustainedWatch(above=0.8, for_s=60.0, clock=clock)
    assert watch.poll(0.9) is None
    clock.now += 60
    assert watch.poll(0.9) == 60.0
    clock.now += 600
    assert watch.poll(0.95) is None, "same episode"
    assert watch.poll(0.8) is None, "at the level: the episode ends"
    assert watch.poll(0.81) is None
    clock.now += 60
    assert watch.poll(0.81) == 60.0


def feed(watch: RetryRateWatch, clock: Clock, per_s: list[tuple[int, int]]) -> list[tuple[int, RetryRate]]:
    """Poll once a second with running totals growing by ``(requests, retries)`` per second; the alerts' seconds."""
    requests = retries = 0
    fired = []
    for second, (more_requests, more_retries) in enumerate(per_s):
        clock.now = 1000.0 + second
        requests, retries = requests + more_requests, retries + more_retries
        if (rate := watch.poll(requests, retries)) is not None:
            fired.append((second, rate))
    return fired


def test_a_retry_rate_above_20_pct_over_5_minutes_alerts_once() -> None:
    clock = Clock()
    watch = RetryRateWatch(above=0.2, window_s=300.0, min_requests=20, clock=clock)
    # 10 minutes at 1 request a second with 10 % retried, then 1 in 4 retried (25 %) for 10 minutes
    calm = [(1, 1 if s % 10 == 0 else 0) for s in range(600)]
    storm = [(1, 1 if s % 4 == 0 else 0) for s in range(600)]

    fired = feed(watch, clock, calm + storm)

    assert len(fired) == 1
    second, rate = fired[0]
    assert 600 + 150 < second < 600 + 300, "once the window holds enough of the storm to pass 20 %"
    assert rate.requests == 300 and rate.ratio > 0.2


def test_the_window_forgets_and_a_calm_spell_ends_the_episode() -> None:
    clock = Clock()
    watch = RetryRateWatch(above=0.2, window_s=300.0, min_requests=20, clock=clock)
    storm, calm = [(1, 1)] * 60, [(1, 0)] * 600  # every request retried for a minute, then none for 10 minutes

    fired = feed(watch, clock, storm + calm + storm * 2)

    first, second = fired
    assert first == (20, RetryRate(requests=20, retries=20)), "20 requests into the storm (the totals start at 1 and 1)"
    # the calm re-armed it; the window now holds 300 requests, so it takes 61 retries (> 20 %) of the second storm
    assert second == (720, RetryRate(requests=300, retries=61))


def test_too_few_requests_never_alert() -> None:
    clock = Clock()
    watch = RetryRateWatch(above=0.2, window_s=300.0, min_requests=20, clock=clock)
    one_a_minute = [(1, 1) if s % 60 == 0 else (0, 0) for s in range(900)]
    assert feed(watch, clock, one_a_minute) == [], "5 requests in a window, all retried: not enough to judge"


def test_the_guard_alerts_carry_their_figures() -> None:
    at = datetime(2024, 1, 2, tzinfo=UTC)
    weight = alert_for_weight_utilisation(91.25, above_pct=80.0, for_s=61.0, used=5475.0, limit=6000, time=at)
    assert (weight.kind, weight.severity, weight.title) == ("WeightUtilisationHigh", "warning", "Request weight 91 % used for 61 s")
    assert weight.fields == {"utilisation_pct": 91.25, "above_pct": 80.0, "for_s": 61.0, "used": 5475.0, "limit": 6000}
    assert "5475 of 6000 per minute" in weight.text

    retry = alert_for_retry_rate(25.0, above_pct=20.0, retries=75, requests=300, window_s=300.0, time=at)
    assert (retry.kind, retry.severity, retry.title) == ("RetryRateHigh", "warning", "REST retry rate 25 % over 5 min")
    assert retry.fields == {"rate_pct": 25.0, "above_pct": 20.0, "retries": 75, "requests": 300, "window_s": 300.0}
    assert retry.text.startswith("75 of 300 REST requests in the last 300 s were retried (25.0 %")
