"""Per-host API failure breaker (SPEC §3.4). One :class:`ApiBreaker` guards one host.

States and transitions (all made by :meth:`ApiBreaker._transition`, which logs them)::

    CLOSED    --failure_threshold consecutive failures-->          OPEN
    OPEN      --reset_timeout_s passed (seen by state/before_call)-->  HALF_OPEN
    HALF_OPEN --the one trial call succeeds-->                      CLOSED
    HALF_OPEN --the trial call fails-->                             OPEN (timer restarts)

In HALF_OPEN exactly one trial call is let through; the others are rejected until it reports. A trial that never
reports (its task was cancelled) stops blocking after another ``reset_timeout_s``, when a new trial is allowed.

What counts as a failure is the caller's decision: the REST client records the retryable failures (429, 5xx,
timeouts, connection errors) with :meth:`ApiBreaker.record_failure` and any other answer from the host (2xx and
client errors such as 400) with :meth:`ApiBreaker.record_success`, since the host did answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from engine.errors import ApiBreakerOpen

log = logging.getLogger(__name__)


class ApiBreakerState(StrEnum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


@dataclass(frozen=True)
class ApiBreakerStatus:
    """A snapshot of an :class:`ApiBreaker`.

    Attributes:
        host: the guarded host.
        state: the current state.
        consecutive_failures: failures since the last success (reset on success).
        failure_threshold: consecutive failures that open the breaker.
        retry_after_s: seconds until OPEN turns HALF_OPEN (0 in the other states).
        trial_in_flight: HALF_OPEN with its trial call not yet reported.
        opens: how many times the breaker opened.
    """

    host: str
    state: ApiBreakerState
    consecutive_failures: int
    failure_threshold: int
    retry_after_s: float
    trial_in_flight: bool
    opens: int


class ApiBreaker:
    """Failure breaker for one host (transitions in the module docstring).

    Args:
        host: the host name, for messages and status.
        failure_threshold: consecutive failures that open the breaker.
        reset_timeout_s: seconds OPEN lasts before a trial call is allowed.
        clock: monotonic clock, seconds.

    Raises:
        ValueError: a non-positive ``failure_threshold`` or a negative ``reset_timeout_s``.
    """

    def __init__(
        self,
        *,
        host: str = "",
        failure_threshold: int = 5,
        reset_timeout_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold <= 0 or reset_timeout_s < 0:
            raise ValueError(
                f"bad breaker settings: failure_threshold={failure_threshold}, reset_timeout_s={reset_timeout_s}"
            )
        self.host = host
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self._clock = clock
        self._state = ApiBreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_started_at: float | None = None
        self._opens = 0

    @property
    def state(self) -> ApiBreakerState:
        """The current state; OPEN turns HALF_OPEN here once ``reset_timeout_s`` has passed."""
        if self._state is ApiBreakerState.OPEN and self._clock() - self._opened_at >= self.reset_timeout_s:
            self._transition(ApiBreakerState.HALF_OPEN, f"{self.reset_timeout_s:.0f} s passed")
        return self._state

    def before_call(self, endpoint: str = "") -> None:
        """Let a call through or reject it; in HALF_OPEN the first caller becomes the trial call.

        Raises:
            ApiBreakerOpen: OPEN, or HALF_OPEN with the trial call still out.
        """
        state = self.state
        if state is ApiBreakerState.CLOSED:
            return
        now = self._clock()
        if state is ApiBreakerState.HALF_OPEN:
            if self._trial_started_at is None or now - self._trial_started_at >= self.reset_timeout_s:
                self._trial_started_at = now
                return
            retry_after_s = 0.0
        else:
            retry_after_s = self.reset_timeout_s - (now - self._opened_at)
        raise ApiBreakerOpen(
            f"API breaker for {self.host} is {state} after {self._failures} consecutive failures",
            endpoint=endpoint,
            host=self.host,
            retry_after_s=retry_after_s,
        )

    def record_success(self) -> None:
        """The host answered: reset the failure count; a HALF_OPEN breaker closes."""
        self._failures = 0
        if self._state is ApiBreakerState.HALF_OPEN:
            self._transition(ApiBreakerState.CLOSED, "trial call succeeded")

    def record_failure(self) -> None:
        """A failure the breaker counts; opens it at ``failure_threshold`` (or at once from HALF_OPEN)."""
        self._failures += 1
        if self._state is ApiBreakerState.HALF_OPEN:
            self._transition(ApiBreakerState.OPEN, "trial call failed")
        elif self._state is ApiBreakerState.CLOSED and self._failures >= self.failure_threshold:
            self._transition(ApiBreakerState.OPEN, f"{self._failures} consecutive failures")

    def status(self) -> ApiBreakerStatus:
        state = self.state
        retry_after_s = (
            max(0.0, self.reset_timeout_s - (self._clock() - self._opened_at)) if state is ApiBreakerState.OPEN else 0.0
        )
        return ApiBreakerStatus(
            host=self.host,
            state=state,
            consecutive_failures=self._failures,
            failure_threshold=self.failure_threshold,
            retry_after_s=retry_after_s,
            trial_in_flight=state is ApiBreakerState.HALF_OPEN and self._trial_started_at is not None,
            opens=self._opens,
        )

    def _transition(self, new: ApiBreakerState, reason: str) -> None:
        log.warning("API breaker for %s: %s -> %s (%s)", self.host, self._state, new, reason)
        self._state = new
        self._trial_started_at = None
        if new is ApiBreakerState.OPEN:
            self._opened_at = self._clock()
            self._opens += 1
