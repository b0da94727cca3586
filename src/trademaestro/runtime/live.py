"""The live executor: the terminal polled for closed bars, the strategies acting on each.

Stages (asyncio tasks joined by never-dropping bounded queues, each with the error policy of
:class:`~trademaestro.runtime.stages.StagePolicy` and its latency recorded):

* **feed** — every ``poll_seconds``, asks the terminal for new closed bars of every watched
  series (:class:`~trademaestro.runtime.livefeed.LiveBarFeed`) and hands them to *evaluate*;
  a full queue blocks the feed (back-pressure: the terminal is polled less, nothing is dropped).
* **evaluate** — appends the bars to each instance's bar store and evaluates its rules on the
  newest one (bars caught up after missed polls extend the series but are not traded on).
* **manage**, **gate**, **execute** — the bar's phases through the exactly-once order path, one
  unit in flight per account (:mod:`trademaestro.runtime.actstages`); after each poll's units,
  in its turn, the equity sample, the risk state and the emergency exit (:class:`AfterBar`).

Broker calls run in worker threads (the gateway waits on its pipe with the GIL released), so the
event loop, the monitor and the watchdog stay responsive however long the terminal takes.

Start-up is recovery, always: unresolved journal entries are resolved by look-up, the risk state
is loaded, the positions with our magic numbers are re-learnt, and the broker is reconciled
before any strategy may trade. A supervisor restart (``TRADEMAESTRO_RECOVERY=1``) is logged and
recorded with the run. SIGINT/SIGTERM stop intake; the bar in progress is finished, the runs are
marked ``interrupted``, and positions stay open (their stops are at the broker).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time as _time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from functools import partial
from typing import Any, cast

from trademaestro.core.timeframes import Timeframe
from trademaestro.runtime.actstages import DEADLINES, STAGES, ActStages, AfterHook, BarSignals
from trademaestro.runtime.backtest import RunResult, result_of
from trademaestro.runtime.finish import BrokerAccount, EquityTracker, finishing
from trademaestro.runtime.livefeed import LiveBarFeed, NewBars
from trademaestro.runtime.monitor import Monitor
from trademaestro.runtime.queues import PressureQueue
from trademaestro.runtime.recovery import (
    reconcile_now,
    relearn_positions,
    settle_journal,
)
from trademaestro.runtime.replayer import AfterBar
from trademaestro.runtime.restarts import recovery_info
from trademaestro.runtime.session import Session, Slot
from trademaestro.runtime.signals import StreamingSignals
from trademaestro.runtime.stages import (
    LatencyFn,
    StagePolicy,
    join_queue,
    start_stages,
    stop_on_signals,
    stop_stages,
)
from trademaestro.runtime.upkeep import Upkeep
from trademaestro.runtime.watchdog import StageTask, Watchdog

log = logging.getLogger("trademaestro.live")

BarHook = Callable[[str, Timeframe, int], None]
"""``on_bar(symbol, timeframe, bar open time)``: a closed bar was evaluated and acted on."""


class LivePipeline:
    """The staged live runtime over a session (see the module docstring)."""

    def __init__(
        self,
        session: Session,
        feed: LiveBarFeed,
        *,
        poll_seconds: float,
        threaded: bool = True,
        on_latency: LatencyFn | None = None,
        watchdog: Watchdog | None = None,
        on_bar: BarHook | None = None,
        queue_size: int = 64,
    ) -> None:
        self.session = session
        self.feed = feed
        self.poll_seconds = poll_seconds
        self.threaded = threaded
        self.on_bar = on_bar
        self.watchdog = watchdog
        self.policy = StagePolicy(
            ("feed", "evaluate", *STAGES), on_latency=on_latency, watchdog=watchdog
        )
        self.bars: PressureQueue[list[NewBars]] = PressureQueue(queue_size)
        self.acts = ActStages(
            self.policy, threaded=threaded, queue_size=queue_size, accepts=self._acts_for
        )
        self.tracker = EquityTracker(session, BrokerAccount(session.adapter))
        # The account as of the last bar (balance, equity, margin, open positions): what the
        # platform heartbeat reports, read without a broker call on the event loop.
        self.account: dict[str, float | int] = {}
        self.after = AfterBar(session, self.tracker)
        self.by_series: dict[tuple[str, Timeframe], list[Slot]] = {}
        self.paused: set[int] = set()  # id() of the slots that keep their bars but do not act
        self._active: set[int] = set()
        for slot in session.slots:
            self.add_slot(slot)

    def add_slot(self, slot: Slot) -> None:
        """Evaluate and act for ``slot`` from the next closed bar on (event loop only); its
        series is watched from its bar store's last bar."""
        tf = slot.strategy.spec.timeframe
        self.by_series.setdefault((slot.symbol, tf), []).append(slot)
        slot.instance.entry_blockers.append(self.policy.health.entry_blocker)
        slot.instance.signals = StreamingSignals(
            slot.instance.store.engine, slot.entry, slot.exit_rule
        )
        store = slot.instance.store
        if len(store):
            self.feed.watch(slot.symbol, tf, int(store.times[len(store) - 1]))
        self._active.add(id(slot))

    def remove_slot(self, slot: Slot) -> None:
        """Stop evaluating and acting for ``slot`` (event loop only; queued items are dropped)."""
        key = (slot.symbol, slot.strategy.spec.timeframe)
        slots = self.by_series.get(key, [])
        if slot in slots:
            slots.remove(slot)
        self._active.discard(id(slot))
        self.paused.discard(id(slot))

    def queues(self) -> dict[str, dict[str, int]]:
        """Queue depths and counters for the monitor."""
        return {"bars": self.bars.stats(), **self.acts.queues()}

    def _acts_for(self, slot: Slot) -> bool:
        """A slot acts while it is neither removed nor paused."""
        return id(slot) in self._active and id(slot) not in self.paused

    async def run(self, stop: asyncio.Event) -> None:
        """Poll, evaluate and act until ``stop`` is set; the items already queued are finished."""
        stages = [StageTask("evaluate", self._evaluate), *self.acts.tasks()]
        await start_stages(stages, self.watchdog)
        try:
            await self._feed(stop)
            await join_queue(self.bars, stages)
            await self.acts.drain(stages)
        finally:
            await stop_stages(stages)

    async def _call(self, fn: Callable[..., object], *args: object) -> object:
        return await asyncio.to_thread(fn, *args) if self.threaded else fn(*args)

    async def _feed(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = _time.perf_counter()
            self.policy.busy("feed", True)
            try:
                found = cast(list[NewBars], await self._call(self.feed.poll))
                self.policy.succeeded("feed")
            except Exception as exc:
                self.policy.failed("feed", "the poll for closed bars", exc)
                found = []
            finally:
                self.policy.latency("feed", started)
                self.policy.busy("feed", False)
            if found:
                await self.bars.put(found)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_seconds)

    async def _evaluate(self) -> None:
        while True:
            found = await self.bars.get()
            started = _time.perf_counter()
            self.policy.busy("evaluate", True)
            try:
                for new in found:
                    for slot in list(self.by_series.get((new.symbol, new.timeframe), [])):
                        item = self._signals(slot, new)
                        if item is not None and id(slot) not in self.paused:
                            await self.acts.put(item)
                last = max(int(new.bars["time"][-1]) for new in found)
                bars = tuple(
                    (new.symbol, new.timeframe, int(new.bars["time"][-1])) for new in found
                )
                await self.acts.put(
                    AfterHook(partial(self._after_poll, last, bars), "the after-bar update")
                )
            finally:
                self.bars.task_done()
                self.policy.latency("evaluate", started)
                self.policy.busy("evaluate", False)

    def _signals(self, slot: Slot, new: NewBars) -> BarSignals | None:
        store = slot.instance.store
        try:
            last = int(store.times[len(store) - 1]) if len(store) else -1
            fresh = new.bars[new.bars["time"] > last]
            if len(fresh) == 0:
                return None
            store.extend(fresh)
            i = len(store) - 1
            signals = slot.instance.signals
            assert signals is not None
            item = BarSignals(slot, i, signals.entry_at(i), signals.exit_at(i))
        except Exception as exc:
            self.policy.failed("evaluate", f"{slot.instance.key} {new.symbol} bars", exc)
            return None
        self.policy.succeeded("evaluate")
        return item

    def _after_bar(self, time: int) -> None:
        """After a poll's bars (worker thread): equity, risk state, emergency exit, snapshot."""
        self.after.done(time)
        account = self.session.adapter.account()
        self.account = {
            "balance": account.balance,
            "equity": account.equity,
            "margin": account.margin,
            "openPositions": len(self.session.adapter.positions()),
        }

    async def _after_poll(self, time: int, bars: tuple[tuple[str, Timeframe, int], ...]) -> None:
        """After a poll's units are finished: the after-bar update, the clock, the log."""
        await self._call(self._after_bar, time)
        self.session.clock_time = max(self.session.clock_time, time)
        for symbol, timeframe, bar_time in bars:
            log.info(
                "live: %s %s bar %d (%s server time) closed and acted on",
                symbol,
                timeframe.name,
                bar_time,
                datetime.fromtimestamp(bar_time, UTC).strftime("%Y-%m-%d %H:%M"),
            )
            if self.on_bar is not None:
                self.on_bar(symbol, timeframe, bar_time)


