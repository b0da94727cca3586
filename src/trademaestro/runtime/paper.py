"""The paper-mode executor: an asyncio runtime replaying bars into the emulator.

Two tasks joined by a bounded queue (DESIGN.md "Data flow"):

* **feed** — moves the emulator's clock: bar ``j``'s first tick, then (once the strategy has acted
  on the bar that just closed) the rest of bar ``j``. It paces itself at ``speed`` × real time
  (``speed`` 0: as fast as possible, still yielding to the event loop between bars).
* **evaluate** — for each closed bar, reads it back *through the adapter*
  (``copy_rates_from_pos(symbol, timeframe, 1, 1)``), appends it to the series engine, evaluates
  the rules at that bar and sends any orders through the adapter.

The closed-bar queue never drops: it holds one bar and the feed waits for the evaluator
(back-pressure). SIGINT/SIGTERM stop intake; the bar in progress is finished, everything recorded,
and the run is marked ``interrupted``. Positions stay open: a stop is not a reason to trade.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time as _time
from collections.abc import Callable

from trademaestro.core.errors import DataError
from trademaestro.runtime.backtest import RunResult
from trademaestro.runtime.finish import EquityTracker, finish_session
from trademaestro.runtime.session import Session, open_session
from trademaestro.runtime.settings import RunSettings
from trademaestro.runtime.signals import StreamingSignals

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
    tracker = EquityTracker(session)
    closed: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
    status, error = "failed", None
    evaluator = asyncio.create_task(_evaluate(session, closed), name="evaluate")
    try:
        completed = await _feed(session, closed, tracker, speed, stop, progress, evaluator)
        status = "completed" if completed else "interrupted"
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        evaluator.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await evaluator
        for signum in installed:
            loop.remove_signal_handler(signum)
        report = finish_session(session, tracker, status, error)
        if session.store is not None:
            session.store.close()
    runner = session.runner
    return RunResult(
        report,
        session.run_id,
        len(session.rates),
        runner.orders_sent,
        runner.orders_rejected,
        status,
        runner.first_rejection,
    )


async def _feed(
    session: Session,
    closed: asyncio.Queue[int],
    tracker: EquityTracker,
    speed: float,
    stop: asyncio.Event,
    progress: ProgressFn | None,
    evaluator: asyncio.Task[None],
) -> bool:
    """Replay every bar; returns True when the data ran out, False when stopped."""
    emu, symbol = session.emulator, session.symbol
    times = session.rates["time"].tolist()
    n = len(times)
    bar_seconds = session.timeframe.seconds / speed if speed > 0 else 0.0
    started = _time.monotonic()
    for j in range(n):
        if stop.is_set():
            return False
        if bar_seconds > 0:
            delay = started + j * bar_seconds - _time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                if stop.is_set():
                    return False
        emu.replay.open_bar(symbol, j)
        if j > 0:
            await closed.put(j - 1)
            await _join(closed, evaluator)
        emu.replay.run_bar(symbol, j)
        tracker.sample(times[j])
        if progress is not None and (j % 500 == 0 or j == n - 1):
            progress(j + 1, n)
        if bar_seconds == 0 and j % 256 == 0:
            await asyncio.sleep(0)
    return True


async def _join(closed: asyncio.Queue[int], evaluator: asyncio.Task[None]) -> None:
    """Wait until the evaluator has handled the queued bar; surface its failure if it died."""
    joiner = asyncio.ensure_future(closed.join())
    done, _ = await asyncio.wait({joiner, evaluator}, return_when=asyncio.FIRST_COMPLETED)
    if evaluator in done:
        joiner.cancel()
        evaluator.result()
        raise RuntimeError("the evaluate task ended unexpectedly")


async def _evaluate(session: Session, closed: asyncio.Queue[int]) -> None:
    """Consume closed bars: read each back through the adapter, extend the series, act."""
    signals = StreamingSignals(session.engine, session.entry, session.exit_rule)
    engine, adapter, runner = session.engine, session.adapter, session.runner
    expected_times = session.rates["time"]
    while True:
        i = await closed.get()
        try:
            bar = adapter.closed_bars(session.symbol, session.timeframe, 1)
            if len(bar) != 1 or int(bar["time"][0]) != int(expected_times[i]):
                raise DataError(
                    session.settings.data,
                    None,
                    f"the broker's last closed bar is not bar {i} "
                    f"(expected time {int(expected_times[i])})",
                )
            engine.extend(bar)
            if len(engine) != i + 1:
                raise DataError(session.settings.data, None, f"bar {i} fed out of order")
            runner.on_bar(signals, i)
        finally:
            closed.task_done()
