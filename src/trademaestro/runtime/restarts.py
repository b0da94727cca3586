"""The supervisor's restart rules, without processes or clocks (the functional core of
:mod:`trademaestro.runtime.supervisor`), and the recovery-mode environment it hands to a
restarted executor.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from trademaestro.core.errors import ConfigError

RECOVERY_ENV = "TRADEMAESTRO_RECOVERY"
RESTART_COUNT_ENV = "TRADEMAESTRO_RESTART_COUNT"
EXIT_CRASH_LOOP = 4
"""The supervisor's exit code after it stopped restarting a crash-looping executor."""
FINAL_EXIT_CODES = frozenset({0, 2, 3, 130})
"""Exit codes the executor returns on purpose (README "Exit codes"); never restarted."""


@dataclass(frozen=True)
class Backoff:
    """Exponential restart delay: ``min(maximum, initial * factor ** (failures - 1))`` seconds
    before the restart that follows the ``failures``-th consecutive crash.

    Raises:
        ConfigError: ``initial`` <= 0, ``maximum`` < ``initial`` or ``factor`` < 1.
    """

    initial: float = 1.0
    maximum: float = 60.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if not self.initial > 0:
            raise ConfigError(f"supervisor backoff initial: found {self.initial}; allowed: > 0 s")
        if not self.maximum >= self.initial:
            raise ConfigError(
                f"supervisor backoff maximum: found {self.maximum}; allowed: >= initial "
                f"({self.initial} s)"
            )
        if not self.factor >= 1:
            raise ConfigError(f"supervisor backoff factor: found {self.factor}; allowed: >= 1")

    def delay(self, failures: int) -> float:
        """Seconds to wait before restarting after ``failures`` (>= 1) consecutive crashes."""
        exponent = max(failures, 1) - 1
        try:
            return min(self.maximum, self.initial * self.factor**exponent)
        except OverflowError:
            return self.maximum


@dataclass(frozen=True)
class CrashLoop:
    """A crash loop: ``restarts`` restarts already made within the last ``window`` seconds when
    the child crashes again.

    Raises:
        ConfigError: ``restarts`` < 1 or ``window`` <= 0.
    """

    restarts: int = 5
    window: float = 600.0

    def __post_init__(self) -> None:
        if self.restarts < 1:
            raise ConfigError(
                f"supervisor crash loop restarts: found {self.restarts}; allowed: >= 1"
            )
        if not self.window > 0:
            raise ConfigError(f"supervisor crash loop window: found {self.window}; allowed: > 0 s")


@dataclass(frozen=True)
class Decision:
    """What to do after a child exited: ``finish`` (exit with ``code``), ``restart`` after
    ``delay`` seconds, or ``crash_loop`` (stop, alert, exit :data:`EXIT_CRASH_LOOP`)."""

    action: Literal["finish", "restart", "crash_loop"]
    delay: float = 0.0
    code: int = 0


class RestartPolicy:
    """The supervisor's decisions, without processes or clocks (the functional core).

    Args:
        backoff: delay schedule for consecutive crashes.
        crash_loop: when to give up.
        stable_after: a child that ran at least this many seconds resets the consecutive-crash
            count, so its crash is restarted after ``backoff.initial`` again.
        final_codes: exit codes that end the supervisor instead of a restart.
    """

    def __init__(
        self,
        backoff: Backoff,
        crash_loop: CrashLoop,
        stable_after: float = 300.0,
        final_codes: Iterable[int] = FINAL_EXIT_CODES,
    ) -> None:
        self.backoff = backoff
        self.crash_loop = crash_loop
        self.stable_after = stable_after
        self.final_codes = frozenset(final_codes)
        self.failures = 0
        self._restarts: deque[float] = deque()

    def decide(self, returncode: int, ran_for: float, now: float) -> Decision:
        """The decision after a child exited with ``returncode`` (negative: killed by that
        signal) after running ``ran_for`` seconds; ``now`` is the clock in seconds. A
        ``restart`` decision is counted as a restart made at ``now``."""
        if returncode in self.final_codes:
            return Decision("finish", code=returncode)
        while self._restarts and now - self._restarts[0] > self.crash_loop.window:
            self._restarts.popleft()
        if len(self._restarts) >= self.crash_loop.restarts:
            return Decision("crash_loop", code=EXIT_CRASH_LOOP)
        self.failures = 1 if ran_for >= self.stable_after else self.failures + 1
        self._restarts.append(now)
        return Decision("restart", delay=self.backoff.delay(self.failures))


@dataclass(frozen=True)
class RecoveryInfo:
    """How the executor was started: ``recovery`` True after a supervisor restart;
    ``restart_count`` the number of restarts so far (0 for the first start)."""

    recovery: bool
    restart_count: int


def recovery_info(environ: Mapping[str, str] | None = None) -> RecoveryInfo:
    """Read :data:`RECOVERY_ENV` / :data:`RESTART_COUNT_ENV` (default ``os.environ``).

    Unset variables mean a normal start.

    Raises:
        ConfigError: a variable is set to something else than ``0``/``1`` or a count >= 0.
    """
    env = os.environ if environ is None else environ
    flag = env.get(RECOVERY_ENV, "0").strip()
    if flag not in ("0", "1"):
        raise ConfigError(f"environment {RECOVERY_ENV}: found {flag!r}; allowed: 0 or 1")
    count_text = env.get(RESTART_COUNT_ENV, "0").strip()
    if not count_text.isdigit():
        raise ConfigError(
            f"environment {RESTART_COUNT_ENV}: found {count_text!r}; allowed: an integer >= 0"
        )
    return RecoveryInfo(recovery=flag == "1", restart_count=int(count_text))


def exit_code_of(returncode: int) -> int:
    """A child's ``returncode`` as a process exit code: a death by signal N (``-N``) is 128 + N."""
    return 128 - returncode if returncode < 0 else returncode