def start_live(session: Session) -> None:
    """Recovery, always (see the module docstring): settle the journal, load the risk state,
    re-learn positions, then reconcile with the broker before any strategy may trade."""
    info = recovery_info()
    if info.recovery:
        log.warning(
            "starting in recovery mode (supervisor restart %d): resolving the journal, "
            "reloading the risk state and reconciling before trading",
            info.restart_count,
        )
    settle_journal(session)
    if session.risk_file is not None:
        session.risk_file.load_into(session.risk)
    for slot in session.slots:
        relearn_positions(session, slot.instance)
    found = reconcile_now(session)
    if found:
        log.critical("start-up reconciliation corrected %d discrepancies", found)


Services = Callable[[LivePipeline, asyncio.Event], list[Coroutine[Any, Any, object]]]
"""``services(pipeline, stop)``: more tasks to run beside the pipeline once the executor may
trade (remote control: command bus, Pusher, heartbeat); they end when ``stop`` is set."""


async def live_session(
    session: Session,
    poll_seconds: float,
    stop: asyncio.Event | None = None,
    on_bar: BarHook | None = None,
    services: Services | None = None,
) -> RunResult:
    """Run an opened live session until stopped (SIGINT/SIGTERM or ``stop``) and finish it.

    A service that raises stops the executor (its error propagates after everything is
    finished and recorded)."""
    stop = stop or asyncio.Event()
    undo_signals = stop_on_signals(stop)
    feed = LiveBarFeed(
        session.adapter,
        {
            (slot.symbol, slot.strategy.spec.timeframe): int(slot.feed.rates["time"][-1])
            for slot in session.slots
        },
    )
    monitor = Monitor(5.0)
    deadline = max(60.0, 20 * poll_seconds)
    watchdog = Watchdog({"feed": deadline, "evaluate": 60.0, **DEADLINES})
    pipeline = LivePipeline(
        session,
        feed,
        poll_seconds=poll_seconds,
        watchdog=watchdog,
        on_bar=on_bar,
        on_latency=lambda stage, seconds: monitor.latency(stage).record(seconds),
    )
    monitor.add_source("queues", pipeline.queues)
    monitor.add_source("pipeline", pipeline.policy.health.report)
    monitor.add_source("feed", feed.report)
    try:
        async with Upkeep(session, monitor, watchdog) as upkeep:
            with finishing(session, pipeline.tracker) as ending:
                await asyncio.to_thread(start_live, session)
                upkeep.reconcile_periodically()
                ending.status = await _trade(pipeline, stop, services)
    finally:
        undo_signals()
    return result_of(session, ending.reports, feed.bars_seen, ending.status, pipeline.tracker.halts)


async def _trade(pipeline: LivePipeline, stop: asyncio.Event, services: Services | None) -> str:
    """Run the pipeline with the services beside it until stopped; the run's final status.

    A service that raised stops the pipeline, and its error is re-raised once all is stopped."""
    extra = [
        asyncio.create_task(_stopping(coro, stop))
        for coro in (services or _none)(pipeline, stop)
    ]
    try:
        await pipeline.run(stop)
    finally:
        stop.set()
        for task in extra:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 30)
    for task in extra:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    return "interrupted"


def _none(_pipeline: LivePipeline, _stop: asyncio.Event) -> list[Coroutine[Any, Any, object]]:
    return []


async def _stopping(coro: Coroutine[Any, Any, object], stop: asyncio.Event) -> object:
    """Run a service; when it fails, ask the executor to stop (and re-raise)."""
    try:
        return await coro
    except BaseException:
        stop.set()
        raise
