"""Signal confirmation (``options.confirmationBars``): ``Confirmed``/``confirm`` and
``Condition.state`` on real EMA crosses of XAUUSD M15, plus properties."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from tests.mtf.conftest import index_of
from trademaestro.core.timeframes import Timeframe
from trademaestro.indicators.keys import SeriesKey
from trademaestro.indicators.mtf import MultiTimeframeEngine
from trademaestro.strategy.loader import load_strategy
from trademaestro.strategy.nodes import (
    And,
    AtLeast,
    Compare,
    Condition,
    Confirmed,
    Cross,
    Or,
    Range,
    confirm,
)
from trademaestro.strategy.rules import compile_entry

EMA9, EMA21, RSI = SeriesKey("ema", (9,)), SeriesKey("ema", (21,)), SeriesKey("rsi", (14,))
CLOSE, EMA20_H1 = SeriesKey("close"), SeriesKey("ema", (20,), timeframe=Timeframe.H1)
CROSS_UP = Cross(EMA9, EMA21, above=True)
Series = dict[SeriesKey, NDArray[np.float64]]


@pytest.fixture(scope="module")
def series(gold_m15: np.ndarray) -> Series:
    engine = MultiTimeframeEngine(Timeframe.M15, [EMA9, EMA21, RSI, CLOSE, EMA20_H1])
    engine.extend(gold_m15)
    return {key: engine.values(key) for key in engine.keys}


def test_state_versions() -> None:
    assert CROSS_UP.state() == Compare(EMA9, ">", EMA21)
    assert Cross(RSI, 30.0, above=False).state() == Compare(RSI, "<", 30.0)
    level = Compare(RSI, ">", 50.0, 0.005)
    band = Range(CLOSE, 1.0, 2.0, inside=True)
    assert level.state() is level and band.state() is band
    tree = Or((And((CROSS_UP, level)), AtLeast(1, (Cross(CLOSE, EMA9, False), band))))
    assert tree.state() == Or((And((Compare(EMA9, ">", EMA21), level)),
                               AtLeast(1, (Compare(CLOSE, "<", EMA9), band))))
    assert Confirmed(CROSS_UP, 3).state() == Compare(EMA9, ">", EMA21)


def test_two_bars_confirm_an_ema_cross_one_bar_later(series, gold_m15) -> None:
    crosses = np.flatnonzero(CROSS_UP.evaluate_all(series))
    assert crosses[:3].tolist() == [38, 113, 168] and crosses.size == 1047
    e9, e21 = series[EMA9], series[EMA21]
    expected = [c + 1 for c in crosses if c + 1 < e9.size and e9[c + 1] > e21[c + 1]]
    got = np.flatnonzero(Confirmed(CROSS_UP, 2).evaluate_all(series))
    assert got.tolist() == expected
    assert got[:3].tolist() == [39, 114, 169] and got.size == 983
    # bar 38 (2024-03-20 16:00) crosses; bar 39 keeps EMA9 above EMA21: the signal is at 39 only
    node = Confirmed(CROSS_UP, 2)
    assert [node.evaluate_at(series, i) for i in (37, 38, 39, 40)] == [False, False, True, False]
    # a whipsaw: the 2024-03-27 03:15 cross (bar 447) is undone on the next bar, never confirmed
    assert index_of(gold_m15, "2024-03-27 03:15") == 447 and CROSS_UP.evaluate_at(series, 447)
    assert e9[448] < e21[448] and not node.evaluate_at(series, 448)


def test_three_bars_on_a_cross_and_level(series) -> None:
    tree = And((CROSS_UP, Compare(RSI, ">", 50.0)))
    fired = tree.evaluate_all(series)
    held = (series[EMA9] > series[EMA21]) & (series[RSI] > 50)
    n = fired.size
    expected = [i + 2 for i in np.flatnonzero(fired) if i + 2 < n and held[i + 1] and held[i + 2]]
    got = Confirmed(tree, 3).evaluate_all(series)
    assert np.flatnonzero(got).tolist() == expected
    assert int(fired.sum()) == 1042 and int(got.sum()) == 794 and expected[0] == 40


def test_confirm_helper_and_bad_bars(series) -> None:
    assert confirm(CROSS_UP, 1) is CROSS_UP
    assert confirm(CROSS_UP, 4) == Confirmed(CROSS_UP, 4)
    assert str(Confirmed(CROSS_UP, 2)) == "CONFIRMED 2 bars (ema(9) crosses_above ema(21))"
    assert Confirmed(CROSS_UP, 2).series_keys() == {EMA9, EMA21}
    for bad in (0, -1, 2.0, True, "2"):
        with pytest.raises(ValueError, match=r"confirmation bars: found .*; allowed: an integer"):
            confirm(CROSS_UP, bad)  # type: ignore[arg-type]
    node = Confirmed(CROSS_UP, 5)
    assert [node.evaluate_at(series, i) for i in range(4)] == [False] * 4
    with pytest.raises(IndexError):
        node.evaluate_at(series, len(series[EMA9]))
    with pytest.raises(IndexError):
        node.evaluate_at(series, -1)
    short = {k: v[:3] for k, v in series.items()}
    assert not node.evaluate_all(short).any() and node.evaluate_all(short).shape == (3,)


def _entry(options: dict[str, Any] | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"strategyId": "c", "symbol": "XAUUSD", "timeframe": "M15", "rules": {
        "entry": {"buy": {"conditions": [{"indicator": "ema_9", "condition": "crosses_above",
                                          "indicatorRef": "ema_21"}]},
                  "sell": {"conditions": [{"indicator": "ema_9", "condition": "crosses_below",
                                           "indicatorRef": "ema_21"}]}}}}
    if options is not None:
        doc["options"] = options
    return doc


def test_compile_entry_applies_confirmation_bars_to_every_direction() -> None:
    down = Cross(EMA9, EMA21, above=False)
    loaded = load_strategy(_entry({"confirmationBars": 3}))
    assert loaded.unsupported == []
    assert compile_entry(loaded.spec, 0.01) == {"buy": Confirmed(CROSS_UP, 3),
                                                "sell": Confirmed(down, 3)}
    for options in (None, {"confirmationBars": 1}):
        assert compile_entry(load_strategy(_entry(options)).spec, 0.01) == {
            "buy": CROSS_UP, "sell": down}


def test_confirmed_htf_level_counts_primary_bars(series) -> None:
    """An H1 level confirmed on 4 M15 bars: the H1 value is constant inside the hour, so it
    holds on 4 bars in a row exactly when it held on the 4 bars' H1 values."""
    level = Compare(CLOSE, ">", EMA20_H1)
    got = Confirmed(level, 4).evaluate_all(series)
    base = level.evaluate_all(series)
    window = np.lib.stride_tricks.sliding_window_view(base, 4).all(axis=1)
    np.testing.assert_array_equal(got[3:], window)
    assert not got[:3].any()


