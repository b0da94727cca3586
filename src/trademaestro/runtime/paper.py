"""The paper-mode executor: an asyncio runtime replaying bars (or ticks) into the emulator.

Bars run through the staged pipeline of :mod:`trademaestro.runtime.pipeline` (feed → evaluate →
act, never-dropping bounded queues, back-pressure, per-stage latency, the error policy); tick-driven
sessions step tick by tick (:mod:`trademaestro.runtime.ticks`). SIGINT/SIGTERM stop intake; the bar
in progress is finished, everything recorded, and the runs are marked ``interrupted``. Positions
stay open: a stop is not a reason to trade.
"""

from __future__ import annotations

import asyncio
import time as _time

from trademaestro.runtime.actstages import DEADLINES
from trademaestro.runtime.backtest import RunResult, result_of
from trademaestro.runtime.finish import finishing
from trademaestro.runtime.monitor import Monitor
from trademaestro.runtime.pipeline import BarPipeline, ProgressFn
from trademaestro.runtime.recovery import reconcile_now, recover, start_group
from trademaestro.runtime.replayer import Replayer
from trademaestro.runtime.session import Session, open_session
from trademaestro.runtime.settings import RunSettings
from trademaestro.runtime.signals import StreamingSignals
from trademaestro.runtime.stages import pace, stop_on_signals
from trademaestro.runtime.ticks import TickStepper
from trademaestro.runtime.upkeep import Upkeep
from trademaestro.runtime.watchdog import Watchdog


def run_paper(settings: RunSettings, progress: ProgressFn | None = None) -> RunResult:
    """Run the executor in paper mode on replayed bars (see the module docstring)."""
    session = open_session(settings, "paper")
    return asyncio.run(paper_session(session, settings.speed, progress))


async def paper_session(
    session: Session,
    speed: float,
    progress: ProgressFn | None = None,
    stop: asyncio.Event | None = None,
) -> RunResult:
    """Run an opened session under the asyncio runtime and finish it."""
    stop = stop or asyncio.Event()
    undo_signals = stop_on_signals(stop)
    if session.tick_symbol is not None:
        try:
            return await _tick_paper(session, speed, progress, stop)
        finally:
            undo_signals()
    replayer = Replayer(session)
    for slot in session.slots:
        slot.instance.signals = StreamingSignals(
            slot.instance.store.engine, slot.entry, slot.exit_rule
        )
    monitor = Monitor(5.0)
    watchdog = Watchdog({"evaluate": 60.0, **DEADLINES})
    pipeline = BarPipeline(
        session,
        replayer,
        threaded=session.settings.gateway,
        watchdog=watchdog,
        on_latency=lambda stage, seconds: monitor.latency(stage).record(seconds),
    )
    monitor.add_source("queues", pipeline.queues)
    monitor.add_source("pipeline", pipeline.health.report)
    try:
        async with Upkeep(session, monitor, watchdog) as upkeep:
            with finishing(session, replayer.tracker) as ending:
                start = start_group(session)
                recover(session, start)
                # Before any strategy may trade: the broker is the truth.
                await asyncio.to_thread(reconcile_now, session)
                upkeep.reconcile_periodically()
                completed = await pipeline.run(speed, stop, progress, start)
                ending.status = "completed" if completed else "interrupted"
    finally:
        undo_signals()
    return result_of(session, ending.reports, len(replayer), ending.status, replayer.tracker.halts)


async def _tick_paper(
    session: Session, speed: float, progress: ProgressFn | None, stop: asyncio.Event
) -> RunResult:
    """Paper run of a tick-driven session: each tick at ``speed`` × real time (0: at once)."""
    stepper = TickStepper(session)
    times = stepper.times
    n = len(stepper)
    with finishing(session, stepper.tracker) as ending:
        started = _time.monotonic()
        completed = True
        for k in range(n):
            if not await pace(started, times[0], times[k], speed, stop):
                completed = False
                break
            stepper.step(k)
            if progress is not None and (k % 5000 == 0 or k == n - 1):
                progress(k + 1, n)
            if speed == 0 and k % 1024 == 0:
                await asyncio.sleep(0)
        ending.status = "completed" if completed else "interrupted"
    return result_of(session, ending.reports, n, ending.status, stepper.tracker.halts)
