"""Retry policy of the safe broker: attempts, exponential backoff with jitter, re-pricing.

Backoff before retry ``n`` (``n`` = 1 after the first attempt)::

    delay(n) = min(max_delay, initial_delay * multiplier ** (n - 1)) * (1 + jitter * u)

with ``u`` uniform in [0, 1) from an injected ``random.Random`` (seeded in tests), so retries of
many executors do not synchronise ("exponential backoff and jitter", AWS Architecture Blog,
2015). Seconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from tenacity import RetryCallState

from trademaestro.core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How calls are retried.

    Attributes:
        max_attempts: attempts per call, the first included (>= 1).
        initial_delay, multiplier, max_delay: backoff in seconds (see the module docstring).
        jitter: fraction added at random to each delay (0 = none).
        reprice: resend a market open at the current quote after a TRANSIENT answer
            (requote, price changed, price off...).
        shift_stops_on_reprice: move SL/TP by the same price difference, keeping the strategy's
            stop and target distances from the entry price.
        max_reprice_points: give up when the re-priced entry is more than this many points away
            from the intent's price (None = no limit).

    Raises:
        ConfigError: a value out of range (the message names the field).
    """

    max_attempts: int = 4
    initial_delay: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 10.0
    jitter: float = 0.25
    reprice: bool = True
    shift_stops_on_reprice: bool = True
    max_reprice_points: float | None = None

    def __post_init__(self) -> None:
        checks = [
            ("max_attempts", self.max_attempts >= 1, "an integer >= 1"),
            ("initial_delay", self.initial_delay >= 0, "seconds >= 0"),
            ("multiplier", self.multiplier >= 1, ">= 1"),
            ("max_delay", self.max_delay >= self.initial_delay, "seconds >= initial_delay"),
            ("jitter", 0 <= self.jitter <= 1, "a fraction in [0, 1]"),
            ("max_reprice_points", self.max_reprice_points is None
             or self.max_reprice_points >= 0, "None or points >= 0"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise ConfigError(
                    f"RetryPolicy.{name}: found {getattr(self, name)!r}; allowed: {allowed}"
                )

    def delay(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (1-based), jitter drawn from ``rng``."""
        base = min(self.max_delay, self.initial_delay * self.multiplier ** (retry - 1))
        return base * (1.0 + self.jitter * rng.random())


class JitteredBackoff:
    """A tenacity ``wait`` strategy over :meth:`RetryPolicy.delay` with an injected rng."""

    def __init__(self, policy: RetryPolicy, rng: random.Random) -> None:
        self.policy = policy
        self.rng = rng

    def __call__(self, retry_state: RetryCallState) -> float:
        """The delay after attempt ``retry_state.attempt_number``."""
        return self.policy.delay(retry_state.attempt_number, self.rng)

    def __repr__(self) -> str:
        return f"JitteredBackoff({self.policy!r})"


def describe(value: Any) -> str:
    """A short, log-safe text of a value (at most 200 characters)."""
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."
