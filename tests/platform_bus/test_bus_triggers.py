"""Supervisor triggers: each rule at, inside and outside its bound."""

from __future__ import annotations

import math

import pytest

from trademaestro.core.errors import ConfigError
from trademaestro.platform.triggers import (
    PostTrade,
    PreTrade,
    atr_near_bounds,
    correlated_exposure_high,
    daily_loss_near_limit,
    ml_score_low,
    post_trade_reasons,
    pre_trade_reasons,
    spread_near_max,
)


def test_spread_near_max() -> None:
    assert spread_near_max(26.9, 30) == []  # 30 * 0.9 = 27
    assert spread_near_max(27.5, 30) == ["spread 27.5 within 10% of its max 30 points"]
    assert spread_near_max(31, 30) == ["spread 31 within 10% of its max 30 points"]
    assert spread_near_max(None, 30) == [] and spread_near_max(29, None) == []


def test_atr_near_bounds() -> None:
    assert atr_near_bounds(2.0, 1.0, 4.0) == []
    assert atr_near_bounds(1.05, 1.0, 4.0) == ["ATR 1.05 within 10% of its minimum 1"]
    assert atr_near_bounds(3.7, 1.0, 4.0) == ["ATR 3.7 within 10% of its maximum 4"]
    assert atr_near_bounds(3.7, None, 4.0) == ["ATR 3.7 within 10% of its maximum 4"]
    assert atr_near_bounds(1.05, 1.0, 1.1) == ["ATR 1.05 within 10% of its minimum 1",
                                               "ATR 1.05 within 10% of its maximum 1.1"]


def test_ml_daily_loss_exposure() -> None:
    assert ml_score_low(0.6) == [] and ml_score_low(0.61) == []
    assert ml_score_low(0.59) == ["ML signal score 0.59 below 0.6"]
    assert daily_loss_near_limit(4.0, 5.0) == []  # exactly 80 %: not above
    assert daily_loss_near_limit(4.1, 5.0) == ["daily loss 4.1% above 80% of its limit 5%"]
    assert daily_loss_near_limit(-2.0, 5.0) == []  # a profitable day
    assert correlated_exposure_high(1.0, 1.0) == []
    assert correlated_exposure_high(1.2, 1.0) == ["correlated exposure 1.2 lots above 1"]


def test_pre_trade_collects_every_reason_in_order() -> None:
    facts = PreTrade(spread=28, max_spread=30, atr=3.9, atr_min=0.5, atr_max=4.0, ml_score=0.4,
                     daily_loss_pct=4.5, daily_loss_limit_pct=5, correlated_exposure=2.5,
                     correlated_exposure_max=2.0)
    assert pre_trade_reasons(facts) == [
        "spread 28 within 10% of its max 30 points",
        "ATR 3.9 within 10% of its maximum 4",
        "ML signal score 0.4 below 0.6",
        "daily loss 4.5% above 80% of its limit 5%",
        "correlated exposure 2.5 lots above 2",
    ]
    calm = PreTrade(spread=10, max_spread=30, atr=2.0, atr_min=0.5, atr_max=4.0, ml_score=0.8,
                    daily_loss_pct=1.0, daily_loss_limit_pct=5, correlated_exposure=0.5,
                    correlated_exposure_max=2.0)
    assert pre_trade_reasons(calm) == []
    assert pre_trade_reasons(PreTrade()) == []


def test_post_trade_outliers() -> None:
    facts = PostTrade(slippage_points=-45, slippage_max=30, latency_ms=850, latency_max_ms=900,
                      spread=60, spread_max=50, reject_rate=0.2, reject_rate_max=0.1)
    assert post_trade_reasons(facts) == [
        "slippage 45 points above its threshold 30 points",
        "spread 60 points above its threshold 50 points",
        "reject rate 0.2 above its threshold 0.1",
    ]


def test_non_finite_values_and_bad_thresholds() -> None:
    assert spread_near_max(math.nan, 30) == ["spread is not a finite number (nan)"]
    assert ml_score_low(math.inf) == ["ML signal score is not a finite number (inf)"]
    for bad in (0, -1, math.nan, math.inf):
        with pytest.raises(ConfigError, match="max_spread: found"):
            spread_near_max(10, bad)
