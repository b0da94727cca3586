"""What every staged runtime shares: the error policy, stage health, latency and watchdog hooks,
real-time pacing, and waiting on a queue without hanging on a dead stage.

Error policy: one bad bar or reply never stops the executor — the item is logged with its
context, counted, and the stage goes on. ``escalate_after`` consecutive failures of one stage
escalate: new entries are halted (CRITICAL log) until a success resets the count.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time as _time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from trademaestro.runtime.watchdog import StageTask, Watchdog

log = logging.getLogger("trademaestro.pipeline")

LatencyFn = Callable[[str, float], None]
"""``on_latency(stage, seconds)``: one item's processing time in a stage."""


@dataclass
class StageHealth:
    """Failure counters of one stage."""

    errors: int = 0
    consecutive: int = 0
    last_error: str = ""


@dataclass
class PipelineHealth:
    """What a pipeline reports to the monitor: per-stage failures and the escalation."""

    stages: dict[str, StageHealth] = field(default_factory=dict)
    escalated: str | None = None

    def entry_blocker(self) -> str | None:
        """Entry blocker for the instances: the escalation reason, while escalated."""
        return self.escalated

    def report(self) -> dict[str, object]:
        """Counters for the monitor."""
        return {
            "escalated": self.escalated,
            **{f"{name}_errors": h.errors for name, h in self.stages.items()},
        }


class StagePolicy:
    """The error policy, latency recording and watchdog beats of a set of named stages."""

    def __init__(
        self,
        stages: Iterable[str],
        *,
        on_latency: LatencyFn | None = None,
        escalate_after: int = 5,
        watchdog: Watchdog | None = None,
    ) -> None:
        self.health = PipelineHealth({name: StageHealth() for name in stages})
        self.on_latency = on_latency
        self.escalate_after = escalate_after
        self.watchdog = watchdog

    def busy(self, stage: str, busy: bool) -> None:
        """Tell the watchdog a stage took work (busy) or finished it (progress)."""
        if self.watchdog is not None:
            if not busy:
                self.watchdog.beat(stage)
            self.watchdog.set_busy(stage, busy)

    def latency(self, stage: str, started: float) -> None:
        """Record the time since ``started`` (``perf_counter`` seconds) for ``stage``."""
        if self.on_latency is not None:
            self.on_latency(stage, _time.perf_counter() - started)

    def failed(self, stage: str, where: str, exc: Exception) -> None:
        """One item failed in ``stage`` (``where``: what it was, for the log); escalate after
        ``escalate_after`` failures in a row."""
        health = self.health.stages[stage]
        health.errors += 1
        health.consecutive += 1
        health.last_error = f"{type(exc).__name__}: {exc}"
        log.error(
            "%s stage failed on %s: %s; carrying on",
            stage,
            where,
            health.last_error,
            exc_info=exc,
        )
        if health.consecutive >= self.escalate_after and self.health.escalated is None:
            self.health.escalated = (
                f"{stage} stage failed {health.consecutive} times in a row "
                f"(last: {health.last_error}): new entries halted"
            )
            log.critical("%s", self.health.escalated)

    def succeeded(self, stage: str) -> None:
        """One item went through ``stage``: the failure streak ends (and the escalation, once
        every stage is clean)."""
        health = self.health.stages[stage]
        health.consecutive = 0
        if self.health.escalated is not None and all(
            h.consecutive == 0 for h in self.health.stages.values()
        ):
            log.warning("pipeline recovered: new entries allowed again")
            self.health.escalated = None


async def pace(started: float, t0: int, t: int, speed: float, stop: asyncio.Event) -> bool:
    """Wait until server time ``t`` is due at ``speed`` × real time since ``started`` (monotonic
    seconds, when server time ``t0`` was replayed); False when a stop was asked for."""
    if stop.is_set():
        return False
    if speed > 0:
        delay = started + (t - t0) / speed - _time.monotonic()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            return not stop.is_set()
    return True


class Joinable(Protocol):
    """A queue one can wait to be drained."""

    async def join(self) -> None: ...


async def join_queue(queue: Joinable, stages: list[StageTask]) -> None:
    """Wait until ``queue`` is drained; surface a stage's death instead of waiting forever (a
    stage the watchdog restarted is waited on anew).

    Raises:
        RuntimeError: a stage ended (its own exception, when it raised one, propagates).
    """
    joiner = asyncio.ensure_future(queue.join())
    while True:
        workers = {stage.task for stage in stages if stage.task is not None}
        done, _ = await asyncio.wait({joiner, *workers}, return_when=asyncio.FIRST_COMPLETED)
        if joiner in done:
            return
        for task in done:
            if task.cancelled() and any(stage.task is not task for stage in stages):
                continue  # replaced by the watchdog: wait on the new task
            joiner.cancel()
            if not task.cancelled():
                task.result()
            raise RuntimeError("a pipeline stage ended unexpectedly")


async def start_stages(stages: list[StageTask], watchdog: Watchdog | None) -> None:
    """Start the stage tasks and register them with the watchdog."""
    for stage in stages:
        stage.start()
        if watchdog is not None:
            watchdog.register(stage.name, stage.restart)


async def stop_stages(stages: list[StageTask]) -> None:
    """Cancel the stage tasks and wait for them."""
    for stage in stages:
        if stage.task is not None:
            stage.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stage.task


def stop_on_signals(stop: asyncio.Event) -> Callable[[], None]:
    """SIGINT and SIGTERM set ``stop`` (where the running loop supports signal handlers: not
    off the main thread, not on Windows); returns the function that removes the handlers."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)

    def undo() -> None:
        for signum in installed:
            loop.remove_signal_handler(signum)

    return undo
