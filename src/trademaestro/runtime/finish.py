"""Ending a run: equity samples, the close at the end of the data, deals, the run record, report."""

from __future__ import annotations

import logging
from typing import Any

from trademaestro.runtime.session import Session

log = logging.getLogger("trademaestro.finish")

# Deals are stamped in server time; widen history windows by a day on each side (MT5_API §10.3).
_DAY = 86_400
_FLUSH_EVERY = 5_000


class EquityTracker:
    """Samples (time, balance, equity) after each bar: every bar while positions are open, and
    whenever the balance changed while flat. Samples are written to the recorder in batches."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._replay = session.emulator.replay
        self._had_positions = False
        self._last_balance = session.settings.balance

    def sample(self, time: int) -> None:
        """Take the sample for the bar that just ended at server time ``time``."""
        replay = self._replay
        has_positions = replay.has_positions
        if not has_positions and not self._had_positions:
            return
        self._had_positions = has_positions
        balance, equity = replay.balance_equity()
        if not has_positions and abs(balance - self._last_balance) < 1e-9:
            return
        self._last_balance = balance
        buf = self.session.equity_buffer
        buf.append((int(time), balance, equity))
        if len(buf) >= _FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        """Write the buffered samples."""
        buf = self.session.equity_buffer
        if buf:
            self.session.recorder.equity(list(buf))
            buf.clear()


def finish_session(
    session: Session, tracker: EquityTracker, status: str, error: str | None = None
) -> dict[str, Any] | None:
    """Close the run: on ``completed`` close open positions at the last bar's close (reason
    ``end``); record deals, equity and the run's end; return the report (None without a store).
    """
    rates = session.rates
    adapter = session.adapter
    if status == "completed":
        quote = adapter.quote(session.symbol)
        session.runner.close_all("end", quote.time)
        tracker.sample(quote.time)
    account = adapter.account()
    if session.equity_buffer or status == "completed":
        session.equity_buffer.append((int(rates["time"][-1]), account.balance, account.equity))
    tracker.flush()
    deals = adapter.deals(int(rates["time"][0]) - _DAY, int(rates["time"][-1]) + 2 * _DAY)
    session.recorder.deals(deals)
    volume_in: dict[int, float] = {}
    for deal in deals:
        pid = int(deal["position_id"])
        if deal["entry"] == 0:
            volume_in[pid] = volume_in.get(pid, 0.0) + float(deal["volume"])
        elif deal["entry"] in (1, 3):
            volume_in[pid] = volume_in.get(pid, 0.0) - float(deal["volume"])
            if volume_in[pid] < 1e-9:
                session.recorder.position_closed(pid, int(deal["time"]))
    store, run_id = session.store, session.run_id
    if store is None or run_id is None:
        return None
    store.finish_run(
        run_id,
        status=status,
        final_balance=account.balance,
        final_equity=account.equity,
        error=error,
    )
    from trademaestro.report.build import build_report

    return build_report(store, run_id)
