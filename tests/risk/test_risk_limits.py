"""Daily loss limit, drawdown emergency stop and the account's risk state, at real bar times.

Bar times of XAUUSD_M15.csv (broker server time): index 1400 = 2024-04-11 12:30 (1712838600);
index 1445 = 2024-04-11 23:45 (1712879100), the last bar of that server day: it closes at
1712880000 = 2024-04-12 00:00, the first second of server day 19825; index 1446 = 2024-04-12
01:00 (1712883600), the first bar after the daily break.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trademaestro.execution.plan import SizingRule
from trademaestro.risk.account import AccountRiskState
from trademaestro.risk.limits import DailyLossGuard, DrawdownGuard, RiskLimits, daily_loss_limit
from trademaestro.risk.sizing import size_entry
from trademaestro.risk.state import TradingState, day_start, server_day

from .conftest import XAU

ACTIVE, REDUCING, HALTED = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED


def test_real_bar_times_and_server_days(xau_bars: np.ndarray) -> None:
    t = xau_bars["time"]
    assert (int(t[1400]), int(t[1445]), int(t[1446])) == (1712838600, 1712879100, 1712883600)
    assert server_day(1712879100) == server_day(1712879999) == 19824
    assert server_day(1712880000) == server_day(1712883600) == 19825
    assert day_start(1712883600) == 1712880000


def test_money_limit_reducing_until_the_next_server_day(xau_bars: np.ndarray) -> None:
    t = [int(x) for x in xau_bars["time"]]
    guard = DailyLossGuard(500.0, strategy_id="xau")
    assert guard.update(t[1400], -300.0, -150.0, 10_000.0) is None  # loss 450 < 500
    event = guard.update(t[1401], -300.0, -200.0, 10_000.0)  # loss 500.00 = the limit
    assert event is not None and (event.before, event.after) == (ACTIVE, REDUCING)
    assert event.strategy_id == "xau" and event.time == t[1401]
    assert "daily loss 500.00" in event.reason and "maxDailyLoss 500.00" in event.reason
    # latched: the floating loss shrinks but new entries stay off for the day
    assert guard.update(t[1402], -300.0, 0.0, 10_000.0) is None and guard.state is REDUCING
    assert guard.update(1712879999, -300.0, 0.0, 10_000.0) is None and guard.state is REDUCING
    # the 23:45 bar closes at 00:00 of the next server day: active again
    back = guard.update(t[1445] + 900, 0.0, 0.0, 10_150.0)
    assert back is not None and (back.before, back.after) == (REDUCING, ACTIVE)
    assert "new server day 19825" in back.reason
    assert guard.update(t[1446], -499.99, 0.0, 10_150.0) is None and guard.state is ACTIVE


def test_percent_limit_of_the_day_start_equity_and_the_stricter_wins(
    xau_bars: np.ndarray,
) -> None:
    t = int(xau_bars["time"][1400])
    # 3 % of 10,000 = 300 < 500: the percentage wins
    assert daily_loss_limit(500.0, 3.0, 10_000.0)[0] == pytest.approx(300.0)
    assert daily_loss_limit(200.0, 3.0, 10_000.0)[0] == 200.0
    assert daily_loss_limit(None, 3.0, None)[0] == math.inf  # not evaluable, said so
    assert "day-start equity unknown" in daily_loss_limit(None, 3.0, None)[1]
    guard = DailyLossGuard(500.0, 3.0)
    assert guard.update(t, -299.99, 0.0, 10_000.0) is None
    event = guard.update(t + 900, -250.0, -50.0, 10_000.0)
    assert event is not None and event.after is REDUCING
    assert "= 300.00" in event.reason


def test_limit_reached_again_at_the_start_of_a_new_day(xau_bars: np.ndarray) -> None:
    t = [int(x) for x in xau_bars["time"]]
    guard = DailyLossGuard(100.0)
    assert guard.update(t[1400], -150.0, 0.0, None) is not None
    # a position carried over midnight is 120 down: the new day starts at the limit
    event = guard.update(t[1446], 0.0, -120.0, None)
    assert event is not None and (event.before, event.after) == (REDUCING, REDUCING)
    assert guard.day == 19825


def test_no_limit_never_reduces_and_bad_pnl_raises() -> None:
    guard = DailyLossGuard()
    assert guard.update(1712838600, -1e9, -1e9, 1.0) is None and guard.state is ACTIVE
    with pytest.raises(ValueError, match="floating: found nan"):
        guard.update(1712838600, 0.0, math.nan, 1.0)


def test_drawdown_stop_at_the_exact_equity() -> None:
    guard = DrawdownGuard(10.0)
    assert guard.update(10_000.0) is None
    assert guard.update(10_250.0) is None  # new peak: trigger 10,250 × 0.9 = 9,225.00
    assert guard.trigger_equity == pytest.approx(9_225.0)
    assert guard.update(9_225.01) is None and guard.state is ACTIVE
    event = guard.update(9_225.00, time=1712838600)
    assert event is not None and (event.before, event.after) == (ACTIVE, HALTED)
    assert event.close_all and event.strategy_id is None and event.time == 1712838600
    assert "drawdown 10.00% from the equity peak 10250.00" in event.reason
    # halted: the peak is frozen, nothing more happens until a person resumes
    assert guard.update(11_000.0) is None and guard.peak == 10_250.0
    resumed = guard.resume("checked by the trader", equity=9_300.0)
    assert (resumed.before, resumed.after) == (HALTED, ACTIVE) and "checked by" in resumed.reason
    assert guard.peak == 9_300.0 and guard.trigger_equity == pytest.approx(8_370.0)
    assert guard.update(8_370.01) is None
    assert guard.update(8_370.0) is not None


def test_account_state_combines_daily_and_drawdown(xau_bars: np.ndarray) -> None:
    t = [int(x) for x in xau_bars["time"]]
    acct = AccountRiskState()
    acct.add_strategy("a", RiskLimits(max_daily_loss_percent=2.0, max_drawdown_percent=10.0))
    acct.add_strategy("b", RiskLimits(max_drawdown_percent=5.0))
    assert acct.drawdown.max_drawdown_percent == 5.0  # the strictest wins
    assert acct.update_equity(t[1400], 10_000.0) == []
    assert acct.day_start_equity == 10_000.0 and acct.day == 19824
    assert acct.can_enter("a") == (True, "active") and acct.can_manage("a")
    # 2 % of 10,000 = 200
    events = acct.update_strategy("a", t[1401], -150.0, -50.0)
    assert [e.after for e in events] == [REDUCING]
    ok, why = acct.can_enter("a")
    assert not ok and why.startswith("reducing:") and acct.can_manage("a")
    assert acct.can_enter("b")[0] and acct.state("a") is REDUCING
    # next server day: the first equity seen is the new day-start equity; a is active again
    events = acct.update_equity(t[1445] + 900, 9_800.0)
    assert [(e.strategy_id, e.after) for e in events] == [("a", ACTIVE)]
    assert acct.day_start_equity == 9_800.0 and acct.can_enter("a")[0]
    # 9,500 <= 10,000 × 0.95: emergency stop for every strategy
    events = acct.update_equity(t[1446], 9_500.0)
    assert len(events) == 1 and events[0].close_all and events[0].after is HALTED
    for sid in ("a", "b"):
        assert acct.state(sid) is HALTED and not acct.can_manage(sid)
        ok, why = acct.can_enter(sid)
        assert not ok and why.startswith("halted:")
    # halted survives a new day; only a person resumes
    acct.update_equity(t[1446] + 86_400, 9_600.0)
    assert acct.halted
    acct.resume("risk reviewed")
    assert not acct.halted and acct.drawdown.peak == 9_600.0 and acct.can_enter("a")[0]
    acct.remove_strategy("b")
    assert acct.drawdown.max_drawdown_percent == 10.0
    assert acct.can_enter("b")[0] is False and not acct.can_manage("b")


def test_day_start_equity_falls_back_to_the_last_equity_seen(xau_bars: np.ndarray) -> None:
    t = [int(x) for x in xau_bars["time"]]
    acct = AccountRiskState()
    acct.add_strategy("a", RiskLimits(max_daily_loss_percent=1.0))
    acct.update_equity(t[1400], 10_000.0)
    # the first call of the new day is the strategy's: the last equity (10,000) starts the day
    events = acct.update_strategy("a", t[1446], 0.0, -100.0)
    assert acct.day == 19825 and acct.day_start_equity == 10_000.0
    assert [e.after for e in events] == [REDUCING]


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    max_loss=st.one_of(st.none(), st.floats(20, 800)),
    max_pct=st.one_of(st.none(), st.floats(0.2, 5)),
    risk_pct=st.floats(0.1, 3),
    k=st.floats(0.2, 3),
)
def test_daily_loss_never_exceeds_the_limit_by_more_than_one_trade(
    xau_bars: np.ndarray, seed: int, max_loss: float | None, max_pct: float | None,
    risk_pct: float, k: float,
) -> None:
    """One position at a time, sized by the sizer, closing within [-1 R, +k R]; the shell
    updates the risk state at every closed bar and after every fill; entries only on can_enter."""
    rng = random.Random(seed)
    start = rng.randrange(0, len(xau_bars) - 700)
    times = [int(x) for x in xau_bars["time"][start : start + 600]]
    acct = AccountRiskState()
    acct.add_strategy("s", RiskLimits(max_loss, max_pct))
    rule = SizingRule(risk_percentage=risk_pct)
    balance, realized, floating, risk = 10_000.0, 0.0, 0.0, 0.0
    day, day_max_risk, reducing_day = None, 0.0, None
    for t in times:
        for when in (t, t + 1):  # the closed bar, then after a fill
            if server_day(when) != day:
                day, realized = server_day(when), 0.0
                day_max_risk = risk  # a position carried over midnight counts today
            acct.update_equity(when, balance + floating)
            for event in acct.update_strategy("s", when, realized, floating):
                if event.after is REDUCING:
                    reducing_day = day
            limit, _ = daily_loss_limit(max_loss, max_pct, acct.day_start_equity)
            assert -(realized + floating) <= limit + day_max_risk + 1e-6
            if when == t + 1:
                break
            if risk > 0:  # manage the open position: move, maybe close at the bar
                floating = rng.uniform(-1.0, k) * risk
                if rng.random() < 0.3:
                    realized += floating
                    balance += floating
                    floating, risk = 0.0, 0.0
            elif rng.random() < 0.5:
                allowed, _ = acct.can_enter("s")
                assert not (allowed and reducing_day == day)
                if allowed:
                    distance = rng.uniform(0.5, 20.0)
                    size = size_entry(rule, XAU, balance + floating, distance)
                    risk = distance / XAU.tick_size * XAU.tick_value * size.volume
                    assert risk <= (balance + floating) * risk_pct / 100
                    day_max_risk = max(day_max_risk, risk)


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    pct=st.floats(1, 30),
    steps=st.lists(st.floats(-0.03, 0.03), min_size=5, max_size=200),
)
def test_drawdown_halts_exactly_below_the_trigger_until_resumed(
    seed: int, pct: float, steps: list[float]
) -> None:
    rng = random.Random(seed)
    acct = AccountRiskState()
    acct.add_strategy("x", RiskLimits(max_drawdown_percent=pct))
    acct.add_strategy("y", RiskLimits(max_drawdown_percent=pct + 5))
    equity, peak, time = 10_000.0, 10_000.0, 1712838600
    assert acct.update_equity(time, equity) == []
    halted = False
    for step in steps:
        time += 900
        equity *= 1 + step
        events = acct.update_equity(time, equity)
        if not halted:
            peak = max(peak, equity)
            should_halt = equity <= peak * (1 - pct / 100) + 1e-6
            assert bool(events) == should_halt
            halted = should_halt
        else:
            assert events == []
        assert acct.halted == halted
        assert acct.can_enter("x")[0] is not halted and acct.can_enter("y")[0] is not halted
        if halted and rng.random() < 0.1:
            acct.resume("test")
            halted, peak = False, equity
