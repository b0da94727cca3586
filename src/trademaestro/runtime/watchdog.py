"""The watchdog: restarts a pipeline stage that had work but made no progress for its deadline.

Issue 4 item 9, seed 000 ("Watchdog Timer: restart worker jika tidak merespon dalam X detik").

Each stage (``feed``, ``evaluate``, ``execute``, ...) has a deadline in seconds. The stage calls

* :meth:`Watchdog.beat` whenever it makes progress (an item done, a loop turn), and
* :meth:`Watchdog.set_busy` when it has work or runs out of it (or wraps the work in
  :meth:`Watchdog.working`).

A stage is **stalled** when it is busy and its last progress is at least ``deadline`` seconds old.
Progress is the newest of: the last beat, the moment it became busy, the last restart. So an idle
stage never stalls, and a stage that just received work has a full deadline to start on it.

:meth:`Watchdog.run` checks every ``check_interval`` seconds. A stalled stage is logged at ERROR
(``stage_stalled {"stage": ..., "stalled_for_s": ..., ...}`` on logger
``trademaestro.watchdog``), its registered ``restart`` callback is called once (a coroutine
result is awaited, at most ``restart_timeout`` seconds) and the restart counted; its deadline
starts again from the restart. If the restarted stage is still stuck a full deadline later, that
is a new stall and a new restart. After ``escalate_after`` restarts in a row without a beat the
watchdog logs CRITICAL and calls ``alert`` once (seed 000 error policy: repeated failures
escalate). A restart callback that raises is logged and counted; the watchdog goes on.

:class:`StageTask` is the usual ``restart``: it owns one stage's asyncio task and recreates it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from trademaestro.core.errors import ConfigError
from trademaestro.runtime.background import BackgroundTask, log_event

log = logging.getLogger("trademaestro.watchdog")

RestartFn = Callable[[], object]
"""A stage's restart callback; it may return an awaitable, which is awaited."""
Clock = Callable[[], float]
AsyncSleep = Callable[[float], Awaitable[None]]


def _event(level: int, event: str, **fields: Any) -> None:
    log_event(log, level, event, **fields)


@dataclass
class StageState:
    """The watchdog's view of one stage (times in the watchdog's clock seconds)."""

    deadline: float
    last_progress: float
    busy: bool = False
    restart: RestartFn | None = None
    restarts: int = 0
    stalls: int = 0
    consecutive: int = 0
    restart_failures: int = 0
    escalated: bool = False


