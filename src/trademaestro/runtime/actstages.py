"""The act stages of the paper and live pipelines: manage → execute → gate → execute.

Each closed bar's signals for one strategy instance become a *unit* that moves through three
asyncio tasks, joined by never-dropping bounded queues
(:class:`~trademaestro.runtime.queues.PressureQueue`):

* **manage** — reads the broker (positions, quote, account), settles what closed, updates the
  daily-loss guard, and decides the exits and the position manager's intents
  (:meth:`~trademaestro.runtime.instance.StrategyInstance.manage_phase`);
* **execute** — the only stage that sends orders: the unit's intents, in order, through the
  exactly-once order path (:meth:`~trademaestro.runtime.instance.StrategyInstance.execute_phase`);
  a unit that still wants to enter goes on to *gate*, otherwise it is finished;
* **gate** — the entry gate: risk state, entry blockers, filters, sizing, the decision core and
  the last look (the platform's supervisor), into entry intents
  (:meth:`~trademaestro.runtime.instance.StrategyInstance.gate_phase`), which go back to
  *execute*.

A unit with nothing to do (no signal, no position to manage) is finished by *manage* without a
broker call; one with no intents skips *execute*; one without an entry signal skips *gate*.

**One unit in flight per account.** A unit takes the account's turn when *manage* starts it
and gives it back when it is finished (or failed), so the next unit's *manage* waits for the
previous unit's last *execute*. This is what the bar's phases need: a management close frees
a ``maxPositions`` slot for the entry, an accepted close starts the cooldown, a fill changes the
positions and the equity the next unit reads and sizes on. It keeps paper mode trading exactly
as the backtest, which runs the same phases in a row. The stages still overlap with *feed* and
*evaluate*, which run ahead (bounded by their queues), and each stage has its own latency,
error counters and watchdog deadline: a slow supervisor shows as *gate* latency, a slow
terminal as *execute* latency.

Error policy (:class:`~trademaestro.runtime.stages.StagePolicy`): a phase that raises is logged
with the unit (instance, bar), counted against its stage, and ends the unit (a failed *manage*
or *execute* sends no entries: the positions are not known well enough); the next unit goes on.
A stage cancelled mid-unit (the watchdog's restart, a stop) ends the unit and gives the turn
back, so the pipeline never wedges on a lost unit.

With ``threaded`` the phases run in worker threads (a gateway broker waits on its pipe with the
GIL released), so the event loop, the monitor and the watchdog stay responsive.
"""

from __future__ import annotations

import asyncio
import time as _time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from trademaestro.core.chaos import checkpoint
from trademaestro.execution.intents import Side
from trademaestro.runtime.barwork import BarWork
from trademaestro.runtime.queues import PressureQueue
from trademaestro.runtime.session import Slot
from trademaestro.runtime.stages import StagePolicy, join_queue
from trademaestro.runtime.watchdog import StageTask

STAGES = ("manage", "gate", "execute")
"""The act stages' names (watchdog deadlines, latency, error counters)."""

DEADLINES: dict[str, float] = {"manage": 120.0, "gate": 60.0, "execute": 120.0}
"""Watchdog deadlines (seconds busy without progress) of the act stages: longer than the
gateway's call timeouts times their retries (manage, execute), and than the supervisor's
budget (gate)."""

T = TypeVar("T")
Q = TypeVar("Q", "_Unit", "BarSignals | AfterHook")


@dataclass(frozen=True, slots=True)
class BarSignals:
    """The evaluate stage's output for one instance at one closed bar."""

    slot: Slot
    i: int
    entry: dict[Side, bool]
    exit_rule: bool

    @property
    def where(self) -> str:
        """The instance and bar, for the log."""
        return f"{self.slot.instance.key} bar {self.i} ({self.slot.symbol})"


@dataclass(frozen=True, slots=True)
class AfterHook:
    """Work to run once every unit queued before it is finished (e.g. the live pipeline's
    after-poll update: equity sample, risk state, emergency exit), in its turn; ``run`` is
    awaited on the event loop and ``where`` names it in the log."""

    run: Callable[[], Awaitable[None]]
    where: str


@dataclass(slots=True)
class _Unit:
    slot: Slot
    work: BarWork

    @property
    def where(self) -> str:
        return f"{self.slot.instance.key} bar {self.work.i} ({self.slot.symbol})"


