"""The backtest driver: a plain loop over the bars, every order through the adapter and emulator.

Per bar ``j``: the emulator's quote moves to bar ``j``'s first tick; the strategy acts on bar
``j-1`` (its last closed bar) if a signal fired there; then the rest of bar ``j`` happens in the
emulator (SL/TP inside the bar, the close). Signals are evaluated once over all bars
(:class:`~trademaestro.runtime.signals.VectorSignals`), so quiet bars cost two emulator calls.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Any

from trademaestro.runtime.finish import EquityTracker, finish_session
from trademaestro.runtime.session import Session, open_session
from trademaestro.runtime.settings import RunSettings
from trademaestro.runtime.signals import VectorSignals


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a finished run produced: the report (None when nothing was recorded), the run id,
    the number of bars replayed, orders sent/rejected and the first rejection in words."""

    report: dict[str, Any] | None
    run_id: int | None
    bars: int
    orders_sent: int
    orders_rejected: int
    status: str
    first_rejection: str | None = None


def run_backtest(settings: RunSettings) -> RunResult:
    """Backtest a strategy on a bar file through the emulator (see the module docstring)."""
    session = open_session(settings, "backtest")
    return backtest_session(session)


def backtest_session(session: Session) -> RunResult:
    """Run the backtest loop on an opened session and finish it."""
    tracker = EquityTracker(session)
    status, error = "failed", None
    try:
        rates = session.rates
        session.engine.extend(rates)
        signals = VectorSignals(session.engine, session.entry, session.exit_rule)
        any_signal = signals.any_signal.tolist()
        times = rates["time"].tolist()
        emu, runner, symbol = session.emulator, session.runner, session.symbol
        open_bar, run_bar, sample = emu.replay.open_bar, emu.replay.run_bar, tracker.sample
        on_bar = runner.on_bar
        # Everything built so far lives for the whole run: keep the cyclic GC from rescanning it
        # on every collection the loop triggers (halves the cost of an order).
        gc.freeze()
        try:
            run_bar(symbol, 0)
            sample(times[0])
            for j in range(1, len(times)):
                open_bar(symbol, j)
                if any_signal[j - 1]:
                    on_bar(signals, j - 1)
                run_bar(symbol, j)
                sample(times[j])
        finally:
            gc.unfreeze()
        status = "completed"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        report = finish_session(session, tracker, status, error)
        if session.store is not None:
            session.store.close()
    return RunResult(
        report,
        session.run_id,
        len(times),
        runner.orders_sent,
        runner.orders_rejected,
        status,
        runner.first_rejection,
    )
