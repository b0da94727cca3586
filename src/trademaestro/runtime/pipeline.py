"""The paper/live pipeline over bars: feed → evaluate → act (gate, execute, manage).

Stages are asyncio tasks joined by never-dropping bounded queues
(:class:`~trademaestro.runtime.queues.PressureQueue`):

* **feed** — moves the market on (bar replay: the emulator's bars open), pacing at ``speed`` ×
  real time, and hands each group of bars that opened to *evaluate*. It waits until the group's
  decisions are all acted on before the bars play out (back-pressure: the feed never runs ahead
  of the decisions, which is also what keeps paper mode identical to the backtest).
* **evaluate** — for each closed bar, every instance on that symbol reads it back through the
  adapter (``copy_rates_from_pos(symbol, timeframe, 1, 1)``), appends it to its bar store and
  evaluates its rules; the signals go to *act*.
* **act** — the instance gates entries (risk state, entry blockers, filters), executes intents
  and manages positions through the broker. With a gateway broker the calls run in a worker
  thread (the gateway waits on its pipe with the GIL released), so the event loop stays
  responsive however long the broker takes.

Error policy: one bad bar or reply never stops the executor — the item is logged with its
context, counted, and the stage goes on. ``escalate_after`` consecutive failures of one stage
escalate: new entries are halted (CRITICAL log) until a success resets the count.
Each stage records its latency per item through ``on_latency(stage, seconds)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from trademaestro.core.chaos import checkpoint
from trademaestro.core.errors import DataError
from trademaestro.execution.intents import Side
from trademaestro.runtime.queues import PressureQueue
from trademaestro.runtime.replayer import Replayer
from trademaestro.runtime.session import Session, Slot
from trademaestro.runtime.watchdog import StageTask, Watchdog

log = logging.getLogger("trademaestro.pipeline")

ProgressFn = Callable[[int, int], None]
LatencyFn = Callable[[str, float], None]


@dataclass
class StageHealth:
    """Failure counters of one stage."""

    errors: int = 0
    consecutive: int = 0
    last_error: str = ""


@dataclass
class PipelineHealth:
    """What the pipeline reports to the monitor: per-stage failures and the escalation."""

    stages: dict[str, StageHealth] = field(
        default_factory=lambda: {s: StageHealth() for s in ("evaluate", "act")}
    )
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


class BarPipeline:
    """The staged runtime over a session's bar timeline (see the module docstring)."""

    def __init__(
        self,
        session: Session,
        replayer: Replayer,
        *,
        threaded: bool = False,
        on_latency: LatencyFn | None = None,
        escalate_after: int = 5,
        queue_size: int = 64,
        watchdog: Watchdog | None = None,
    ) -> None:
        self.session = session
        self.watchdog = watchdog
        self.replayer = replayer
        self.threaded = threaded
        self.on_latency = on_latency
        self.escalate_after = escalate_after
        self.bars: PressureQueue[int] = PressureQueue(1)
        self.acts: PressureQueue[tuple[Slot, int, dict[Side, bool], bool]] = PressureQueue(
            queue_size
        )
        self.health = PipelineHealth()
        for slot in session.slots:
            slot.instance.entry_blockers.append(self.health.entry_blocker)

    def queues(self) -> dict[str, dict[str, int]]:
        """Queue depths and counters for the monitor."""
        return {"bars": self.bars.stats(), "acts": self.acts.stats()}

    async def run(
        self,
        speed: float,
        stop: asyncio.Event,
        progress: ProgressFn | None = None,
        start: int = 0,
    ) -> bool:
        """Replay every group of bars from ``start`` (recovery); True when the data ran out,
        False when stopped."""
        stages = [StageTask("evaluate", self._evaluate), StageTask("act", self._act)]
        for stage in stages:
            stage.start()
            if self.watchdog is not None:
                self.watchdog.register(stage.name, stage.restart)
        try:
            return await self._feed(speed, stop, progress, stages, start)
        finally:
            for stage in stages:
                if stage.task is not None:
                    stage.task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await stage.task

    async def _feed(
        self,
        speed: float,
        stop: asyncio.Event,
        progress: ProgressFn | None,
        stages: list[StageTask],
        start: int,
    ) -> bool:
        replayer = self.replayer
        times = replayer.times
        n = len(times)
        started = _time.monotonic()
        for g in range(start, n):
            if not await pace(started, times[start], times[g], speed, stop):
                return False
            replayer.open_group(g)
            await self.bars.put(g)
            await _join(self.bars, stages)
            await _join(self.acts, stages)
            replayer.close_group(g)
            if progress is not None and (g % 500 == 0 or g == n - 1):
                progress(g + 1, n)
            if speed == 0 and g % 256 == 0:
                await asyncio.sleep(0)
        return True

    async def _evaluate(self) -> None:
        while True:
            g = await self.bars.get()
            started = _time.perf_counter()
            self._busy("evaluate", True)
            try:
                for slot, i in self.replayer.due(g):
                    try:
                        entry, exit_rule = self._signals(slot, i)
                    except Exception as exc:
                        self._failed("evaluate", slot, i, exc)
                        continue
                    self._succeeded("evaluate")
                    await self.acts.put((slot, i, entry, exit_rule))
            finally:
                self.bars.task_done()
                self._latency("evaluate", started)
                self._busy("evaluate", False)

    def _signals(self, slot: Slot, i: int) -> tuple[dict[Side, bool], bool]:
        instance = slot.instance
        store = instance.store
        tf = slot.strategy.spec.timeframe
        bar = self.session.adapter.closed_bars(slot.symbol, tf, 1)
        expected = int(slot.feed.rates["time"][i])
        if len(bar) != 1 or int(bar["time"][0]) != expected:
            raise DataError(
                str(slot.feed.path),
                None,
                f"the broker's last closed {slot.symbol} bar is not bar {i} "
                f"(expected time {expected})",
            )
        if len(store) == i:
            store.extend(bar)
        if len(store) != i + 1:
            raise DataError(str(slot.feed.path), None, f"bar {i} fed out of order")
        signals = instance.signals
        assert signals is not None
        return signals.entry_at(i), signals.exit_at(i)

    async def _act(self) -> None:
        while True:
            slot, i, entry, exit_rule = await self.acts.get()
            started = _time.perf_counter()
            self._busy("act", True)
            try:
                if self.threaded:
                    await asyncio.to_thread(slot.instance.act, i, entry, exit_rule)
                else:
                    slot.instance.act(i, entry, exit_rule)
                self._succeeded("act")
                checkpoint("bar")
            except Exception as exc:
                self._failed("act", slot, i, exc)
            finally:
                self.acts.task_done()
                self._latency("act", started)
                self._busy("act", False)

    def _busy(self, stage: str, busy: bool) -> None:
        """Tell the watchdog a stage took work (busy) or finished it (progress)."""
        if self.watchdog is not None:
            if not busy:
                self.watchdog.beat(stage)
            self.watchdog.set_busy(stage, busy)

    def _latency(self, stage: str, started: float) -> None:
        if self.on_latency is not None:
            self.on_latency(stage, _time.perf_counter() - started)

    def _failed(self, stage: str, slot: Slot, i: int, exc: Exception) -> None:
        health = self.health.stages[stage]
        health.errors += 1
        health.consecutive += 1
        health.last_error = f"{type(exc).__name__}: {exc}"
        log.error(
            "%s stage failed on %s bar %d (%s): %s; carrying on",
            stage,
            slot.instance.key,
            i,
            slot.symbol,
            health.last_error,
            exc_info=exc,
        )
        if health.consecutive >= self.escalate_after and self.health.escalated is None:
            self.health.escalated = (
                f"{stage} stage failed {health.consecutive} times in a row "
                f"(last: {health.last_error}): new entries halted"
            )
            log.critical("%s", self.health.escalated)

    def _succeeded(self, stage: str) -> None:
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


class _Joinable(Protocol):
    async def join(self) -> None: ...


async def _join(queue: _Joinable, stages: list[StageTask]) -> None:
    """Wait until ``queue`` is drained; surface a stage's death instead of waiting forever (a
    stage the watchdog restarted is waited on anew)."""
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