class ActStages:
    """The manage, gate and execute stages (see the module docstring).

    Args:
        policy: the pipeline's stage policy; must know the stages in :data:`STAGES`.
        threaded: run the phases in worker threads.
        queue_size: capacity of the queue into *manage* (a full queue blocks *evaluate*).
        accepts: whether a slot still acts (live: removed or paused strategies do not); asked
            when *manage* takes the unit.
    """

    def __init__(
        self,
        policy: StagePolicy,
        *,
        threaded: bool,
        queue_size: int = 64,
        accepts: Callable[[Slot], bool] | None = None,
    ) -> None:
        self.policy = policy
        self.threaded = threaded
        self.accepts = accepts
        self.incoming: PressureQueue[BarSignals | AfterHook] = PressureQueue(queue_size)
        # One unit in flight: these never hold more than one item.
        self.to_gate: PressureQueue[_Unit] = PressureQueue(2)
        self.to_execute: PressureQueue[_Unit] = PressureQueue(2)
        self._turn: asyncio.Lock | None = None
        self.units = dict.fromkeys(("started", "idle", "finished", "failed"), 0)

    def tasks(self) -> list[StageTask]:
        """The three stage tasks (not started)."""
        return [
            StageTask("manage", self._manage),
            StageTask("gate", self._gate),
            StageTask("execute", self._execute),
        ]

    async def put(self, item: BarSignals | AfterHook) -> None:
        """Queue one bar's signals (or a hook) for *manage*; blocks while the queue is full."""
        await self.incoming.put(item)

    async def join(self) -> None:
        """Wait until every queued item is finished (no unit in flight)."""
        await self.incoming.join()
        async with self.turn:
            pass

    async def drain(self, stages: list[StageTask]) -> None:
        """:meth:`join`, surfacing a dead stage instead of waiting forever."""
        await join_queue(self, stages)

    def queues(self) -> dict[str, dict[str, int]]:
        """Queue depths and counters for the monitor, and the units' counts: ``idle`` (nothing
        to do at that bar), ``started`` (the manage phase ran), ``finished`` and ``failed``
        (every item ends as one of these two; cancelled mid-unit counts as failed)."""
        return {
            "manage": self.incoming.stats(),
            "gate": self.to_gate.stats(),
            "execute": self.to_execute.stats(),
            "units": dict(self.units),
        }

    @property
    def turn(self) -> asyncio.Lock:
        """The account's turn (created on the running loop at first use)."""
        if self._turn is None:
            self._turn = asyncio.Lock()
        return self._turn

    # -- stages ---------------------------------------------------------------------------------
    async def _manage(self) -> None:
        await self._loop("manage", self.incoming, self._manage_one, take_turn=True)

    async def _manage_one(self, item: BarSignals | AfterHook) -> bool:
        if isinstance(item, AfterHook):
            await item.run()
            return False
        return await self._start(item)

    async def _start(self, item: BarSignals) -> bool:
        """The manage phase of one bar's signals; True when the unit was handed on."""
        if self.accepts is not None and not self.accepts(item.slot):
            return False
        instance = item.slot.instance
        work = instance.begin(item.i, item.entry, item.exit_rule)
        if work is None:
            self.units["idle"] += 1
            return False
        self.units["started"] += 1
        if not await self._call(instance.manage_phase, work):
            return False
        unit = _Unit(item.slot, work)
        await (self.to_execute if work.intents else self.to_gate).put(unit)
        return True

    async def _gate(self) -> None:
        await self._loop("gate", self.to_gate, self._gate_one)

    async def _gate_one(self, unit: _Unit) -> bool:
        await self._call(unit.slot.instance.gate_phase, unit.work)
        if unit.work.intents:
            await self.to_execute.put(unit)
            return True
        return False

    async def _execute(self) -> None:
        await self._loop("execute", self.to_execute, self._execute_one)

    async def _execute_one(self, unit: _Unit) -> bool:
        work = unit.work
        await self._call(unit.slot.instance.execute_phase, work)
        if work.wants_entry and not work.entering:
            await self.to_gate.put(unit)
            return True
        return False

    async def _loop(
        self,
        stage: str,
        queue: PressureQueue[Q],
        one: Callable[[Q], Awaitable[bool]],
        *,
        take_turn: bool = False,
    ) -> None:
        """A stage's loop: take an item (with ``take_turn``, then wait for the account's turn:
        the previous unit is finished), run ``one`` (True: it handed the unit on), apply the
        error policy; a unit not handed on is finished."""
        while True:
            unit = await queue.get()
            if take_turn:
                try:
                    await self.turn.acquire()
                except BaseException:
                    queue.task_done()
                    raise
            started = _time.perf_counter()
            self.policy.busy(stage, True)
            handed_on = ok = False
            try:
                handed_on = await one(unit)
                self.policy.succeeded(stage)
                ok = True
            except Exception as exc:
                self.policy.failed(stage, unit.where, exc)
            finally:
                if not handed_on:
                    self._finish(ok)
                queue.task_done()
                self.policy.latency(stage, started)
                self.policy.busy(stage, False)

    def _finish(self, ok: bool) -> None:
        """The unit in flight is done: give the turn back (and pass the chaos kill point)."""
        self.units["finished" if ok else "failed"] += 1
        self.turn.release()
        if ok:
            checkpoint("bar")

    async def _call(self, fn: Callable[[BarWork], T], work: BarWork) -> T:
        return await asyncio.to_thread(fn, work) if self.threaded else fn(work)
