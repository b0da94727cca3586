"""The paper pipeline over bars: feed → evaluate → manage → gate → execute.

Stages are asyncio tasks joined by never-dropping bounded queues
(:class:`~trademaestro.runtime.queues.PressureQueue`):

* **feed** — moves the market on (bar replay: the emulator's bars open), pacing at ``speed`` ×
  real time, and hands each group of bars that opened to *evaluate*. It waits until the group's
  units are all finished before the bars play out (back-pressure: the feed never runs ahead
  of the decisions, which is also what keeps paper mode identical to the backtest).
* **evaluate** — for each closed bar, every instance on that symbol reads it back through the
  adapter (``copy_rates_from_pos(symbol, timeframe, 1, 1)``), appends it to its bar store and
  evaluates its rules; the signals go to *manage*.
* **manage**, **gate**, **execute** — the bar's phases, one unit in flight per account
  (:mod:`trademaestro.runtime.actstages`). With a gateway broker the phases run in worker
  threads (the gateway waits on its pipe with the GIL released), so the event loop stays
  responsive however long the broker takes.

The error policy (one bad bar or reply never stops the executor; repeated failures halt new
entries) and the latency and watchdog hooks are :class:`~trademaestro.runtime.stages.StagePolicy`.
"""

from __future__ import annotations

import asyncio
import logging
import time as _time
from collections.abc import Callable

from trademaestro.core.errors import DataError
from trademaestro.execution.intents import Side
from trademaestro.runtime.actstages import STAGES, ActStages, BarSignals
from trademaestro.runtime.queues import PressureQueue
from trademaestro.runtime.replayer import Replayer
from trademaestro.runtime.session import Session, Slot
from trademaestro.runtime.stages import (
    LatencyFn,
    StagePolicy,
    join_queue,
    pace,
    start_stages,
    stop_stages,
)
from trademaestro.runtime.watchdog import StageTask, Watchdog

log = logging.getLogger("trademaestro.pipeline")

ProgressFn = Callable[[int, int], None]


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
        self.policy = StagePolicy(
            ("evaluate", *STAGES),
            on_latency=on_latency,
            escalate_after=escalate_after,
            watchdog=watchdog,
        )
        self.health = self.policy.health
        self.bars: PressureQueue[int] = PressureQueue(1)
        self.acts = ActStages(self.policy, threaded=threaded, queue_size=queue_size)
        for slot in session.slots:
            slot.instance.entry_blockers.append(self.health.entry_blocker)

    def queues(self) -> dict[str, dict[str, int]]:
        """Queue depths and counters for the monitor."""
        return {"bars": self.bars.stats(), **self.acts.queues()}

    async def run(
        self,
        speed: float,
        stop: asyncio.Event,
        progress: ProgressFn | None = None,
        start: int = 0,
    ) -> bool:
        """Replay every group of bars from ``start`` (recovery); True when the data ran out,
        False when stopped."""
        stages = [StageTask("evaluate", self._evaluate), *self.acts.tasks()]
        await start_stages(stages, self.watchdog)
        try:
            return await self._feed(speed, stop, progress, stages, start)
        finally:
            await stop_stages(stages)

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
            await join_queue(self.bars, stages)
            await self.acts.drain(stages)
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
                    await self.acts.put(BarSignals(slot, i, entry, exit_rule))
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

    def _busy(self, stage: str, busy: bool) -> None:
        self.policy.busy(stage, busy)

    def _latency(self, stage: str, started: float) -> None:
        self.policy.latency(stage, started)

    def _failed(self, stage: str, slot: Slot, i: int, exc: Exception) -> None:
        self.policy.failed(stage, f"{slot.instance.key} bar {i} ({slot.symbol})", exc)

    def _succeeded(self, stage: str) -> None:
        self.policy.succeeded(stage)
