"""Per-bar bookkeeping shared by the drivers, and ending a run.

* :class:`EquityTracker` samples (time, balance, equity) after each bar and feeds the account's
  risk state (day-start equity, the drawdown emergency stop).
* :func:`finish_session` closes what is left at the end of the data (reason ``end``), records
  deals and the end of every run, and builds the reports.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from trademaestro.brokers.port import BrokerPort
from trademaestro.core.servertime import server_day
from trademaestro.runtime.session import Session

log = logging.getLogger("trademaestro.finish")

# Deals are stamped in server time; widen history windows by a day on each side (MT5_API §10.3).
_DAY = 86_400
_FLUSH_EVERY = 5_000


class AccountProbe(Protocol):
    """Where the tracker reads the account: the emulator's replay controls (cheap, in-process)
    or :class:`BrokerAccount` (any broker)."""

    @property
    def has_positions(self) -> bool: ...

    def balance_equity(self) -> tuple[float, float]: ...


class BrokerAccount:
    """:class:`AccountProbe` over the broker port (live mode: ``positions_get``,
    ``account_info``)."""

    def __init__(self, broker: BrokerPort) -> None:
        self.broker = broker

    @property
    def has_positions(self) -> bool:
        """Whether the account holds any position."""
        return bool(self.broker.positions())

    def balance_equity(self) -> tuple[float, float]:
        """(balance, equity), account currency."""
        account = self.broker.account()
        return account.balance, account.equity


class EquityTracker:
    """Samples (time, balance, equity) after each bar: every bar while positions are open, and
    whenever the balance changed while flat; updates the account risk state (new server day,
    drawdown) and, on an emergency stop, closes every position of the executor.

    ``probe``: where the account is read (default: the emulator's replay controls)."""

    def __init__(self, session: Session, probe: AccountProbe | None = None) -> None:
        self.session = session
        self._replay = probe if probe is not None else session.emulator.replay
        self._had_positions = False
        self._last_balance = session.settings.balance
        self._day = -1
        self.halts = 0

    def sample(self, time: int) -> None:
        """Take the sample for the bar that just ended at server time ``time``."""
        replay = self._replay
        has_positions = replay.has_positions
        day = time // _DAY
        if not has_positions and not self._had_positions and day == self._day:
            return
        balance, equity = replay.balance_equity()
        # The risk state needs every new server day's first equity, and every equity change
        # only while a drawdown limit is armed.
        if day != self._day or (has_positions and self._drawdown_armed()):
            self._day = day
            self._risk(time, equity)
        if not has_positions and not self._had_positions:
            return
        self._had_positions = has_positions
        if not has_positions and abs(balance - self._last_balance) < 1e-9:
            return
        self._last_balance = balance
        buf = self.session.equity_buffer
        buf.append((int(time), balance, equity))
        if len(buf) >= _FLUSH_EVERY:
            self.flush()

    def _drawdown_armed(self) -> bool:
        return self.session.risk.drawdown.max_drawdown_percent is not None

    def _risk(self, time: int, equity: float) -> None:
        for event in self.session.risk.update_equity(time, equity):
            log.warning("account: %s", event.reason)
            if event.close_all:
                self.halts += 1
                for instance in self.session.instances:
                    instance.close_all("risk", time)
                self._had_positions = True

    def flush(self) -> None:
        """Write the buffered samples to every run of the session (account equity)."""
        buf = self.session.equity_buffer
        if buf:
            points = list(buf)
            for slot in self.session.slots:
                slot.recorder.equity(points)
            buf.clear()


def finish_session(
    session: Session, tracker: EquityTracker, status: str, error: str | None = None
) -> list[dict[str, Any]]:
    """Close the runs: on ``completed`` close open positions at the last bar's close (reason
    ``end``); record deals, equity and each run's end; return the reports (none without a store).
    """
    adapter = session.adapter
    if not session.feeds:  # a remote-controlled executor that never started a strategy
        tracker.flush()
        return []
    first = min(int(f.rates["time"][0]) for f in session.feeds.values())
    last = max(session.clock_time, *(int(f.rates["time"][-1]) for f in session.feeds.values()))
    if status == "completed":
        for slot in session.slots:
            quote = adapter.quote(slot.symbol)
            slot.instance.close_all("end", quote.time)
        tracker.sample(last)
    account = adapter.account()
    if session.equity_buffer or status == "completed":
        session.equity_buffer.append((last, account.balance, account.equity))
    tracker.flush()
    deals = adapter.deals(first - _DAY, last + 2 * _DAY)
    for slot in session.slots:
        plan = slot.instance.plan
        mine = [d for d in deals if d["magic"] == plan.magic and d["symbol"] == plan.symbol]
        slot.recorder.deals(mine)
        volume: dict[int, float] = {}
        for deal in mine:
            pid = int(deal["position_id"])
            if deal["entry"] == 0:
                volume[pid] = volume.get(pid, 0.0) + float(deal["volume"])
            elif deal["entry"] in (1, 3):
                volume[pid] = volume.get(pid, 0.0) - float(deal["volume"])
                if volume[pid] < 1e-9:
                    slot.recorder.position_closed(pid, int(deal["time"]))
    store = session.store
    if store is None:
        return []
    from trademaestro.report.build import build_report

    reports = []
    for slot in session.slots:
        if slot.run_id is None:
            continue
        store.finish_run(
            slot.run_id,
            status=status,
            final_balance=account.balance,
            final_equity=account.equity,
            error=error,
        )
        reports.append(build_report(store, slot.run_id))
    return reports


@dataclass
class Ending:
    """How a driver's run ended: ``status`` (``failed`` until the driver says otherwise),
    ``error`` text, and the reports built when it finished."""

    status: str = "failed"
    error: str | None = None
    reports: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def finishing(session: Session, tracker: EquityTracker) -> Iterator[Ending]:
    """Run a driver's loop inside this: whatever happens (data ran out, Ctrl-C, an error), the
    session is finished — positions closed at the end of the data only when ``completed``,
    deals, equity and runs recorded, reports built — and the store closed. The driver sets
    ``ending.status`` to ``completed`` or ``interrupted``; an exception marks it ``failed``
    (``interrupted`` for KeyboardInterrupt) and propagates after finishing."""
    ending = Ending()
    try:
        yield ending
    except KeyboardInterrupt:
        ending.status = "interrupted"
        raise
    except Exception as exc:
        ending.status, ending.error = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        try:
            ending.reports = finish_session(session, tracker, ending.status, ending.error)
        finally:
            try:
                if session.store is not None:
                    session.store.close()
            finally:
                session.close_broker()


__all__ = ["Ending", "EquityTracker", "finish_session", "finishing", "server_day"]
