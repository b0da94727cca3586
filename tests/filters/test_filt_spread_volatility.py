"""Spread and volatility filters on real XAUUSD M15 bars: spread from the bar's spread column
(points → pips), ATR from TA-Lib on the same bars."""

from __future__ import annotations

import math

import numpy as np
import pytest
import talib
from numpy.typing import NDArray
from pydantic import ValidationError

from tests.filters.conftest import bar_at
from tests.filters.helpers import EUR, JPY, XAU, ctx, st
from trademaestro.core.errors import ConfigError
from trademaestro.filters import SpreadFilter, VolatilityFilter, spread_pips
from trademaestro.strategy.limits import SpreadFilter as SpreadModel
from trademaestro.strategy.limits import VolatilityFilter as VolatilityModel


def quote_of(bar: NDArray[np.void], point: float) -> dict[str, float]:
    """Bid = the bar's close; ask = bid + spread points (bars are bid prices)."""
    bid = float(bar["close"])
    return {"bid": bid, "ask": round(bid + int(bar["spread"]) * point, 5)}


def test_xauusd_33_points_is_3_3_pips(xau: NDArray[np.void]) -> None:
    t = st("2024-07-17 10:45:00")
    bar = bar_at(xau, t)
    assert int(bar["spread"]) == 33
    q = quote_of(bar, XAU.point)
    assert spread_pips(q["bid"], q["ask"], XAU.point, XAU.pip) == pytest.approx(3.3, abs=1e-12)
    equal = SpreadFilter(3.3).check(ctx(t, **q))
    assert (equal.allow, equal.multiplier, equal.reason) == (True, 1.0, "spread 3.3 <= 3.3 pips")
    skip = SpreadFilter(3.2).check(ctx(t, **q))
    assert (skip.allow, skip.reason) == (False, "spread 3.3 > 3.2 pips")
    reduce = SpreadFilter(3.0, action="REDUCE_SIZE", multiplier=0.5).check(ctx(t, **q))
    assert (reduce.allow, reduce.multiplier) == (True, 0.5)
    assert reduce.reason == "spread 3.3 > 3 pips: size × 0.5"


def test_other_digits() -> None:
    eur = SpreadFilter(1.5).check(ctx(0, symbol="EURUSD", spec=EUR, bid=1.16340, ask=1.16357))
    assert (eur.allow, eur.reason) == (False, "spread 1.7 > 1.5 pips")
    jpy = SpreadFilter(2.0).check(ctx(0, symbol="USDJPY", spec=JPY, bid=156.123, ask=156.141))
    assert (jpy.allow, jpy.reason) == (True, "spread 1.8 <= 2 pips")


@pytest.mark.parametrize(("bid", "ask"), [(2000.0, 1999.9), (math.nan, 2000.0),
                                          (2000.0, math.inf)])
def test_bad_quote_denies(bid: float, ask: float) -> None:
    verdict = SpreadFilter(100).check(ctx(0, bid=bid, ask=ask))
    assert not verdict.allow and verdict.reason.startswith("no valid quote")


def test_whole_file_denies_exactly_the_wide_bars(xau: NDArray[np.void]) -> None:
    f = SpreadFilter(3.0)  # 30 points
    denied = sum(not f.check(ctx(int(b["time"]), **quote_of(b, XAU.point))).allow
                 for b in xau[::7])
    assert denied == int(np.count_nonzero(xau["spread"][::7] > 30))
    assert denied > 0


def test_verdicts_are_shared_per_spread_and_follow_the_spec() -> None:
    f = SpreadFilter(1.5)
    a = f.check(ctx(0, symbol="EURUSD", spec=EUR, bid=1.16340, ask=1.16357))
    b = f.check(ctx(900, symbol="EURUSD", spec=EUR, bid=1.20000, ask=1.20017))
    assert a is b and a.reason == "spread 1.7 > 1.5 pips"
    # Same name, another spec object (pip 1 point): the cache follows the spec.
    fine = EUR.__class__(**{**{k: getattr(EUR, k) for k in EUR.__dataclass_fields__},
                            "pip_size": 0.00001})
    c = f.check(ctx(0, symbol="EURUSD", spec=fine, bid=1.16340, ask=1.16357))
    assert c.reason == "spread 17 > 1.5 pips"


def test_spread_from_model() -> None:
    model = SpreadModel.model_validate({"maxSpread": 2, "action": "reduce_size",
                                        "multiplier": 0.4})
    f = SpreadFilter.from_model(model)
    assert (f.max_pips, f.action, f.multiplier) == (2.0, "REDUCE_SIZE", 0.4)
    assert f.describe() == "spread: above 2 pips size × 0.4"
    with pytest.raises(ConfigError, match="pips > 0"):
        SpreadFilter(0)


