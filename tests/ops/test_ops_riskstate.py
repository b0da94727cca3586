"""The account risk state survives a restart: saved atomically when it changes, restored in
recovery — a drawdown halt still halts, the equity peak is the old one."""

from __future__ import annotations

from pathlib import Path

from trademaestro.risk.account import AccountRiskState
from trademaestro.risk.limits import RiskLimits
from trademaestro.risk.state import TradingState
from trademaestro.runtime.riskstate import RiskStateFile


def _state() -> AccountRiskState:
    risk = AccountRiskState()
    risk.add_strategy("xau", RiskLimits(150.0, None, 10.0))
    return risk


def test_a_halt_and_the_equity_peak_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite.risk.json"
    before = _state()
    saver = RiskStateFile(path)
    before.update_equity(1710916200, 10_250.0)  # peak 10,250 on 2024-03-20
    saver.save_if_changed(before)
    events = before.update_equity(1710917100, 9_225.0)  # 10 % below the peak
    assert any(e.close_all for e in events)
    saver.save_if_changed(before)

    after = _state()  # the restarted executor
    assert RiskStateFile(path).load_into(after)
    assert after.halted
    assert after.drawdown.peak == 10_250.0
    assert after.state("xau") is TradingState.HALTED
    allowed, why = after.can_enter("xau")
    assert not allowed and "drawdown" in why


def test_nothing_saved_means_nothing_restored(tmp_path: Path) -> None:
    fresh = _state()
    assert not RiskStateFile(tmp_path / "none.json").load_into(fresh)
    assert not fresh.halted


def test_unchanged_state_is_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    risk = _state()
    saver = RiskStateFile(path)
    risk.update_equity(1710916200, 10_000.0)
    saver.save_if_changed(risk)
    first = path.stat().st_mtime_ns
    saver.save_if_changed(risk)
    assert path.stat().st_mtime_ns == first
