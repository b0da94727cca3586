"""Compiled condition nodes on real XAUUSD M15 series: every operator, exact bars, NaN, parity."""

from __future__ import annotations

import numpy as np
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from tests.strategy.conftest import XAU_POINT, Bars, read_xau_m15
from trademaestro.indicators.keys import SeriesKey
from trademaestro.strategy.nodes import (
    And,
    AtLeast,
    Compare,
    Condition,
    Confirmed,
    Cross,
    Or,
    Range,
)

CLOSE = SeriesKey("close")
OPEN = SeriesKey("open")
EMA9 = SeriesKey("ema", (9,))
EMA21 = SeriesKey("ema", (21,))
RSI = SeriesKey("rsi", (14,))
MACD = SeriesKey("macd", (12, 26, 9), "line")
SIGNAL = SeriesKey("macd", (12, 26, 9), "signal")
TOL = XAU_POINT / 2

# EMA(9)/EMA(21) of XAUUSD_M15.csv close (TA-Lib seeding): the first crosses, found once from the
# file and fixed here. Bar 38 is 2024.03.20 16:00:00: EMA9 2154.2247 <= EMA21 2154.5073 on bar 37,
# then 2156.0138 > 2155.2948.
EMA_UP_FIRST = [38, 113, 168, 216, 250, 299]
EMA_DOWN_FIRST = [109, 127, 173, 228, 279]
EMA_UP_COUNT = 1047
EMA_DOWN_COUNT = 1046
RSI_UP_30_FIRST = [138, 174, 178, 196, 234]


def _all_at(cond: Condition, series: dict[SeriesKey, NDArray[np.float64]], n: int) -> list[int]:
    return [i for i in range(n) if cond.evaluate_at(series, i)]


def test_ema_cross_above_exact_bars(xau: Bars, xau_series) -> None:
    cond = Cross(EMA9, EMA21, above=True)
    hits = np.flatnonzero(cond.evaluate_all(xau_series))
    assert hits[:6].tolist() == EMA_UP_FIRST
    assert len(hits) == EMA_UP_COUNT
    assert xau.time[38] == "2024.03.20 16:00:00"
    assert cond.evaluate_at(xau_series, 38) is True
    assert cond.evaluate_at(xau_series, 37) is False
    assert cond.evaluate_at(xau_series, 39) is False  # still above: no repeated signal
    assert _all_at(cond, xau_series, 300) == [i for i in EMA_UP_FIRST if i < 300]


def test_ema_cross_below_exact_bars(xau: Bars, xau_series) -> None:
    cond = Cross(EMA9, EMA21, above=False)
    hits = np.flatnonzero(cond.evaluate_all(xau_series))
    assert hits[:5].tolist() == EMA_DOWN_FIRST
    assert len(hits) == EMA_DOWN_COUNT
    assert xau.time[109] == "2024.03.21 10:45:00"
    assert _all_at(cond, xau_series, 300) == [i for i in EMA_DOWN_FIRST if i < 300]


def test_cross_uses_bar_before_last_closed(xau_series) -> None:
    e9, e21 = xau_series[EMA9], xau_series[EMA21]
    assert e9[37] <= e21[37] and e9[38] > e21[38]
    # Same bar, both sides of the definition: the signal is on bar 38, never on 37 (no look-ahead).
    assert not Cross(EMA9, EMA21, above=True).evaluate_at(xau_series, 37)


def test_cross_with_constant_rsi_30(xau_series) -> None:
    cond = Cross(RSI, 30.0, above=True)
    assert np.flatnonzero(cond.evaluate_all(xau_series))[:5].tolist() == RSI_UP_30_FIRST
    rsi = xau_series[RSI]
    assert rsi[137] <= 30 < rsi[138]