# --- properties: Confirmed's definition, on real series and random trees ----------------------

LEAVES = [CROSS_UP, Cross(EMA9, EMA21, above=False), Compare(RSI, ">", 50.0),
          Compare(CLOSE, ">", EMA9), Cross(RSI, 50.0, above=True), Range(RSI, 40.0, 60.0, True)]


@st.composite
def trees(draw: Any, depth: int = 0) -> Condition:
    if depth >= 2 or draw(st.booleans()):
        return draw(st.sampled_from(LEAVES))
    children = tuple(draw(st.lists(trees(depth + 1), min_size=1, max_size=3)))
    kind = draw(st.sampled_from(["and", "or", "least", "confirmed"]))
    if kind == "and":
        return And(children)
    if kind == "or":
        return Or(children)
    if kind == "least":
        return AtLeast(draw(st.integers(0, len(children))), children)
    return Confirmed(children[0], draw(st.integers(1, 4)))


def test_confirmed_matches_its_definition(series) -> None:
    head = {k: v[:3000] for k, v in series.items()}

    @settings(max_examples=80, deadline=None, derandomize=True)
    @given(trees(), st.integers(1, 6))
    def check(tree: Condition, bars: int) -> None:
        fired, held = tree.evaluate_all(head), tree.state().evaluate_all(head)
        got = Confirmed(tree, bars).evaluate_all(head)
        expected = np.zeros_like(fired)
        for i in range(bars - 1, fired.size):
            expected[i] = fired[i - bars + 1] and held[i - bars + 2 : i + 1].all()
        np.testing.assert_array_equal(got, expected)
        assert not (got & ~np.roll(fired, bars - 1)).any()  # never without the original signal
        for i in [*np.flatnonzero(got)[:10].tolist(), 0, bars - 1, bars, 2999]:
            assert Confirmed(tree, bars).evaluate_at(head, i) is bool(got[i])

    check()