@pytest.fixture(scope="module")
def atr14(xau: NDArray[np.void]) -> NDArray[np.float64]:
    out: NDArray[np.float64] = talib.ATR(xau["high"], xau["low"], xau["close"], timeperiod=14)
    return out


def _at(xau: NDArray[np.void], atr14: NDArray[np.float64], server: str) -> tuple[int, float]:
    t = st(server)
    bar_at(xau, t)
    return t, float(atr14[int(np.searchsorted(xau["time"], t))])


def test_quiet_bar_below_min(xau: NDArray[np.void], atr14: NDArray[np.float64]) -> None:
    t, atr = _at(xau, atr14, "2024-07-10 10:00:00")
    assert atr == pytest.approx(1.858639273, abs=1e-9)
    skip = VolatilityFilter(period=14, min_atr=2.0, max_atr=15.0).check(ctx(t, atr={14: atr}))
    assert (skip.allow, skip.reason) == (False, "ATR(14) 1.85864 outside [2, 15]")
    ok = VolatilityFilter(period=14, min_atr=1.0, max_atr=15.0).check(ctx(t, atr={14: atr}))
    assert (ok.allow, ok.multiplier, ok.reason) == (True, 1.0, "ATR(14) within [1, 15]")


def test_turbulent_bar_above_max(xau: NDArray[np.void], atr14: NDArray[np.float64]) -> None:
    t, atr = _at(xau, atr14, "2026-02-02 03:00:00")
    assert atr == pytest.approx(74.11307614, abs=1e-7)
    skip = VolatilityFilter(period=14, max_atr=15.0).check(ctx(t, atr={14: atr}))
    assert (skip.allow, skip.reason) == (False, "ATR(14) 74.1131 outside [-, 15]")
    reduce = VolatilityFilter(period=14, min_atr=1.0, max_atr=15.0, action="REDUCE_SIZE",
                              multiplier=0.5).check(ctx(t, atr={14: atr}))
    assert (reduce.allow, reduce.multiplier) == (True, 0.5)


def test_warm_up_and_missing_period_deny(xau: NDArray[np.void],
                                         atr14: NDArray[np.float64]) -> None:
    assert math.isnan(atr14[13]) and not math.isnan(atr14[14])
    f = VolatilityFilter(period=14, min_atr=1.0, action="REDUCE_SIZE", multiplier=0.5)
    warm = f.check(ctx(int(xau["time"][13]), atr={14: float(atr14[13])}))
    assert (warm.allow, warm.reason) == (False, "ATR(14) unknown (warm-up)")
    assert not f.check(ctx(0, atr={20: 3.0})).allow
    assert f.check(ctx(int(xau["time"][14]), atr={14: float(atr14[14])})).allow  # 1.502 >= 1


def test_bounds_are_inclusive() -> None:
    f = VolatilityFilter(period=5, min_atr=1.5, max_atr=2.0)
    assert f.check(ctx(0, atr={5: 1.5})).allow and f.check(ctx(0, atr={5: 2.0})).allow
    assert not f.check(ctx(0, atr={5: 1.4999999})).allow
    assert not f.check(ctx(0, atr={5: 2.0000001})).allow


def test_volatility_from_model_and_errors() -> None:
    model = VolatilityModel.model_validate({"minATR": 1, "maxATR": 15, "period": 21})
    f = VolatilityFilter.from_model(model)
    assert (f.period, f.min_atr, f.max_atr, f.action) == (21, 1.0, 15.0, "SKIP")
    assert f.describe() == "volatility: ATR(21) within [1, 15] else skip"
    # A multiplier above 1 never gets this far: the strategy model rejects it at load.
    with pytest.raises(ValidationError, match=r"\(0, 1\]"):
        VolatilityModel.model_validate({"maxATR": 15, "action": "REDUCE_SIZE", "multiplier": 2})
    normal = VolatilityFilter.from_model(
        VolatilityModel.model_validate({"maxATR": 15, "action": "NORMAL", "multiplier": 0.5})
    )
    assert normal.describe() == "volatility: ATR(14) within [-, 15] else normal size"
    with pytest.raises(ConfigError, match="minATR <= maxATR"):
        VolatilityFilter(period=14, min_atr=3, max_atr=2)
    with pytest.raises(ConfigError, match="minATR and/or maxATR"):
        VolatilityFilter(period=14)