def test_cross_first_bar_and_warmup_false(xau_series) -> None:
    cond = Cross(CLOSE, OPEN, above=True)
    assert cond.evaluate_at(xau_series, 0) is False
    assert not cond.evaluate_all(xau_series)[0]
    ema_cross = Cross(EMA9, EMA21, above=True).evaluate_all(xau_series)
    assert not ema_cross[:21].any()  # EMA21 is NaN on bars 0..19; bar 20 compares with NaN


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        (">", 2158.59, True),
        (">", 2158.60, False),
        ("<", 2158.61, True),
        ("<", 2158.60, False),
        ("==", 2158.60, True),
        ("==", 2158.604, True),  # within half a point
        ("==", 2158.61, False),
        ("==", 2158.59, False),
        (">=", 2158.60, True),
        (">=", 2158.61, False),
        ("<=", 2158.60, True),
        ("<=", 2158.59, False),
    ],
)
def test_compare_first_bar_close_2158_60(xau_series, op, value, expected) -> None:
    # XAUUSD_M15.csv row 1: 2024.03.20 06:30:00 close 2158.60
    cond = Compare(CLOSE, op, value, tolerance=TOL)
    assert cond.evaluate_at(xau_series, 0) is expected
    assert bool(cond.evaluate_all(xau_series)[0]) is expected


def test_compare_series_matches_numpy_count(xau: Bars, xau_series) -> None:
    up = Compare(CLOSE, ">", OPEN).evaluate_all(xau_series)
    assert int(up.sum()) == int(np.sum(xau.close > xau.open))
    # Bar 1: open 2158.60, close 2156.85 (a down bar); bar 0: open 2158.99, close 2158.60
    assert not up[0] and not up[1]
    eq = Compare(OPEN, "==", SeriesKey("close"), tolerance=TOL)
    # open of bar 1 equals close of bar 0, not close of bar 1
    assert not eq.evaluate_at(xau_series, 1)


def test_compare_price_above_ema200_warmup(xau_series) -> None:
    cond = Compare(CLOSE, ">", SeriesKey("ema", (200,)))
    out = cond.evaluate_all(xau_series)
    assert not out[:199].any()  # EMA(200) undefined: False, never an error
    assert out[199:].any()


@pytest.mark.parametrize(
    ("lo", "hi", "inside", "bar0", "bar1"),
    [
        (2156.0, 2157.0, True, False, True),  # bar 1 close 2156.85
        (2156.0, 2157.0, False, True, False),
        (2158.60, 2158.60, True, True, False),  # inclusive bounds
        (2156.85, 2158.60, False, False, False),
    ],
)
def test_range_on_real_closes(xau_series, lo, hi, inside, bar0, bar1) -> None:
    cond = Range(CLOSE, lo, hi, inside=inside)
    assert cond.evaluate_at(xau_series, 0) is bar0
    assert cond.evaluate_at(xau_series, 1) is bar1
    assert cond.evaluate_all(xau_series)[:2].tolist() == [bar0, bar1]


def test_range_between_bollinger_bands(xau: Bars, xau_series) -> None:
    upper = SeriesKey("bbands", (20, 2.0), "upper")
    lower = SeriesKey("bbands", (20, 2.0), "lower")
    inside = Range(CLOSE, lower, upper, inside=True).evaluate_all(xau_series)
    outside = Range(CLOSE, lower, upper, inside=False).evaluate_all(xau_series)
    assert not inside[:19].any() and not outside[:19].any()  # NaN bands: neither
    assert (inside[19:] ^ outside[19:]).all()  # afterwards exactly one holds
    expected = (xau.close[19:] > xau_series[upper][19:]) | (xau.close[19:] < xau_series[lower][19:])
    assert (outside[19:] == expected).all()


def test_nan_operand_is_false(xau_series) -> None:
    for cond in (
        Compare(EMA21, "<", 1e9),
        Compare(CLOSE, "<", EMA21),
        Compare(EMA21, "==", EMA21),
        Range(EMA21, -1e9, 1e9, inside=True),
        Range(CLOSE, EMA21, 1e9, inside=False),
        Range(CLOSE, -1e9, EMA21, inside=False),
    ):
        assert cond.evaluate_at(xau_series, 5) is False
        assert not cond.evaluate_all(xau_series)[5]


def test_groups(xau_series) -> None:
    cross = Cross(EMA9, EMA21, above=True)
    rsi_hi = Compare(RSI, ">", 50.0)
    both = And((cross, rsi_hi)).evaluate_all(xau_series)
    either = Or((cross, rsi_hi)).evaluate_all(xau_series)
    a, b = cross.evaluate_all(xau_series), rsi_hi.evaluate_all(xau_series)
    assert (both == (a & b)).all() and (either == (a | b)).all()
    two_of_three = AtLeast(2, (cross, rsi_hi, Compare(CLOSE, ">", OPEN))).evaluate_all(xau_series)
    c = Compare(CLOSE, ">", OPEN).evaluate_all(xau_series)
    assert (two_of_three == ((a.astype(int) + b + c) >= 2)).all()
    assert And((cross,)).series_keys() == {EMA9, EMA21}
    assert Or((cross, rsi_hi)).series_keys() == {EMA9, EMA21, RSI}


