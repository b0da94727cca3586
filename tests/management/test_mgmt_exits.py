"""Smart exits on real XAUUSD M15 bars (time, RR target, ATR target), their order, and bad input.

The buy of ``test_mgmt_partials``: filled at 2198.05 at the open of bar 109 (2024-03-21 10:45,
server time 1711017900), initial SL 2193.05 (risk 5.00). Bar closes from bar 109: 2201.50,
2202.42, 2204.69, 2204.90, 2205.43, 2209.38.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from tests.management.mgmt_kit import (
    PLAN,
    XAU,
    bar_at,
    memo_for,
    position,
    quote_after,
    simulate,
)
from trademaestro.execution.decide import base36
from trademaestro.execution.intents import CloseIntent
from trademaestro.execution.management import (
    ClosedBar,
    ManagementDecision,
    PositionMemo,
    manage,
)
from trademaestro.execution.management_rules import (
    BreakEvenRule,
    ManagementRules,
    PartialRule,
    TrailingRule,
)

ENTRY, SL0 = 2198.05, 2193.05
OPEN_TIME = 1711017900


def at_bar(xau: np.ndarray, rules: ManagementRules, k: int, *, volume: float = 0.23,
           atr_at_entry: float = math.nan, sl: float = SL0) -> ManagementDecision:
    memo = memo_for("buy", ENTRY, SL0, 0.23, OPEN_TIME, atr_at_entry)
    now, bid, ask = quote_after(xau, k)
    return manage(rules, PLAN, position(memo, volume=volume, sl=sl), memo, bar_at(xau, k),
                  now=now, bid=bid, ask=ask, atr=math.nan, spec=XAU)


def closes(decision: ManagementDecision) -> list[tuple[float, str]]:
    return [(i.volume, i.reason) for i in decision.intents if isinstance(i, CloseIntent)]


def test_time_exit_at_exactly_max_holding_hours(xau: np.ndarray) -> None:
    rules = ManagementRules(max_holding_seconds=2 * 3600)
    # after bar 115 the quote is at 12:30 (1 h 45 min held); after bar 116 at 12:45 = 2 h
    assert quote_after(xau, 115)[0] - OPEN_TIME == 6300
    assert quote_after(xau, 116)[0] - OPEN_TIME == 7200
    assert at_bar(xau, rules, 115).intents == ()
    decision = at_bar(xau, rules, 116, volume=0.12)
    assert closes(decision) == [(0.12, "time")]  # the whole current volume
    assert decision.intents[0].client_id.endswith(f".t{base36(123456789)}0")
    assert decision.notes == ("held 7200 s >= maxHoldingHours (7200 s)",)


def test_rr_target_on_the_close(xau: np.ndarray) -> None:
    rules = ManagementRules(rr_target=1.5)  # 2198.05 + 7.50 = 2205.55
    sim = simulate(rules, xau, memo_for("buy", ENTRY, SL0, 0.23, OPEN_TIME), 109, 10)
    # bar 113 closes at 2205.43 (its high 2206.02 does not count); bar 114 at 2209.38
    assert [(k, [(i.volume, i.reason) for i in it]) for k, it in sim.intents if it] == [
        (114, [(0.23, "target")])]
    assert sim.closes[0].client_id.endswith(f".g{base36(123456789)}0")


def test_atr_target_uses_the_atr_at_entry(xau: np.ndarray, xau_atr: np.ndarray) -> None:
    atr0 = float(xau_atr[108])  # the last closed bar before the entry
    assert atr0 == pytest.approx(3.2661471054890066, abs=1e-12)
    rules = ManagementRules(atr_target=2.0)  # 2198.05 + 6.5323 = 2204.582 -> 2204.59
    assert at_bar(xau, rules, 110, atr_at_entry=atr0).intents == ()  # close 2202.42
    assert closes(at_bar(xau, rules, 111, atr_at_entry=atr0)) == [(0.23, "target")]  # 2204.69
    unknown = at_bar(xau, rules, 111)
    assert unknown.intents == () and unknown.notes == ("atrTarget skipped: ATR at entry unknown",)


def test_order_time_then_target_then_partials_then_stops(xau: np.ndarray) -> None:
    everything = ManagementRules(
        partials=(PartialRule("rr", 1, 50), PartialRule("rr", 2, 50)),
        trailing=TrailingRule(distance_pips=30, activation_pips=20),
        break_even=BreakEvenRule(at_rr=1),
        max_holding_seconds=5 * 3600,
        rr_target=1.5,
    )
    # bar 114: target (close 2209.38 >= 2205.55), 2R partial and trailing are all due
    assert closes(at_bar(xau, everything, 114)) == [(0.23, "target")]
    timed = dataclasses.replace(everything, max_holding_seconds=3600)
    assert closes(at_bar(xau, timed, 114)) == [(0.23, "time")]
    # bar 111: no target (close 2204.69); partial 0.11 then the trailing modify, in that order
    decision = at_bar(xau, everything, 111)
    assert [type(i).__name__ for i in decision.intents] == ["CloseIntent", "ModifyIntent"]
    assert closes(decision) == [(0.11, "partial")]
    assert decision.intents[1].sl == 2202.44  # trailing beats break-even 2198.05
    # a partial that closes the rest of the position sends no modify
    rest = at_bar(xau, dataclasses.replace(everything, rr_target=None), 114, volume=0.12)
    assert closes(rest) == [(0.12, "partial")] and len(rest.intents) == 1


def test_rr_rules_without_an_initial_stop_are_skipped_with_notes(xau: np.ndarray) -> None:
    rules = ManagementRules(rr_target=1.5, break_even=BreakEvenRule(at_rr=1),
                            trailing=TrailingRule(distance_pips=30, activation_rr=1))
    memo = memo_for("buy", ENTRY, 0.0, 0.23, OPEN_TIME)
    now, bid, ask = quote_after(xau, 114)
    decision = manage(rules, PLAN, position(memo, volume=0.23, sl=0.0), memo, bar_at(xau, 114),
                      now=now, bid=bid, ask=ask, atr=math.nan, spec=XAU)
    assert decision.intents == ()
    assert decision.notes == (
        "rrTarget skipped: the position had no initial stop loss",
        "break-even skipped: the position had no initial stop loss",
        "trailing skipped: activationRR needs an initial stop loss",
    )


def test_nothing_to_manage(xau: np.ndarray) -> None:
    assert at_bar(xau, ManagementRules(), 114) == ManagementDecision()
    assert at_bar(xau, ManagementRules(rr_target=1), 114, volume=0.0) == ManagementDecision()


def test_memo_of_another_position_is_refused(xau: np.ndarray) -> None:
    memo = memo_for("buy", ENTRY, SL0, 0.23, OPEN_TIME)
    other = dataclasses.replace(memo, ticket=99)
    with pytest.raises(ValueError, match="memo of position 99"):
        manage(ManagementRules(rr_target=1), PLAN, position(memo, volume=0.23, sl=SL0), other,
               bar_at(xau, 110), now=0, bid=1.0, ask=1.0, atr=math.nan, spec=XAU)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("side", "long", "side 'long'"), ("entry_price", 0.0, "entry_price 0.0"),
     ("initial_volume", math.nan, "initial_volume nan"), ("initial_sl", -1.0, "initial_sl -1.0")],
)
def test_bad_memo_values_are_refused(field: str, value: object, message: str) -> None:
    good = dict(ticket=7, side="buy", entry_price=ENTRY, initial_sl=SL0, initial_volume=0.23,
                open_time=OPEN_TIME)
    with pytest.raises(ValueError, match=message):
        PositionMemo(**{**good, field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(("bid", "ask"), [(0.0, 0.0), (2201.5, 2201.4), (math.nan, 2201.5)])
def test_an_unusable_quote_gives_no_intent(xau: np.ndarray, bid: float, ask: float) -> None:
    memo = memo_for("buy", ENTRY, SL0, 0.23, OPEN_TIME)
    decision = manage(ManagementRules(max_holding_seconds=1), PLAN,
                      position(memo, volume=0.23, sl=SL0), memo, bar_at(xau, 110),
                      now=OPEN_TIME + 10, bid=bid, ask=ask, atr=math.nan, spec=XAU)
    assert decision.intents == () and "no usable quote" in decision.notes[0]


def test_memo_from_a_position_and_closed_bar_from_a_rate(xau: np.ndarray) -> None:
    memo = memo_for("sell", 2210.91, 2215.91, 0.3, 1711024200, 3.2)
    pos = position(memo, volume=0.3, sl=2215.91)
    assert PositionMemo.from_position(pos, 3.2) == memo
    assert memo.initial_risk == pytest.approx(5.0, abs=1e-9)
    assert dataclasses.replace(memo, initial_sl=0.0).initial_risk == 0.0
    assert bar_at(xau, 116) == ClosedBar(1711024200, 2210.91, 2211.66, 2207.48, 2207.69, 0.05)


def test_client_ids_are_unique_per_position_and_short(xau: np.ndarray) -> None:
    rules = ManagementRules(max_holding_seconds=1)
    long_plan = dataclasses.replace(PLAN, tag="zzzzzz")
    ids = set()
    for ticket in (9_999_999_999, 9_999_999_998, 1):
        memo = memo_for("buy", ENTRY, SL0, 0.23, OPEN_TIME, ticket=ticket)
        decision = manage(rules, long_plan, position(memo, volume=0.23, sl=SL0), memo,
                          bar_at(xau, 110), now=2_000_000_000, bid=2201.5, ask=2201.55,
                          atr=math.nan, spec=XAU)
        cid = decision.intents[0].client_id
        assert len(cid) <= 24
        ids.add(cid)
    assert len(ids) == 3
