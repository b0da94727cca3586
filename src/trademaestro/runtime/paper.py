"""The paper-mode executor: an asyncio runtime replaying bars into the emulator.

Two tasks joined by a bounded queue (DESIGN.md "Data flow"):

* **feed** — moves the emulator's clock along the session's timeline: the bars' first ticks,
  then (once the strategies have acted on the bars that just closed) the rest of the bars. It
  paces itself at ``speed`` × real time (``speed`` 0: as fast as possible, still yielding to the
  event loop regularly).
* **evaluate** — for each closed bar, every instance on that symbol reads it back *through the
  adapter* (``copy_rates_from_pos(symbol, timeframe, 1, 1)``), appends it to its bar store,
  evaluates its rules at that bar and sends any orders through the adapter.

The closed-bar queue never drops: it holds one group and the feed waits for the evaluator
(back-pressure). SIGINT/SIGTERM stop intake; the bar in progress is finished, everything
recorded, and the runs are marked ``interrupted``. Positions stay open: a stop is not a reason to
trade.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time as _time
from collections.abc import Callable

from trademaestro.core.errors import DataError
from trademaestro.runtime.backtest import RunResult, result_of
from trademaestro.runtime.finish import finishing
from trademaestro.runtime.replayer import Replayer
from trademaestro.runtime.session import Session, open_session
from trademaestro.runtime.settings import RunSettings
from trademaestro.runtime.signals import StreamingSignals
from trademaestro.runtime.ticks import TickStepper

ProgressFn = Callable[[int, int], None]


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
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
    if session.tick_symbol is not None:
        try:
            return await _tick_paper(session, speed, progress, stop)
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)
    replayer = Replayer(session)
    for slot in session.slots:
        slot.instance.signals = StreamingSignals(
            slot.instance.store.engine, slot.entry, slot.exit_rule
        )
    closed: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
    evaluator = asyncio.create_task(_evaluate(session, replayer, closed), name="evaluate")
    try:
        with finishing(session, replayer.tracker) as ending:
            try:
                completed = await _feed(session, replayer, closed, speed, stop, progress, evaluator)
            finally:
                evaluator.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await evaluator
            ending.status = "completed" if completed else "interrupted"
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
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
            if not await _pace(started, times[0], times[k], speed, stop):
                completed = False
                break
            stepper.step(k)
            if progress is not None and (k % 5000 == 0 or k == n - 1):
                progress(k + 1, n)
            if speed == 0 and k % 1024 == 0:
                await asyncio.sleep(0)
        ending.status = "completed" if completed else "interrupted"
    return result_of(session, ending.reports, n, ending.status, stepper.tracker.halts)


async def _pace(started: float, t0: int, t: int, speed: float, stop: asyncio.Event) -> bool:
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


async def _feed(
    session: Session,
    replayer: Replayer,
    closed: asyncio.Queue[int],
    speed: float,
    stop: asyncio.Event,
    progress: ProgressFn | None,
    evaluator: asyncio.Task[None],
) -> bool:
    """Replay every group of bars; returns True when the data ran out, False when stopped."""
    times = replayer.times
    n = len(times)
    started = _time.monotonic()
    for g in range(n):
        if not await _pace(started, times[0], times[g], speed, stop):
            return False
        replayer.open_group(g)
        await closed.put(g)
        await _join(closed, evaluator)
        replayer.close_group(g)
        if progress is not None and (g % 500 == 0 or g == n - 1):
            progress(g + 1, n)
        if speed == 0 and g % 256 == 0:
            await asyncio.sleep(0)
    return True


async def _join(closed: asyncio.Queue[int], evaluator: asyncio.Task[None]) -> None:
    """Wait until the evaluator has handled the queued group; surface its failure if it died."""
    joiner = asyncio.ensure_future(closed.join())
    done, _ = await asyncio.wait({joiner, evaluator}, return_when=asyncio.FIRST_COMPLETED)
    if evaluator in done:
        joiner.cancel()
        evaluator.result()
        raise RuntimeError("the evaluate task ended unexpectedly")


async def _evaluate(session: Session, replayer: Replayer, closed: asyncio.Queue[int]) -> None:
    """Consume closed bars: each instance reads its bar back through the adapter, extends its
    bar store, and acts."""
    adapter = session.adapter
    while True:
        g = await closed.get()
        try:
            for slot, i in replayer.due(g):
                instance = slot.instance
                store = instance.store
                tf = slot.strategy.spec.timeframe
                bar = adapter.closed_bars(slot.symbol, tf, 1)
                expected = int(slot.feed.rates["time"][i])
                if len(bar) != 1 or int(bar["time"][0]) != expected:
                    raise DataError(
                        str(slot.feed.path),
                        None,
                        f"the broker's last closed {slot.symbol} bar is not bar {i} "
                        f"(expected time {expected})",
                    )
                store.extend(bar)
                if len(store) != i + 1:
                    raise DataError(str(slot.feed.path), None, f"bar {i} fed out of order")
                instance.on_bar(i)
        finally:
            closed.task_done()
