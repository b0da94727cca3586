"""Partial take-profit levels on real XAUUSD M15 bars, hand-checked.

The buy: 2024-03-21 10:45 (bar 109 of XAUUSD_M15.csv) opens at bid 2198.00 with a spread of 5
points, so a market buy fills at the ask 2198.05. Stop 50 pips = 5.00 -> initial SL 2193.05,
initial risk 5.00. Levels: 1R = 2203.05, 2R = 2208.05. Bar highs (bid) from bar 109: 2201.51,
2202.84, 2205.44 (bar 111: 1R first reached), 2205.07, 2206.02, 2210.23 (bar 114: 2R first
reached).
"""

from __future__ import annotations

import dataclasses

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
from trademaestro.execution.intents import CloseIntent
from trademaestro.execution.manage_volumes import partial_due, partial_schedule
from trademaestro.execution.management import ManagementDecision, manage
from trademaestro.execution.management_rules import ManagementRules, PartialRule

ENTRY, SL0 = 2198.05, 2193.05
HALVES = ManagementRules(partials=(PartialRule("rr", 1, 50), PartialRule("rr", 2, 50)))


def open_time(xau: np.ndarray) -> int:
    return int(xau[109]["time"])


def run(xau: np.ndarray, rules: ManagementRules, k: int, volume: float,
        initial: float = 0.23, spec=XAU) -> ManagementDecision:
    memo = memo_for("buy", ENTRY, SL0, initial, open_time(xau))
    now, bid, ask = quote_after(xau, k, spec)
    return manage(rules, PLAN, position(memo, volume=volume, sl=SL0), memo, bar_at(xau, k, spec),
                  now=now, bid=bid, ask=ask, atr=float("nan"), spec=spec)


def test_real_bars_and_quotes_are_what_the_scenario_says(xau: np.ndarray) -> None:
    assert int(xau[109]["time"]) == 1711017900  # 2024-03-21 10:45 server time
    assert (xau[109]["open"], xau[109]["spread"]) == (2198.0, 5)
    assert list(xau["high"][109:115]) == [2201.51, 2202.84, 2205.44, 2205.07, 2206.02, 2210.23]
    assert quote_after(xau, 109) == (1711018800, 2201.5, 2201.55)


def test_two_halves_of_023_lots_close_011_then_012_at_the_bars_they_are_reached(
    xau: np.ndarray,
) -> None:
    schedule = partial_schedule(HALVES.partials, sign=1, entry=ENTRY, risk=5.0,
                                initial_volume=0.23, spec=XAU)
    assert [(lv.price, lv.volume, lv.cumulative) for lv in schedule.levels] == [
        (2203.05, 0.11, 0.11), (2208.05, 0.12, 0.23)]  # floor(0.115) = 0.11; the rest 0.12
    assert schedule.notes == ()
    memo = memo_for("buy", ENTRY, SL0, 0.23, open_time(xau))
    sim = simulate(HALVES, xau, memo, 109, 10)
    closes = [(k, i.volume, i.reason) for k, intents in sim.intents for i in intents]
    assert closes == [(111, 0.11, "partial"), (114, 0.12, "partial")]
    assert sim.volumes == [0.23, 0.23, 0.12, 0.12, 0.12, 0.0]
    first = sim.closes[0]
    assert first == CloseIntent(
        strategy_id=PLAN.strategy_id, symbol="XAUUSD", ticket=TICKET, side="buy", volume=0.11,
        magic=PLAN.magic, client_id=first.client_id, reason="partial")
    # <tag>.<time of bar 112's open in base 36>.p<ticket in base 36>0
    assert first.client_id == f"3ra.{np.base_repr(1711020600, 36).lower()}.p21i3v90"


def test_a_level_done_is_derived_from_the_volume_after_a_restart(xau: np.ndarray) -> None:
    # bar 112 reaches 1R again (high 2205.07) but not 2R
    assert run(xau, HALVES, 112, volume=0.12).intents == ()  # 0.11 already closed
    again = run(xau, HALVES, 112, volume=0.23)  # 1R reached and not done yet
    assert [(i.volume, i.reason) for i in again.intents] == [(0.11, "partial")]
    # a manual close of 0.03 lots counts: 0.11 - 0.03 = 0.08 are left for level 1
    manual = run(xau, HALVES, 111, volume=0.20)
    assert [i.volume for i in manual.intents] == [0.08]


def test_levels_reached_in_one_bar_close_as_one_deal(xau: np.ndarray) -> None:
    # 90 and 100 pips (2207.05, 2208.05) are both first reached by bar 114 (high 2210.23)
    rules = ManagementRules(partials=(
        PartialRule("pips", 100, 30), PartialRule("pips", 90, 30), PartialRule("rr", 3, 40)))
    schedule = partial_schedule(rules.partials, sign=1, entry=ENTRY, risk=5.0,
                                initial_volume=0.23, spec=XAU)
    # sorted by distance: 9.00, 10.00, 15.00; 30 % = 0.069 -> 0.06; the last takes 0.11
    assert [(lv.price, lv.volume) for lv in schedule.levels] == [
        (2207.05, 0.06), (2208.05, 0.06), (2213.05, 0.11)]
    assert run(xau, rules, 113, volume=0.23).intents == ()  # high 2206.02
    decision = run(xau, rules, 114, volume=0.23)
    assert [(i.volume, i.reason) for i in decision.intents] == [(0.12, "partial")]
    assert "partial levels [0, 1] reached: close 0.12 lots" in decision.notes


