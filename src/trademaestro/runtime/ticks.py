"""Stepping a tick-driven session: the per-tick sequence both drivers share.

For each tick ``k`` of the session's tick symbol:
1. the emulator's quote moves to the tick (SL/TP and pending orders trigger at tick level);
2. when the tick opens a new bar, the bars that closed are read back through the adapter, fed
   to every instance's bar store and acted on (closed-bar evaluation, as with bar data);
3. instances in intrabar mode (``options.intrabar``) evaluate the forming bar — read through the
   adapter, ``copy_rates_from_pos(symbol, timeframe, 0, 1)`` — whenever ``intervalSeconds`` of
   tick time have passed since their last intrabar evaluation;
4. equity is sampled and the account risk state updated.
Bars are fed one at a time in both drivers, so backtest and paper runs on ticks are identical.
"""

from __future__ import annotations

from trademaestro.core.errors import DataError
from trademaestro.runtime.finish import EquityTracker
from trademaestro.runtime.session import Session, Slot
from trademaestro.runtime.signals import StreamingSignals


class TickStepper:
    """The shared per-tick sequence of a tick-driven session."""

    def __init__(self, session: Session) -> None:
        symbol = session.tick_symbol
        if symbol is None:
            raise ValueError("not a tick-driven session")
        self.session = session
        self.symbol = symbol
        feed = session.feeds[symbol]
        assert feed.ticks is not None
        self.times = feed.ticks["time"].tolist()
        replay = session.emulator.replay
        self.replay = replay
        self.bar_of = replay.tick_bar_index(symbol).tolist()
        self.bar_times = feed.rates["time"].tolist()
        self.tracker = EquityTracker(session)
        self.slots = [slot for slot in session.slots if slot.symbol == symbol]
        self.intrabar: list[tuple[Slot, float]] = []
        for slot in self.slots:
            slot.instance.signals = StreamingSignals(
                slot.instance.store.engine, slot.entry, slot.exit_rule
            )
            options = slot.strategy.spec.option_block
            if options is not None and options.intrabar is not None and options.intrabar.enabled:
                self.intrabar.append((slot, float(options.intrabar.intervalSeconds)))
        self._next_eval = [float("-inf")] * len(self.intrabar)
        self._current = -1

    def __len__(self) -> int:
        return len(self.times)

    def step(self, k: int) -> None:
        """Everything that happens at tick ``k`` (see the module docstring)."""
        self.replay.tick(self.symbol, k)
        b = self.bar_of[k]
        if b != self._current:
            if self._current >= 0:
                for c in range(self._current, b):
                    self._closed(c)
            self._current = b
        t = self.times[k]
        adapter = self.session.adapter
        for n, (slot, interval) in enumerate(self.intrabar):
            if t >= self._next_eval[n]:
                self._next_eval[n] = t + interval
                tf = slot.strategy.spec.timeframe
                slot.instance.on_intrabar(adapter.forming_bar(self.symbol, tf))
        self.tracker.sample(t)

    def _closed(self, c: int) -> None:
        """Bar ``c`` closed: every instance reads it through the adapter, feeds it and acts."""
        adapter = self.session.adapter
        for slot in self.slots:
            store = slot.instance.store
            if len(store) > c:
                continue  # a bar without ticks already fed
            tf = slot.strategy.spec.timeframe
            bar = adapter.closed_bars(self.symbol, tf, 1)
            if len(bar) != 1 or int(bar["time"][0]) != self.bar_times[c]:
                raise DataError(
                    str(slot.feed.path),
                    None,
                    f"the broker's last closed {self.symbol} bar is not bar {c} "
                    f"(expected time {self.bar_times[c]})",
                )
            store.extend(bar)
            slot.instance.on_bar(c)
