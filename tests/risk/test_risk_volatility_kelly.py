"""reduceInHighVolatility on real XAUUSD bars (TA-Lib oracle) and fractional Kelly by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import talib
from hypothesis import given
from hypothesis import strategies as st

from trademaestro.execution.plan import KellyRule, SizingRule
from trademaestro.risk.kelly import KellyStats, kelly_risk_percent
from trademaestro.risk.volatility import (
    AtrAverage,
    rule_multiplier,
    volatility_multiplier,
    volatility_ratio,
)

CPI = 1327  # 2024-04-10 17:15 server time, US CPI day: ATR 2.28 × its 50-bar average


def test_streaming_atr_average_equals_talib(xau_bars: np.ndarray) -> None:
    bars = xau_bars[:2000]
    atr = talib.ATR(bars["high"], bars["low"], bars["close"], 14)
    avg = talib.SMA(atr, 50)
    stream = AtrAverage(14, 50)
    got = np.array([stream.update(b["high"], b["low"], b["close"]) for b in bars])
    # warm-up: ATR from bar 14, its average from bar 14 + 49 = 63
    assert np.isnan(got[:14, 0]).all() and not np.isnan(got[14, 0])
    assert np.isnan(got[:63, 1]).all() and not np.isnan(got[63, 1])
    np.testing.assert_allclose(got[:, 0], atr, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(got[:, 1], avg, rtol=1e-12, equal_nan=True)
    assert got[CPI, 0] == pytest.approx(7.16551669062102, rel=1e-12)
    assert got[CPI, 1] == pytest.approx(3.136262402673052, rel=1e-12)


def test_cpi_bar_is_a_high_volatility_bar(xau_bars: np.ndarray) -> None:
    stream = AtrAverage(14, 50)
    for b in xau_bars[: CPI + 1]:
        atr, avg = stream.update(b["high"], b["low"], b["close"])
    assert int(xau_bars["time"][CPI]) == 1712769300
    ratio = volatility_ratio(atr, avg)
    assert ratio == pytest.approx(2.2847312407641063, rel=1e-9)
    mult, reason = volatility_multiplier(atr, avg, 2.0)
    assert mult == pytest.approx(2.0 / 2.2847312407641063, rel=1e-9)
    assert "size × 0.8754" in reason
    # the quiet bar 500 (2024-03-27 16:30): ATR 3.5788 is 1.379 × its average 2.5957
    full, why = volatility_multiplier(3.578811766424716, 2.5957379758232526, 2.0)
    assert full == 1.0 and "full size" in why
    # threshold 2.5: the CPI bar is below it
    assert volatility_multiplier(atr, avg, 2.5)[0] == 1.0


def test_unknown_volatility_is_full_size() -> None:
    for atr, avg in ((math.nan, 3.0), (3.0, math.nan), (3.0, 0.0), (math.inf, 3.0)):
        mult, reason = volatility_multiplier(atr, avg, 2.0)
        assert mult == 1.0 and reason.startswith("unknown")
    with pytest.raises(ValueError, match="volatilityThreshold"):
        volatility_multiplier(3.0, 1.0, 0.0)
    assert rule_multiplier(SizingRule(), 9.0, 1.0) == (1.0, "")
    assert rule_multiplier(SizingRule(volatility_threshold=2.0), 9.0, 1.0)[0] == pytest.approx(
        2 / 9)


@given(atr=st.floats(1e-6, 1e3), avg=st.floats(1e-6, 1e3), threshold=st.floats(0.1, 10))
def test_volatility_multiplier_is_in_0_1(atr: float, avg: float, threshold: float) -> None:
    mult, _ = volatility_multiplier(atr, avg, threshold)
    assert 0 < mult <= 1
    if atr / avg > threshold:
        assert mult < 1
        assert mult * (atr / avg) == pytest.approx(threshold, rel=1e-12)


CFG = KellyRule(fraction=0.5, max_risk_percent=2.0, min_trades=4)


def test_kelly_hand_series_half_kelly_capped() -> None:
    # wins 200, 200; losses -100, -100: W = 0.5, R = 200 / 100 = 2 -> f* = 0.5 - 0.5 / 2 = 0.25
    stats = KellyStats.from_trades([200.0, -100.0, 200.0, -100.0])
    assert (stats.count, stats.wins, stats.losses) == (4, 2, 2)
    assert stats.win_rate == pytest.approx(0.5)
    assert stats.payoff_ratio == pytest.approx(2.0)
    assert stats.kelly_fraction == pytest.approx(0.25)
    percent, reason = kelly_risk_percent(stats, CFG, 1.0)  # half Kelly 12.5 % -> cap 2 %
    assert percent == 2.0 and "capped at 2%" in reason
    uncapped, _ = kelly_risk_percent(stats, KellyRule(0.05, 2.0, 4), 1.0)  # 0.05 × 25 % = 1.25 %
    assert uncapped == pytest.approx(1.25)


def test_kelly_no_edge_is_no_trade_and_few_trades_fall_back() -> None:
    # W = 0.25, R = 150 / 50 = 3: f* = 0.25 - 0.75 / 3 = 0.0 -> no trade
    even = KellyStats.from_trades([150.0, -50.0, -50.0, -50.0])
    assert even.kelly_fraction == pytest.approx(0.0, abs=1e-15)
    percent, reason = kelly_risk_percent(even, CFG, 1.0)
    assert percent == 0.0 and "no edge" in reason
    losing = KellyStats.from_trades([-10.0, -20.0, -5.0, -1.0])
    assert losing.kelly_fraction == -1.0 and kelly_risk_percent(losing, CFG, 1.0)[0] == 0.0
    few = KellyStats.from_trades([100.0, 100.0, -10.0])
    assert kelly_risk_percent(few, CFG, 1.0) == (1.0, "Kelly: 3 of 4 trades closed; "
                                                       "riskPercentage 1% applies")
    assert kelly_risk_percent(few, CFG, None)[0] is None


def test_kelly_with_no_losses_is_capped_and_breakevens_count() -> None:
    stats = KellyStats.from_trades([10.0, 0.0, 30.0, 5.0])
    assert stats.payoff_ratio == math.inf and stats.win_rate == pytest.approx(0.75)
    assert stats.kelly_fraction == pytest.approx(0.75)  # f* = W when R is infinite
    assert kelly_risk_percent(stats, CFG, 1.0)[0] == 2.0
    assert KellyStats.from_trades([]).count == 0


def test_kelly_rejects_non_finite_results() -> None:
    with pytest.raises(ValueError, match=r"net_results\[1\]: found nan"):
        KellyStats.from_trades([1.0, math.nan])


@given(st.lists(st.floats(-1e4, 1e4), min_size=1, max_size=60))
def test_kelly_percent_is_within_0_and_the_cap(results: list[float]) -> None:
    stats = KellyStats.from_trades(results)
    percent, _ = kelly_risk_percent(stats, KellyRule(0.5, 2.0, 1), 1.0)
    assert percent is not None and 0.0 <= percent <= 2.0
    assert stats.wins + stats.losses <= stats.count == len(results)
