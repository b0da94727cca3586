"""Sizing: exact cases on real XAUUSD bars and the risk-budget invariant over many symbol specs.

XAUUSD: tick 0.01 worth 1.00 USD per lot, so a stop of D price units loses D × 100 USD per lot.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from trademaestro.core.symbols import SymbolSpec
from trademaestro.execution.plan import SizingRule
from trademaestro.risk.sizing import (
    DEFAULT_ATR_RISK_PERCENT,
    atr_stop_distance,
    size_entry,
    size_volume,
)
from trademaestro.risk.volatility import volatility_multiplier

from .conftest import EUR, JPY, XAU

# 2024-03-27 16:30 server time (bar index 500 of XAUUSD_M15.csv): ATR(14) from TA-Lib.
BAR_500_TIME = 1711557000
ATR_500 = 3.578811766424716
# 2024-04-10 17:15 (index 1327), US CPI day: ATR(14) and SMA(ATR, 50) from TA-Lib.
BAR_CPI_TIME = 1712769300
ATR_CPI = 7.16551669062102
ATR_CPI_AVG = 3.136262402673052


def _talib_atr(bars: np.ndarray) -> np.ndarray:
    return talib.ATR(bars["high"], bars["low"], bars["close"], 14)


def test_real_atr_values_are_the_pinned_ones(xau_bars: np.ndarray) -> None:
    atr = _talib_atr(xau_bars)
    assert int(xau_bars["time"][500]) == BAR_500_TIME
    assert atr[500] == pytest.approx(ATR_500, rel=1e-12)
    assert int(xau_bars["time"][1327]) == BAR_CPI_TIME
    assert atr[1327] == pytest.approx(ATR_CPI, rel=1e-12)


def test_atr_stop_distance_and_volume_on_a_real_bar() -> None:
    # 1.5 × 3.578811766 = 5.368217650 price units = 536.82 USD per lot; 100 / 536.82 = 0.18628
    assert atr_stop_distance(ATR_500, 1.5) == pytest.approx(5.368217649637074, rel=1e-12)
    rule = SizingRule(risk_percentage=1.0, atr_multiplier=1.5)
    size = size_entry(rule, XAU, 10_000.0, 0.0, atr=ATR_500)
    assert size.volume == 0.18
    assert "0.1863 lots -> 0.18" in size.reason
    # ∝ 1/ATR: the CPI bar's ATR 7.1655 gives 100 / 1074.83 = 0.09304 -> 0.09
    assert size_entry(rule, XAU, 10_000.0, 0.0, atr=ATR_CPI).volume == 0.09


def test_brief_example_and_default_percent_of_atr_sizing() -> None:
    # ATR 3.456 × 1.5 = 5.184 -> 100 / 518.4 = 0.1929 -> 0.19; no riskPercentage: 1 %.
    assert DEFAULT_ATR_RISK_PERCENT == 1.0
    rule = SizingRule(atr_multiplier=1.5, lot_size=0.5)
    size = size_entry(rule, XAU, 10_000.0, 0.0, atr=3.456)
    assert size.volume == 0.19
    assert "default risk" in size.reason


def test_atr_sizing_uses_the_wider_of_the_real_stop_and_the_atr_stop() -> None:
    rule = SizingRule(risk_percentage=1.0, atr_multiplier=1.5)
    # real stop 5.19 (the ATR stop rounded away from the market): 100 / 519 = 0.1927 -> 0.19
    assert size_entry(rule, XAU, 10_000.0, 5.19, atr=3.456).volume == 0.19
    # a wider real stop of 10.00: 100 / 1000 = 0.10
    assert size_entry(rule, XAU, 10_000.0, 10.0, atr=3.456).volume == 0.1


def test_atr_sizing_during_the_warm_up_is_no_trade() -> None:
    rule = SizingRule(risk_percentage=1.0, atr_multiplier=1.5)
    size = size_entry(rule, XAU, 10_000.0, 5.0, atr=math.nan)
    assert size.volume == 0.0 and "ATR(14) unknown" in size.reason
    assert math.isnan(atr_stop_distance(math.nan, 1.5))
    assert math.isnan(atr_stop_distance(0.0, 1.5))
    with pytest.raises(ValueError, match="atrMultiplier"):
        atr_stop_distance(3.0, 0.0)


def test_volatility_multiplier_shrinks_the_cpi_bar_volume() -> None:
    mult, reason = volatility_multiplier(ATR_CPI, ATR_CPI_AVG, 2.0)
    # ratio 7.16552 / 3.13626 = 2.28473 > 2 -> 2 / 2.28473 = 0.875376
    assert mult == pytest.approx(2.0 / (ATR_CPI / ATR_CPI_AVG), rel=1e-12)
    assert mult == pytest.approx(0.8753765, abs=1e-7)
    assert "high volatility" in reason
    rule = SizingRule(risk_percentage=1.0, atr_multiplier=1.5)
    # 100 × 0.875376 / 1074.83 = 0.08144 -> 0.08
    size = size_entry(rule, XAU, 10_000.0, 0.0, atr=ATR_CPI, multiplier=mult)
    assert size.volume == 0.08


def test_multiplier_and_kelly_percent() -> None:
    rule = SizingRule(risk_percentage=1.0)
    # 1 % × 0.5 = 50 USD over 5.00 (500 per lot) = 0.10
    assert size_entry(rule, XAU, 10_000.0, 5.0, multiplier=0.5).volume == 0.1
    # Kelly 2 % overrides riskPercentage: 200 / 500 = 0.40
    assert size_entry(rule, XAU, 10_000.0, 5.0, kelly_percent=2.0).volume == 0.4
    no_edge = size_entry(rule, XAU, 10_000.0, 5.0, kelly_percent=0.0)
    assert no_edge.volume == 0.0 and "Kelly" in no_edge.reason
    for bad in (0.0, -1.0, math.nan, math.inf):
        assert size_entry(rule, XAU, 10_000.0, 5.0, multiplier=bad).volume == 0.0
    assert size_entry(rule, XAU, math.nan, 5.0).volume == 0.0


def test_fixed_lots_times_a_multiplier_round_down_never_up() -> None:
    assert size_entry(SizingRule(lot_size=0.15), XAU, 10_000.0, 0.0, multiplier=0.5).volume == 0.07
    tiny = size_entry(SizingRule(), XAU, 10_000.0, 0.0, multiplier=0.5)  # 0.01 × 0.5
    assert tiny.volume == 0.0 and "below the minimum" in tiny.reason
    # plain riskPercentage with no stop falls back on lotSize (existing behaviour)
    assert size_entry(SizingRule(lot_size=0.2, risk_percentage=1.0), XAU, 1e4, 0.0).volume == 0.2
    assert size_entry(SizingRule(risk_percentage=1.0), XAU, 1e4, 0.0).volume == 0.0


def test_cap_at_the_maximum_volume_and_unknown_tick_value() -> None:
    # 1 % of 100,000,000 over 0.50 (50 per lot) = 20,000 lots -> capped at 100
    big = size_entry(SizingRule(risk_percentage=1.0), XAU, 1e8, 0.5)
    assert big.volume == 100.0 and "capped" in big.reason
    no_tv = SymbolSpec(name="X", digits=2, point=0.01, tick_size=0.01, tick_value=0.0,
                       contract_size=1, volume_min=0.01, volume_max=1, volume_step=0.01)
    assert size_entry(SizingRule(risk_percentage=1.0), no_tv, 1e4, 1.0).volume == 0.0


def test_size_volume_is_size_entry_without_extras() -> None:
    rule = SizingRule(risk_percentage=1.0)
    assert size_volume(rule, XAU, 10_000.0, 5.19) == size_entry(rule, XAU, 10_000.0, 5.19)


def test_eurusd_and_usdjpy_exact() -> None:
    rule = SizingRule(risk_percentage=1.0)
    # EURUSD 20 pips = 0.00200 = 200 ticks × 1.00 = 200 USD per lot: 100 / 200 = 0.50
    assert size_entry(rule, EUR, 10_000.0, 0.00200).volume == 0.5
    # USDJPY 20 pips = 0.200 = 200 ticks × 0.6667 = 133.33 USD per lot: 100 / 133.33 = 0.75
    assert size_entry(rule, JPY, 10_000.0, 0.200).volume == 0.75


_STEPS = st.sampled_from([(0.01, 0.01), (0.01, 0.1), (0.1, 0.1), (1.0, 1.0), (0.001, 0.01)])
_TICKS = st.sampled_from([
    (0.01, 1.0),  # XAUUSD
    (0.00001, 1.0),  # EURUSD
    (0.001, 100 / 150.0),  # USDJPY, USD account
    (0.001, 100 / 157.3),
    (0.25, 12.5),  # an index future
    (0.00001, 0.7634),  # EURGBP-like
])


@settings(max_examples=400, deadline=None)
@given(
    step_min=_STEPS,
    tick=_TICKS,
    vmax=st.sampled_from([1.0, 50.0, 100.0, 500.0]),
    equity=st.floats(10, 1e7),
    pct=st.floats(0.01, 10),
    ticks_away=st.floats(1, 1e5),
    multiplier=st.floats(0.01, 1.5),
)
def test_money_at_risk_never_exceeds_the_budget(
    step_min: tuple[float, float], tick: tuple[float, float], vmax: float, equity: float,
    pct: float, ticks_away: float, multiplier: float,
) -> None:
    step, vmin = step_min
    tick_size, tick_value = tick
    spec = SymbolSpec(name="S", digits=5, point=0.00001, tick_size=tick_size,
                      tick_value=tick_value, contract_size=1.0, volume_min=vmin,
                      volume_max=vmax, volume_step=step)
    distance = ticks_away * tick_size
    volume = size_entry(SizingRule(risk_percentage=pct), spec, equity, distance,
                        multiplier=multiplier).volume
    budget = equity * pct / 100.0 * multiplier
    loss_per_lot = distance / tick_size * tick_value
    assert volume * loss_per_lot <= budget
    if volume > 0:
        assert vmin - 1e-9 <= volume <= vmax
        assert abs(volume / step - round(volume / step)) < 1e-6
    # rounded down by less than one step (unless capped); zero only below the minimum
    if volume <= 0:
        assert vmin * loss_per_lot > budget * (1 - 1e-9)
    elif volume < vmax - 1e-9:
        assert (volume + step) * loss_per_lot > budget * (1 - 1e-9)
