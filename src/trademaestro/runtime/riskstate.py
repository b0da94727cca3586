"""The account risk state across restarts, in an atomic state file.

A restarted executor must not forget the equity peak of the drawdown stop, a halt that waits for
a person, or the day-start equity and the daily-loss states of the current server day: they are
saved (write-temp, fsync, rename: :mod:`trademaestro.persistence.atomic`) whenever they change,
next to the database (``<db>.risk.json``), and restored in recovery mode.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from trademaestro.persistence.atomic import load_state, save_state
from trademaestro.risk.account import AccountRiskState
from trademaestro.risk.state import TradingState

log = logging.getLogger("trademaestro.riskstate")


def snapshot(risk: AccountRiskState) -> dict[str, Any]:
    """The parts of the risk state that must survive a restart (JSON-able)."""
    dd = risk.drawdown
    return {
        "peak": None if math.isnan(dd.peak) else dd.peak,
        "drawdown_state": dd.state.value,
        "drawdown_reason": dd.reason,
        "day": risk.day,
        "day_start_equity": risk.day_start_equity,
        "guards": {
            sid: {"state": g.state.value, "reason": g.reason, "day": g.day}
            for sid, g in risk.guards().items()
        },
    }


def restore(risk: AccountRiskState, state: dict[str, Any]) -> None:
    """Put a saved :func:`snapshot` back (strategies not registered any more are ignored)."""
    dd = risk.drawdown
    if state.get("peak") is not None:
        dd.peak = float(state["peak"])
    dd.state = TradingState(state.get("drawdown_state", dd.state.value))
    dd.reason = str(state.get("drawdown_reason", dd.reason))
    risk.day = state.get("day")
    risk.day_start_equity = state.get("day_start_equity")
    for sid, saved in state.get("guards", {}).items():
        guard = risk.guards().get(sid)
        if guard is not None:
            guard.state = TradingState(saved["state"])
            guard.reason = str(saved["reason"])
            guard.day = saved["day"]


class RiskStateFile:
    """Saves the risk state when it changed; loads it in recovery."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._last: dict[str, Any] | None = None

    def save_if_changed(self, risk: AccountRiskState) -> None:
        """Write the state file when the snapshot differs from the last one written."""
        current = snapshot(risk)
        if current != self._last:
            save_state(self.path, current)
            self._last = current

    def load_into(self, risk: AccountRiskState) -> bool:
        """Restore a saved state; False when there is none."""
        state = load_state(self.path)
        if not isinstance(state, dict):
            return False
        restore(risk, state)
        self._last = snapshot(risk)
        log.warning(
            "recovery: risk state restored (equity peak %s, drawdown %s)",
            state.get("peak"),
            state.get("drawdown_state"),
        )
        return True
