"""Trailing stop and break-even on real XAUUSD M15 bars, and the broker's stop rules.

The buy of ``test_mgmt_partials``: filled at 2198.05 at the open of bar 109 (2024-03-21 10:45),
initial SL 2193.05 (risk 5.00). Bar highs from bar 109: 2201.51, 2202.84, 2205.44, 2205.07,
2206.02, 2210.23, 2211.72; bar 116's low is 2207.48. XAUUSD pip = 0.10.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from tests.management.mgmt_kit import (
    PLAN,
    TICKET,
    XAU,
    bar_at,
    memo_for,
    position,
    quote_after,
    simulate,
)
from trademaestro.execution.intents import ModifyIntent
from trademaestro.execution.management import ManagementDecision, manage
from trademaestro.execution.management_rules import BreakEvenRule, ManagementRules, TrailingRule

ENTRY, SL0 = 2198.05, 2193.05
TRAIL = ManagementRules(trailing=TrailingRule(distance_pips=30, activation_pips=20))
BE = ManagementRules(break_even=BreakEvenRule(at_rr=1, offset_pips=2))


def buy_memo(xau: np.ndarray, sl: float = SL0):
    return memo_for("buy", ENTRY, sl, 0.23, int(xau[109]["time"]))


def at_bar(xau: np.ndarray, rules: ManagementRules, k: int, *, sl: float, tp: float = 0.0,
           spec=XAU, atr: float = math.nan) -> ManagementDecision:
    memo = buy_memo(xau)
    now, bid, ask = quote_after(xau, k, spec)
    return manage(rules, PLAN, position(memo, volume=0.23, sl=sl, tp=tp), memo,
                  bar_at(xau, k, spec), now=now, bid=bid, ask=ask, atr=atr, spec=spec)


def modifies(sim) -> list[tuple[float, str]]:
    return [(m.sl, m.reason) for _, m in sim.modifies]


def test_trailing_30_pips_after_20_pips_follows_each_bar_high(xau: np.ndarray) -> None:
    sim = simulate(TRAIL, xau, buy_memo(xau), 109, 10)
    # high - 3.00 after each bar; bar 112 (2205.07 -> 2202.07) would loosen: nothing sent
    assert sim.sls == [2198.51, 2199.84, 2202.44, 2202.44, 2203.02, 2207.23, 2208.72]
    assert [k for k, intents in sim.intents if intents] == [109, 110, 111, 113, 114, 115]
    assert sim.stopped_at == 116  # bar 116's low 2207.48 reaches the stop 2208.72
    first = sim.modifies[0][1]
    assert first == ModifyIntent(strategy_id=PLAN.strategy_id, symbol="XAUUSD", ticket=TICKET,
                                 sl=2198.51, tp=0.0, magic=PLAN.magic,
                                 client_id=first.client_id, reason="trailing")
    assert first.client_id == f"3ra.{np.base_repr(1711018800, 36).lower()}.m21i3v90"


def test_modify_keeps_the_current_take_profit(xau: np.ndarray) -> None:
    decision = at_bar(xau, TRAIL, 109, sl=SL0, tp=2213.05)
    assert [(i.sl, i.tp) for i in decision.intents if isinstance(i, ModifyIntent)] == [
        (2198.51, 2213.05)]


def test_activation_40_pips_waits_for_bar_110(xau: np.ndarray) -> None:
    rules = ManagementRules(trailing=TrailingRule(distance_pips=30, activation_pips=40))
    assert at_bar(xau, rules, 109, sl=SL0).intents == ()  # 2201.51 - 2198.05 = 3.46 < 4.00
    sim = simulate(rules, xau, buy_memo(xau), 109, 3)
    assert sim.sls == [SL0, 2199.84, 2202.44]


def test_activation_rr_and_no_activation(xau: np.ndarray) -> None:
    half_r = ManagementRules(trailing=TrailingRule(distance_pips=30, activation_rr=0.8))
    # 0.8 R = 4.00: as with 40 pips
    assert simulate(half_r, xau, buy_memo(xau), 109, 3).sls == [SL0, 2199.84, 2202.44]
    always = ManagementRules(trailing=TrailingRule(distance_pips=60))
    # no activation: from the first bar, 2201.51 - 6.00 = 2195.51
    assert simulate(always, xau, buy_memo(xau), 109, 2).sls == [2195.51, 2196.84]


def test_atr_trailing_uses_the_closed_bars_atr(xau: np.ndarray, xau_atr: np.ndarray) -> None:
    assert xau_atr[109] == pytest.approx(3.3235651693826607, abs=1e-12)
    rules = ManagementRules(trailing=TrailingRule(atr_mult=1.0, activation_pips=20))
    sim = simulate(rules, xau, buy_memo(xau), 109, 2, atr=xau_atr)
    # 2201.51 - 3.32357 = 2198.186 -> rounded down 2198.18; 2202.84 - 3.29402 -> 2199.54
    assert sim.sls == [2198.18, 2199.54]
    unknown = at_bar(xau, rules, 109, sl=SL0)
    assert unknown.intents == () and unknown.notes == ("trailing skipped: ATR(14) unknown",)


def test_break_even_moves_once_at_1r(xau: np.ndarray) -> None:
    sim = simulate(BE, xau, buy_memo(xau), 109, 7)
    # 1R = 2203.05 first reached by bar 111 (2205.44): SL to 2198.05 + 2 pips = 2198.25
    assert [(k, [i.sl for i in intents]) for k, intents in sim.intents if intents] == [
        (111, [2198.25])]
    assert modifies(sim) == [(2198.25, "break-even")]


def test_break_even_and_trailing_combine_to_the_tighter_stop(xau: np.ndarray) -> None:
    rules = ManagementRules(trailing=TrailingRule(distance_pips=80, activation_pips=20),
                            break_even=BreakEvenRule(at_rr=1, offset_pips=2))
    sim = simulate(rules, xau, buy_memo(xau), 109, 6)
    # trailing high - 8.00: 2193.51, 2194.84, 2197.44 (bar 111: break-even 2198.25 is
    # tighter), 2197.07, 2198.02 (both below 2198.25: nothing), 2202.23
    assert modifies(sim) == [(2193.51, "trailing"), (2194.84, "trailing"),
                             (2198.25, "break-even"), (2202.23, "trailing")]
    assert sim.sls == [2193.51, 2194.84, 2198.25, 2198.25, 2198.25, 2202.23]


def test_the_stop_never_loosens_and_no_op_modifies_are_not_sent(xau: np.ndarray) -> None:
    assert at_bar(xau, TRAIL, 109, sl=2200.00).intents == ()  # wants 2198.51 < 2200.00
    assert at_bar(xau, TRAIL, 109, sl=2198.51).intents == ()  # the same stop: 10025
    assert [i.sl for i in at_bar(xau, TRAIL, 109, sl=2198.50).intents] == [2198.51]


def test_a_stop_inside_the_stops_level_is_clamped(xau: np.ndarray) -> None:
    spec = dataclasses.replace(XAU, stops_level=300)  # 3.00, +1 point of margin
    decision = at_bar(xau, TRAIL, 109, sl=SL0, spec=spec)
    # quote after bar 109: bid 2201.50 -> the tightest allowed stop is 2201.50 - 3.01
    assert [i.sl for i in decision.intents] == [2198.49]
    assert decision.notes == ("stop 2198.51 inside the stops level (300 points): clamped to "
                              "2198.49",)
    stuck = at_bar(xau, TRAIL, 109, sl=2198.49, spec=spec)
    assert stuck.intents == ()
    assert stuck.notes == ("stop 2198.51 inside the stops level (300 points) and no tighter "
                           "allowed stop: no modify",)


def test_a_take_profit_near_the_market_blocks_the_modify(xau: np.ndarray) -> None:
    spec = dataclasses.replace(XAU, stops_level=20)
    decision = at_bar(xau, TRAIL, 109, sl=SL0, tp=2201.60, spec=spec)  # 0.10 above the bid
    assert decision.intents == ()
    assert "a modify would be refused (10016)" in decision.notes[0]
    assert [i.sl for i in at_bar(xau, TRAIL, 109, sl=SL0, tp=2201.80, spec=spec).intents] == [
        2198.51]


def test_freeze_level_blocks_every_intent(xau: np.ndarray) -> None:
    spec = dataclasses.replace(XAU, freeze_level=50)
    rules = dataclasses.replace(TRAIL, max_holding_seconds=60)  # the time exit is due too
    decision = at_bar(xau, rules, 109, sl=2201.10, spec=spec)  # 0.40 below the bid 2201.50
    assert decision.intents == ()
    assert decision.notes == ("position 123456789: SL/TP within the freeze level (50 points): "
                              "not managed at this bar",)
    far = at_bar(xau, rules, 109, sl=2200.90, spec=spec)  # 0.60: not frozen
    assert [i.reason for i in far.intents] == ["time"]


def test_sell_trailing_is_measured_on_the_ask(xau: np.ndarray) -> None:
    """Sell at bar 116's open (bid 2210.91), SL 2215.91. Ask lows (bid low + 0.05) from bar
    116: 2207.53, 2207.09, 2206.34, 2205.59, 2206.19, 2205.46; bar 122's ask high 2208.84."""
    memo = memo_for("sell", 2210.91, 2215.91, 0.23, int(xau[116]["time"]))
    sim = simulate(TRAIL, xau, memo, 116, 10)
    assert sim.sls == [2210.53, 2210.09, 2209.34, 2208.59, 2208.59, 2208.46]
    assert sim.stopped_at == 122
    bid_bars = xau.copy()
    bid_bars["spread"] = 0
    assert simulate(TRAIL, bid_bars, memo, 116, 1).sls == [2210.48]  # 2207.48 + 3.00
