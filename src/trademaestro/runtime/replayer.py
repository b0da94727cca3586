"""Stepping a session through its timeline: the per-bar sequence both drivers share.

For each group ``g`` of bars opening at the same server time:
1. :meth:`Replayer.open_group` — the emulator's quotes move to those bars' first ticks;
2. :meth:`Replayer.due` — the instances whose symbol just closed a bar act on it (the driver
   calls :meth:`StrategyInstance.on_bar`, after feeding the bar in the paper runtime);
3. :meth:`Replayer.close_group` — the rest of the bars happen (SL/TP inside the bar, the close),
   then equity is sampled and the account risk state updated.
"""

from __future__ import annotations

from trademaestro.runtime.finish import EquityTracker
from trademaestro.runtime.session import Session, Slot


class Replayer:
    """The shared per-bar sequence over a session's timeline."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.times = session.timeline.times
        self.groups = session.timeline.groups
        self.replay = session.emulator.replay
        self.tracker = EquityTracker(session)
        self.after = AfterBar(session, self.tracker)
        self.by_symbol: dict[str, list[Slot]] = {}
        for slot in session.slots:
            self.by_symbol.setdefault(slot.symbol, []).append(slot)

    def __len__(self) -> int:
        return len(self.times)

    def open_group(self, g: int) -> None:
        """Bars of group ``g`` open (quotes = their open, ask = open + spread)."""
        open_bar = self.replay.open_bar
        for symbol, j in self.groups[g]:
            open_bar(symbol, j)

    def due(self, g: int) -> list[tuple[Slot, int]]:
        """(slot, closed bar index) pairs to act on at group ``g``."""
        out = []
        for symbol, j in self.groups[g]:
            if j > 0:
                for slot in self.by_symbol[symbol]:
                    out.append((slot, j - 1))
        return out

    def close_group(self, g: int) -> None:
        """The rest of group ``g``'s bars happen; sample equity and update the risk state."""
        run_bar = self.replay.run_bar
        for symbol, j in self.groups[g]:
            run_bar(symbol, j)
        self.after.done(self.times[g])


class AfterBar:
    """What follows every bar (group) in paper and live mode alike: the equity sample and risk
    state update, the risk state saved when it changed, and the emergency exit while the
    connection circuit breaker asks for it (once per breaker opening)."""

    def __init__(self, session: Session, tracker: EquityTracker) -> None:
        self.session = session
        self.tracker = tracker
        self._exited = False

    def done(self, time: int) -> None:
        """The bar(s) ending at server time ``time`` are done."""
        self.tracker.sample(time)
        risk_file = self.session.risk_file
        if risk_file is not None:  # paper/live: the risk state survives a restart
            risk_file.save_if_changed(self.session.risk)
        safety = self.session.safety
        if safety is not None and safety.safe.emergency_exit_requested() and not self._exited:
            # The connection is unstable and emergency exit is configured: close everything
            # (once per breaker opening); new entries are already halted by the breaker.
            self._exited = True
            for slot in self.session.slots:
                slot.instance.close_all("risk", time)
        elif safety is not None and self._exited and safety.safe.entries_allowed():
            self._exited = False
