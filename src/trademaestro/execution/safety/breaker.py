"""A connection circuit breaker: CLOSED → OPEN → HALF_OPEN → CLOSED.

A small state machine of our own rather than ``pybreaker``: pybreaker wraps a callable and counts
its exceptions against the wall clock, while our failures are classified answers (not exceptions)
and tests need an injected clock to reach HALF_OPEN without sleeping.

- CLOSED: normal. ``failure_threshold`` consecutive connection-class failures open it.
- OPEN: the connection is unstable. New entries are halted (:meth:`CircuitBreaker.entries_allowed`
  is False), the alert callback is called once on the CLOSED → OPEN transition, and, when the
  configuration asks for it, an emergency exit is requested
  (:meth:`CircuitBreaker.emergency_exit_requested`; the executor acts on it). Answers during
  OPEN do not close it: only the reset timeout does.
- HALF_OPEN: ``reset_timeout`` seconds (injected monotonic clock) after it opened. Entries stay
  halted; the next success closes it, the next failure opens it again (logged, no new alert).

Every transition is logged: CRITICAL on opening, WARNING on half-open and on closing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from trademaestro.core.errors import ConfigError

log = logging.getLogger("trademaestro.safety.breaker")


class BreakerState(StrEnum):
    """The breaker's state."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """Breaker thresholds.

    Attributes:
        failure_threshold: consecutive connection-class failures that open the breaker (>= 1).
        reset_timeout: seconds (monotonic clock) from opening to HALF_OPEN (> 0).
        emergency_exit: when OPEN, ask the executor to close our positions.

    Raises:
        ConfigError: a value out of range (the message names the field).
    """

    failure_threshold: int = 5
    reset_timeout: float = 60.0
    emergency_exit: bool = False

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ConfigError(
                f"BreakerConfig.failure_threshold: found {self.failure_threshold}; allowed: >= 1"
            )
        if not self.reset_timeout > 0:
            raise ConfigError(
                f"BreakerConfig.reset_timeout: found {self.reset_timeout}; allowed: seconds > 0"
            )


@dataclass(frozen=True, slots=True)
class BreakerAlert:
    """What the alert callback receives when the breaker opens.

    Attributes:
        failures: consecutive failures counted when it opened.
        reason: the last failure, in words (operation, class, code).
        opened_at: monotonic clock seconds.
        emergency_exit: whether the executor is asked to close positions.
    """

    failures: int
    reason: str
    opened_at: float
    emergency_exit: bool


AlertCallback = Callable[[BreakerAlert], None]


class CircuitBreaker:
    """The connection breaker (see the module docstring).

    Args:
        config: thresholds.
        alert: called once per CLOSED → OPEN transition; an exception it raises is logged and
            swallowed (an alert channel failing must not stop trading decisions).
        clock: monotonic seconds (default :func:`time.monotonic`).
    """

    def __init__(
        self,
        config: BreakerConfig | None = None,
        *,
        alert: AlertCallback | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config if config is not None else BreakerConfig()
        self._alert = alert
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self.opened_count = 0

    @property
    def state(self) -> BreakerState:
        """The current state (OPEN turns HALF_OPEN once the reset timeout has elapsed)."""
        if (
            self._state is BreakerState.OPEN
            and self._clock() - self._opened_at >= self.config.reset_timeout
        ):
            self._state = BreakerState.HALF_OPEN
            log.warning(
                "circuit breaker HALF_OPEN after %.1f s: the next answer decides",
                self.config.reset_timeout,
            )
        return self._state

    @property
    def failures(self) -> int:
        """Consecutive connection-class failures counted so far."""
        return self._failures

    def entries_allowed(self) -> bool:
        """True only when CLOSED: new entries are halted while OPEN or HALF_OPEN."""
        return self.state is BreakerState.CLOSED

    def emergency_exit_requested(self) -> bool:
        """True while OPEN (or HALF_OPEN) when the configuration asks for an emergency exit."""
        return self.config.emergency_exit and self.state is not BreakerState.CLOSED

    def record_success(self) -> None:
        """An answer proving the connection works: resets the count; closes a HALF_OPEN breaker."""
        state = self.state
        if state is BreakerState.OPEN:
            return
        self._failures = 0
        if state is BreakerState.HALF_OPEN:
            self._state = BreakerState.CLOSED
            log.warning("circuit breaker CLOSED: the connection answers again; entries resume")

    def record_failure(self, reason: str) -> None:
        """A connection-class failure (``reason`` in words, for the log and the alert)."""
        state = self.state
        self._failures += 1
        if state is BreakerState.HALF_OPEN:
            self._open(reason, alert=False)
        elif state is BreakerState.CLOSED and self._failures >= self.config.failure_threshold:
            self._open(reason, alert=True)

    def _open(self, reason: str, *, alert: bool) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self.opened_count += 1
        log.critical(
            "circuit breaker OPEN after %d consecutive connection failures (last: %s): new "
            "entries halted%s",
            self._failures,
            reason,
            "; emergency exit requested" if self.config.emergency_exit else "",
        )
        if alert and self._alert is not None:
            event = BreakerAlert(
                self._failures, reason, self._opened_at, self.config.emergency_exit
            )
            try:
                self._alert(event)
            except Exception:
                log.exception("circuit breaker alert callback failed")
