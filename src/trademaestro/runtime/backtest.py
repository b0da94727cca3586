"""The backtest driver: a plain loop over the bars, every order through the adapter and emulator.

Per bar ``j``: the emulator's quote moves to bar ``j``'s first tick; each strategy instance acts
on bar ``j-1`` (its last closed bar) if a signal fired there or it holds positions; then the rest
of bar ``j`` happens in the emulator (SL/TP inside the bar, the close). Signals are evaluated once
over all bars (:class:`~trademaestro.runtime.signals.VectorSignals`), so quiet bars cost two
emulator calls. Several symbols replay on one merged timeline
(:mod:`trademaestro.runtime.replayer`).
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import Any

from trademaestro.runtime.finish import finishing
from trademaestro.runtime.replayer import Replayer
from trademaestro.runtime.session import Session, open_session
from trademaestro.runtime.settings import RunSettings
from trademaestro.runtime.signals import VectorSignals
from trademaestro.runtime.ticks import TickStepper


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a finished run produced.

    Attributes:
        reports: one report per strategy instance (empty when nothing was recorded).
        run_ids: the run records.
        bars: bars replayed (timeline groups).
        orders_sent, orders_rejected: over all instances.
        status: ``completed``, ``interrupted`` or ``failed``.
        first_rejection: the first rejected order, in words.
        halts: drawdown emergency stops.
        refused: strategies refused at load (the others ran).
    """

    reports: list[dict[str, Any]]
    run_ids: list[int]
    bars: int
    orders_sent: int
    orders_rejected: int
    status: str
    first_rejection: str | None = None
    halts: int = field(default=0)
    refused: tuple[str, ...] = ()

    @property
    def report(self) -> dict[str, Any] | None:
        """The report of a single-instance run (None otherwise or when nothing was recorded)."""
        return self.reports[0] if len(self.reports) == 1 else None

    @property
    def run_id(self) -> int | None:
        """The run record of a single-instance run."""
        return self.run_ids[0] if len(self.run_ids) == 1 else None


def run_backtest(settings: RunSettings) -> RunResult:
    """Backtest strategies on bar files through the emulator (see the module docstring)."""
    session = open_session(settings, "backtest")
    return backtest_session(session)


def result_of(
    session: Session, reports: list[dict[str, Any]], bars: int, status: str, halts: int
) -> RunResult:
    """Summarise a finished session."""
    instances = session.instances
    rejection = next((i.first_rejection for i in instances if i.first_rejection), None)
    return RunResult(
        reports,
        session.run_ids,
        bars,
        sum(i.orders_sent for i in instances),
        sum(i.orders_rejected for i in instances),
        status,
        rejection,
        halts,
        tuple(session.rejected),
    )


def backtest_session(session: Session) -> RunResult:
    """Run the backtest loop on an opened session and finish it."""
    if session.tick_symbol is not None:
        return _tick_backtest(session)
    replayer = Replayer(session)
    with finishing(session, replayer.tracker) as ending:
        for slot in session.slots:
            store = slot.instance.store
            store.extend(slot.feed.rates)
            signals = VectorSignals(store.engine, slot.entry, slot.exit_rule)
            slot.instance.signals = signals
            slot.any_signal = signals.any_signal.tolist()
        # Everything built so far lives for the whole run: keep the cyclic GC from rescanning it
        # on every collection the loop triggers (halves the cost of an order).
        gc.freeze()
        try:
            _loop(session, replayer)
        finally:
            gc.unfreeze()
        ending.status = "completed"
    return result_of(session, ending.reports, len(replayer), ending.status, replayer.tracker.halts)


def _tick_backtest(session: Session) -> RunResult:
    """The backtest of a tick-driven session (see :mod:`trademaestro.runtime.ticks`)."""
    stepper = TickStepper(session)
    with finishing(session, stepper.tracker) as ending:
        step = stepper.step
        for k in range(len(stepper)):
            step(k)
        ending.status = "completed"
    return result_of(session, ending.reports, len(stepper), ending.status, stepper.tracker.halts)


def _loop(session: Session, replayer: Replayer) -> None:
    if len(session.feeds) == 1 and len(session.slots) == 1:
        _single(session, replayer)
        return
    for g in range(len(replayer)):
        replayer.open_group(g)
        for slot, i in replayer.due(g):
            instance = slot.instance
            if slot.any_signal[i] or (instance.every_bar and instance.maybe_open):
                instance.on_bar(i)
        replayer.close_group(g)


def _single(session: Session, replayer: Replayer) -> None:
    """The one-symbol, one-strategy loop, with the per-bar overhead cut to the bone."""
    slot = session.slots[0]
    instance, symbol = slot.instance, slot.symbol
    any_signal = slot.any_signal
    replay = session.emulator.replay
    open_bar, run_bar, sample = replay.open_bar, replay.run_bar, replayer.tracker.sample
    on_bar = instance.on_bar
    every_bar = instance.every_bar
    times = replayer.times
    open_bar(symbol, 0)
    run_bar(symbol, 0)
    sample(times[0])
    for j in range(1, len(times)):
        open_bar(symbol, j)
        if any_signal[j - 1] or (every_bar and instance.maybe_open):
            on_bar(j - 1)
        run_bar(symbol, j)
        sample(times[j])