MIN_010 = dataclasses.replace(XAU, volume_min=0.1)


@pytest.mark.parametrize(
    ("pcts", "initial", "expected", "total"),
    [
        # 30 % of 0.23 = 0.06 < 0.10: merged into the next level (0.06 + 0.06 = 0.12)
        ((30, 30, 40), 0.23, [0.0, 0.12, 0.11], 0.23),
        # 70 % of 0.25 = 0.17 would leave 0.08 < 0.10: trimmed to 0.15, 0.10 stays open
        ((70,), 0.25, [0.15], 0.15),
        # 60 % of 0.19 = 0.11 would leave 0.08; trimming leaves 0.09 < 0.10: close all 0.19
        ((60,), 0.19, [0.19], 0.19),
        # 50 % of 0.15 = 0.07 < 0.10 and nothing after it: never closed by the levels
        ((50,), 0.15, [0.0], 0.0),
        # the 0.02 trimmed off level 0 move to level 1: 0.05 + 0.02 = 0.07 < 0.10, and no
        # level follows: 0.10 stays open
        ((70, 20), 0.25, [0.15, 0.0], 0.15),
        # with a third level (percentages sum to 100) the last takes the rest, 0.25 - 0.17 -
        # 0.05 = 0.03, plus the 0.07 carried: 0.10, and the position closes completely
        ((70, 20, 10), 0.25, [0.15, 0.0, 0.10], 0.25),
    ],
)
def test_volume_minimum_rules(
    pcts: tuple[float, ...], initial: float, expected: list[float], total: float
) -> None:
    partials = tuple(PartialRule("pips", 10.0 * (i + 1), p) for i, p in enumerate(pcts))
    schedule = partial_schedule(partials, sign=1, entry=ENTRY, risk=5.0,
                                initial_volume=initial, spec=MIN_010)
    assert [lv.volume for lv in schedule.levels] == expected
    assert schedule.total == pytest.approx(total, abs=1e-9)


def test_a_due_volume_below_the_minimum_is_skipped_with_a_note(xau: np.ndarray) -> None:
    # with minimum 0.10, level 1 closes 0.11; after a manual close of 0.06 lots only 0.05 are
    # due at 1R, which the broker would refuse (10014)
    decision = run(xau, HALVES, 111, volume=0.17, spec=MIN_010)
    assert decision.intents == ()
    assert "partial levels [0] skipped: 0.05 lots is below the minimum volume (0.1)" in (
        decision.notes)


def test_a_due_volume_never_leaves_less_than_the_minimum_open() -> None:
    # a position larger than its memo says (0.32 vs 0.23): closing the scheduled 0.23 would
    # leave 0.09 < 0.10, so the whole position closes
    schedule = partial_schedule(HALVES.partials, sign=1, entry=ENTRY, risk=5.0,
                                initial_volume=0.23, spec=MIN_010)
    due = partial_due(schedule, sign=1, extreme=2210.23, initial_volume=0.23,
                      current_volume=0.32, spec=MIN_010)
    assert (due.volume, due.levels) == (0.32, (0, 1))


def test_rr_levels_need_an_initial_stop(xau: np.ndarray) -> None:
    memo = memo_for("buy", ENTRY, 0.0, 0.23, open_time(xau))
    now, bid, ask = quote_after(xau, 114)
    decision = manage(HALVES, PLAN, position(memo, volume=0.23, sl=0.0), memo, bar_at(xau, 114),
                      now=now, bid=bid, ask=ask, atr=float("nan"), spec=XAU)
    assert decision.intents == ()
    assert decision.notes[:2] == ("partial level 0 (atRR 1) skipped: no initial stop",
                                  "partial level 1 (atRR 2) skipped: no initial stop")


def test_sell_levels_are_measured_on_the_ask(xau: np.ndarray) -> None:
    """Sell at bar 116's open, bid 2210.91; SL 50 pips above = 2215.91, 1R = 2205.91. Bar
    lows (bid) 2207.48, 2207.04, 2206.29, 2205.54; with the 5-point spread the ask lows are
    2207.53, 2207.09, 2206.34, 2205.59 -> 1R first reached at bar 119."""
    assert list(xau["low"][116:120]) == [2207.48, 2207.04, 2206.29, 2205.54]
    assert set(xau["spread"][116:120]) == {5}
    memo = memo_for("sell", 2210.91, 2215.91, 0.23, int(xau[116]["time"]))
    sim = simulate(HALVES, xau, memo, 116, 6)
    assert [(k, i.volume, i.side) for k, intents in sim.intents for i in intents] == [
        (119, 0.11, "sell")]
    # 38.5 pips = 2207.06: bar 117's bid low 2207.04 is beyond it, its ask low 2207.09 not
    near = ManagementRules(partials=(PartialRule("pips", 38.5, 50),))
    now, bid, ask = quote_after(xau, 117)
    pos = position(memo, volume=0.23, sl=2215.91)
    on_ask = manage(near, PLAN, pos, memo, bar_at(xau, 117), now=now, bid=bid, ask=ask,
                    atr=float("nan"), spec=XAU)
    assert on_ask.intents == ()
    on_bid = manage(near, PLAN, pos, memo, dataclasses.replace(bar_at(xau, 117), spread=0.0),
                    now=now, bid=bid, ask=ask, atr=float("nan"), spec=XAU)
    assert [i.volume for i in on_bid.intents] == [0.11]