class Watchdog(BackgroundTask):
    """Stall detection and restart of pipeline stages (module docstring).

    Args:
        deadlines: seconds without progress, while busy, after which each stage is stalled.
        check_interval: seconds between checks (default: a quarter of the shortest deadline).
        clock: monotonic seconds (default ``time.monotonic``).
        sleep: the coroutine that waits between checks (default ``asyncio.sleep``).
        alert: called with a message when a stage keeps stalling (default: CRITICAL log only).
        escalate_after: consecutive restarts without progress that trigger the alert.
        restart_timeout: real seconds a restart coroutine may take.

    Raises:
        ConfigError: no stages, a non-positive deadline or check interval, escalate_after < 1.
    """

    task_name = "watchdog"

    def __init__(
        self,
        deadlines: Mapping[str, float],
        *,
        check_interval: float | None = None,
        clock: Clock = time.monotonic,
        sleep: AsyncSleep = asyncio.sleep,
        alert: Callable[[str], None] | None = None,
        escalate_after: int = 3,
        restart_timeout: float = 10.0,
    ) -> None:
        if not deadlines:
            raise ConfigError("watchdog deadlines: found none; allowed: {stage: seconds > 0}")
        for stage, deadline in deadlines.items():
            if not deadline > 0:
                raise ConfigError(
                    f"watchdog deadline of stage {stage!r}: found {deadline}; allowed: > 0 s"
                )
        interval = min(deadlines.values()) / 4 if check_interval is None else check_interval
        if not interval > 0:
            raise ConfigError(f"watchdog check interval: found {interval}; allowed: > 0 s")
        if escalate_after < 1:
            raise ConfigError(f"watchdog escalate_after: found {escalate_after}; allowed: >= 1")
        self.check_interval = interval
        self._clock = clock
        self._sleep = sleep
        self._alert = alert
        self._escalate_after = escalate_after
        self._restart_timeout = restart_timeout
        now = clock()
        self._stages = {
            stage: StageState(deadline=float(deadline), last_progress=now)
            for stage, deadline in deadlines.items()
        }
        self._task: asyncio.Task[None] | None = None

    def _state(self, stage: str) -> StageState:
        try:
            return self._stages[stage]
        except KeyError:
            known = ", ".join(sorted(self._stages))
            raise ConfigError(f"watchdog stage: found {stage!r}; allowed: one of {known}") from None

    def register(self, stage: str, restart: RestartFn) -> None:
        """Set the callback that restarts ``stage`` (e.g. :meth:`StageTask.restart`).

        Raises:
            ConfigError: ``stage`` has no deadline.
        """
        self._state(stage).restart = restart

    def beat(self, stage: str) -> None:
        """``stage`` made progress now."""
        state = self._state(stage)
        state.last_progress = self._clock()
        state.consecutive = 0
        state.escalated = False

    def set_busy(self, stage: str, busy: bool) -> None:
        """``stage`` has work (True) or has none (False). Becoming busy starts its deadline."""
        state = self._state(stage)
        if busy and not state.busy:
            state.last_progress = max(state.last_progress, self._clock())
        state.busy = busy

    @contextlib.contextmanager
    def working(self, stage: str) -> Iterator[None]:
        """Busy for the ``with`` block; a beat when it ends, idle afterwards."""
        self.set_busy(stage, True)
        try:
            yield
        finally:
            self.beat(stage)
            self.set_busy(stage, False)

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per stage: busy, seconds since progress, stalls, restarts, failed restarts (a monitor
        source)."""
        now = self._clock()
        return {
            stage: {
                "busy": s.busy,
                "idle_for_s": round(now - s.last_progress, 3),
                "stalls": s.stalls,
                "restarts": s.restarts,
                "restart_failures": s.restart_failures,
            }
            for stage, s in self._stages.items()
        }

    @property
    def restarts(self) -> dict[str, int]:
        """Restarts made per stage."""
        return {stage: s.restarts for stage, s in self._stages.items()}

    def stalled(self) -> list[tuple[str, float]]:
        """The stalled stages now, with how long each has made no progress (seconds)."""
        now = self._clock()
        return [
            (stage, now - s.last_progress)
            for stage, s in self._stages.items()
            if s.busy and now - s.last_progress >= s.deadline
        ]

    async def check(self) -> list[str]:
        """One pass: log and restart every stalled stage. Returns the stalled stages."""
        found = self.stalled()
        for stage, stalled_for in found:
            await self._handle(stage, stalled_for)
        return [stage for stage, _ in found]

    async def _handle(self, stage: str, stalled_for: float) -> None:
        state = self._stages[stage]
        state.stalls += 1
        state.last_progress = self._clock()  # a fresh deadline, so one restart per stall
        _event(
            logging.ERROR,
            "stage_stalled",
            stage=stage,
            stalled_for_s=round(stalled_for, 3),
            deadline_s=state.deadline,
            restart=state.restart is not None,
            restarts=state.restarts,
        )
        if state.restart is None:
            return
        try:
            result = state.restart()
            if inspect.isawaitable(result):
                await asyncio.wait_for(_awaited(result), self._restart_timeout)
        except Exception as exc:
            state.restart_failures += 1
            log.exception("watchdog: restart of stage %r failed: %s", stage, exc)
            return
        state.restarts += 1
        state.consecutive += 1
        _event(logging.WARNING, "stage_restarted", stage=stage, restarts=state.restarts)
        if state.consecutive >= self._escalate_after and not state.escalated:
            state.escalated = True
            message = (
                f"stage {stage!r} restarted {state.consecutive} times in a row without "
                f"progress (deadline {state.deadline:g} s)"
            )
            _event(logging.CRITICAL, "stage_keeps_stalling", stage=stage, restarts=state.restarts)
            if self._alert is not None:
                try:
                    self._alert(message)
                except Exception:
                    log.exception("watchdog alert failed")

    async def run(self) -> None:
        """Check every ``check_interval`` seconds until cancelled."""
        while True:
            await self._sleep(self.check_interval)
            try:
                await self.check()
            except Exception:  # never let the watchdog die of a bug in a stage's bookkeeping
                log.exception("watchdog check failed")


async def _awaited(value: Awaitable[Any]) -> Any:
    return await value


class StageTask:
    """One stage's asyncio task, recreated by :meth:`restart` (the usual watchdog callback).

    Args:
        name: the task name.
        factory: builds the stage's coroutine (called at every start).
        cancel_timeout: real seconds to wait for a cancelled task to finish.
    """

    def __init__(
        self,
        name: str,
        factory: Callable[[], Coroutine[Any, Any, Any]],
        *,
        cancel_timeout: float = 5.0,
    ) -> None:
        self.name = name
        self._factory = factory
        self._cancel_timeout = cancel_timeout
        self.task: asyncio.Task[Any] | None = None
        self.starts = 0

    def start(self) -> asyncio.Task[Any]:
        """Create the task on the running loop (a running task is returned as is)."""
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._factory(), name=self.name)
            self.starts += 1
        return self.task

    async def _cancel(self) -> None:
        task, self.task = self.task, None
        if task is None or task.done():
            return
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=self._cancel_timeout)
        if not done:
            _event(logging.ERROR, "stage_cancel_timeout", stage=self.name)
        elif not task.cancelled() and task.exception() is not None:
            log.warning("stage %r ended with %r while cancelled", self.name, task.exception())

    async def restart(self) -> None:
        """Cancel the current task (waiting at most ``cancel_timeout``) and start a new one."""
        await self._cancel()
        self.start()

    async def stop(self) -> None:
        """Cancel the task and wait for it (at most ``cancel_timeout``)."""
        await self._cancel()