def test_bad_nodes_and_indexes(xau_series) -> None:
    with pytest.raises(ValueError, match="at least one child"):
        And(())
    with pytest.raises(ValueError, match="outside"):
        AtLeast(3, (Compare(CLOSE, ">", 1.0),))
    with pytest.raises(IndexError):
        Compare(CLOSE, ">", 1.0).evaluate_at(xau_series, len(xau_series[CLOSE]))
    with pytest.raises(IndexError):
        Cross(CLOSE, OPEN, above=True).evaluate_at(xau_series, -1)
    with pytest.raises(KeyError, match="was not computed"):
        Compare(SeriesKey("cci", (20,)), ">", 1.0).evaluate_all(xau_series)


# --- evaluate_all(...)[i] == evaluate_at(..., i) on real series and random trees -----------------

_N = 1500  # the first bars, including every warm-up NaN of the series below
_KEYS = [CLOSE, OPEN, SeriesKey("high"), SeriesKey("low"), EMA9, EMA21, RSI, MACD, SIGNAL]


@pytest.fixture(scope="module")
def head(shared_data) -> dict[SeriesKey, NDArray[np.float64]]:
    bars = read_xau_m15(shared_data)
    c = bars.close[:_N]
    macd, signal, _ = talib.MACD(c, 12, 26, 9)
    return {
        CLOSE: c, OPEN: bars.open[:_N], SeriesKey("high"): bars.high[:_N],
        SeriesKey("low"): bars.low[:_N], EMA9: talib.EMA(c, 9), EMA21: talib.EMA(c, 21),
        RSI: talib.RSI(c, 14), MACD: macd, SIGNAL: signal,
    }


def _operand(draw, key: SeriesKey, head) -> SeriesKey | float:
    """A series, or a constant taken from the left series itself (so == and crosses hit)."""
    if draw(st.booleans()):
        return draw(st.sampled_from(_KEYS))
    values = head[key]
    return float(values[draw(st.integers(0, _N - 1))])


@st.composite
def trees(draw, head, depth: int = 0) -> Condition:
    groups = ["and", "or", "least", "confirmed", "state"] if depth < 3 else []
    kind = draw(st.sampled_from(["cmp", "cross", "range", *groups]))
    if kind == "confirmed":  # options.confirmationBars
        return Confirmed(draw(trees(head, depth + 1)), draw(st.integers(1, 5)))
    if kind == "state":  # what a tree leaves holding (a cross becomes its relation)
        return draw(trees(head, depth + 1)).state()
    if kind in ("and", "or", "least"):
        children = tuple(draw(st.lists(trees(head, depth + 1), min_size=1, max_size=3)))
        if kind == "and":
            return And(children)
        if kind == "or":
            return Or(children)
        return AtLeast(draw(st.integers(0, len(children))), children)
    left = draw(st.sampled_from(_KEYS))
    if kind == "cmp":
        op = draw(st.sampled_from([">", "<", ">=", "<=", "=="]))
        tol = draw(st.sampled_from([0.0, TOL]))
        return Compare(left, op, _operand(draw, left, head), tolerance=tol)
    if kind == "cross":
        return Cross(left, _operand(draw, left, head), above=draw(st.booleans()))
    lo, hi = _operand(draw, left, head), _operand(draw, left, head)
    return Range(left, lo, hi, inside=draw(st.booleans()))


def test_vectorised_equals_scalar_on_random_trees(head) -> None:
    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(st.data())
    def check(data) -> None:
        tree = data.draw(trees(head))
        every = tree.evaluate_all(head)
        assert every.dtype == np.bool_ and every.shape == (_N,)
        sample = set(data.draw(st.lists(st.integers(0, _N - 1), min_size=20, max_size=40)))
        sample |= {0, 1, 2, 3, 4, 33, 34, 35, _N - 1}
        sample |= set(np.flatnonzero(every)[:30].tolist())
        for i in sorted(sample):
            assert bool(every[i]) is tree.evaluate_at(head, i), (str(tree), i)

    check()
