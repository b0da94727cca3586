"""Invariants of the position manager over real XAUUSD M15 bar sequences and random rules."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.management.mgmt_kit import XAU, memo_for, simulate
from trademaestro.core.symbols import SymbolSpec
from trademaestro.execution.manage_stops import round_away, stop_gap
from trademaestro.execution.manage_volumes import partial_schedule
from trademaestro.execution.management_rules import (
    BreakEvenRule,
    ManagementRules,
    PartialRule,
    TrailingRule,
)

PROPS = settings(max_examples=300, deadline=None, derandomize=True)
TOL = 1e-9


def on_grid(value: float, step: float) -> bool:
    return abs(value / step - round(value / step)) < 1e-6


percentages = st.lists(st.integers(1, 100), min_size=1, max_size=4).map(
    lambda ps: [max(1, p * 100 // max(100, sum(ps))) for p in ps])
levels = st.lists(
    st.tuples(st.sampled_from(["rr", "pips"]), st.floats(0.1, 3.0)), min_size=4, max_size=4)


@st.composite
def partial_rules(draw: st.DrawFn) -> tuple[PartialRule, ...]:
    pcts = draw(percentages)
    if draw(st.booleans()):  # make them sum to exactly 100
        pcts[-1] = 100 - sum(pcts[:-1]) if sum(pcts[:-1]) < 100 else pcts[-1]
    where = draw(levels)
    return tuple(
        PartialRule(kind, value if kind == "rr" else value * 50, float(p))
        for (kind, value), p in zip(where, pcts, strict=False)
    )


@st.composite
def management(draw: st.DrawFn) -> ManagementRules:
    trailing = None
    if draw(st.booleans()):
        use_atr = draw(st.booleans())
        activation = draw(st.sampled_from(["none", "pips", "rr"]))
        trailing = TrailingRule(
            distance_pips=None if use_atr else draw(st.floats(3.0, 150.0)),
            atr_mult=draw(st.floats(0.3, 4.0)) if use_atr else None,
            activation_pips=draw(st.floats(0.0, 100.0)) if activation == "pips" else None,
            activation_rr=draw(st.floats(0.0, 3.0)) if activation == "rr" else None,
        )
    be = None
    if draw(st.booleans()):
        be = BreakEvenRule(draw(st.floats(0.2, 3.0)), draw(st.floats(0.0, 20.0)))
    partials = draw(partial_rules()) if draw(st.integers(0, 2)) else ()
    return ManagementRules(partials=partials, trailing=trailing, break_even=be)


specs = st.builds(
    lambda vmin, stops, freeze: dataclasses.replace(
        XAU, volume_min=vmin, stops_level=stops, freeze_level=freeze),
    st.sampled_from([0.01, 0.05, 0.1]),
    st.sampled_from([0, 10, 50, 300]),
    st.sampled_from([0, 0, 20]),
)


@PROPS
@given(
    start=st.integers(20, 47_000),
    side=st.sampled_from(["buy", "sell"]),
    stop_pips=st.floats(20.0, 400.0),
    lots=st.integers(1, 300),
    rules=management(),
    spec=specs,
)
def test_simulated_management_invariants(
    xau: np.ndarray, xau_atr: np.ndarray, start: int, side: str, stop_pips: float, lots: int,
    rules: ManagementRules, spec: SymbolSpec,
) -> None:
    sign = 1.0 if side == "buy" else -1.0
    bid = float(xau[start]["open"])
    entry = round(bid + int(xau[start]["spread"]) * spec.point, 2) if side == "buy" else bid
    sl0 = round_away(spec, entry - sign * stop_pips * spec.pip, -sign)
    initial = spec.floor_volume(lots * 0.01)
    if initial < spec.volume_min:
        initial = spec.volume_min
    memo = memo_for(side, entry, sl0, initial, int(xau[start]["time"]),  # type: ignore[arg-type]
                    float(xau_atr[start - 1]))
    sim = simulate(rules, xau, memo, start, 60, spec=spec, atr=xau_atr)

    # the stop only tightens, by more than half a point (never a no-op), on the tick grid,
    # at least the stops level (+1 point) away from the quote it was sent at
    for (before, modify), (_, q_bid, q_ask) in zip(sim.modifies, sim.quotes, strict=True):
        assert before <= 0 or sign * (modify.sl - before) > spec.point / 2
        assert on_grid(modify.sl, spec.tick_size)
        ref = q_bid if side == "buy" else q_ask
        assert sign * (ref - modify.sl) >= stop_gap(spec) - spec.point / 2
    sls = [s for s in sim.sls if s > 0]
    assert all(sign * (b - a) >= -TOL for a, b in itertools.pairwise(sls))

    # volumes: every close a valid volume; what stays open is 0 or at least the minimum
    for close in sim.closes:
        assert close.volume >= spec.volume_min - TOL and on_grid(close.volume, spec.volume_step)
    assert all(v >= -TOL and (v < TOL or v >= spec.volume_min - TOL) for v in sim.volumes)
    partial_total = math.fsum(c.volume for c in sim.closes if c.reason == "partial")
    assert partial_total <= initial + TOL
    # closes come only from partial levels here, and only when levels exist
    assert all(c.reason == "partial" for c in sim.closes)
    assert rules.partials or not sim.closes


@PROPS
@given(
    partials=partial_rules(),
    lots=st.integers(1, 2000),
    vmin=st.sampled_from([0.01, 0.02, 0.1, 0.5, 1.0]),
    step=st.sampled_from([0.01, 0.1]),
    risk=st.floats(0.0, 20.0),
)
def test_schedule_invariants(
    partials: tuple[PartialRule, ...], lots: int, vmin: float, step: float, risk: float
) -> None:
    spec = dataclasses.replace(XAU, volume_min=max(vmin, step), volume_step=step)
    initial = max(spec.floor_volume(lots * 0.01), spec.volume_min)
    schedule = partial_schedule(partials, sign=1.0, entry=2000.0, risk=risk,
                                initial_volume=initial, spec=spec)
    assert schedule.total <= initial + TOL
    cumulative = 0.0
    previous_price = -math.inf
    for level in schedule.levels:
        assert level.volume < TOL or level.volume >= spec.volume_min - TOL
        assert on_grid(level.volume, step)
        cumulative += level.volume
        assert abs(level.cumulative - cumulative) < TOL
        left = initial - cumulative
        assert left > -TOL and (left < TOL or left >= spec.volume_min - TOL)
        assert level.price >= previous_price  # nearest first
        previous_price = level.price
    if all(p.kind == "pips" or risk > 0 for p in partials) and abs(
        sum(p.percentage for p in partials) - 100
    ) < TOL and initial >= spec.volume_min * len(partials):
        # percentages summing to 100 close the whole position when every level can be traded
        assert abs(schedule.total - initial) < TOL
