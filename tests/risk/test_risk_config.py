"""From a loaded strategy document to SizingRule and RiskLimits; the support table."""

from __future__ import annotations

from typing import Any

import pytest

from trademaestro.core.errors import StrategyError
from trademaestro.execution.plan import KellyRule, SizingRule
from trademaestro.risk.config import risk_limits_of, sizing_rule_of
from trademaestro.risk.limits import RiskLimits
from trademaestro.strategy.loader import load_strategy


def _doc(**rules: Any) -> dict[str, Any]:
    return {"strategyId": "t", "symbol": "XAUUSD", "timeframe": "M15",
            "rules": {"entry": {"direction": "buy", "conditions": [
                {"indicator": "ema_9", "condition": "crosses_above", "indicatorRef": "ema_21"}]},
                **rules}}


def test_full_blocks_map_to_rules_and_are_supported() -> None:
    loaded = load_strategy(_doc(
        riskManagement={"lotSize": 0.1, "maxPositions": 1, "maxDailyLoss": 500,
                        "maxDailyLossPercent": 3, "maxDrawdownPercent": 10},
        dynamicRisk={"riskPercentage": 1.0, "useATRSizing": True, "atrMultiplier": 1.5,
                     "volatilityThreshold": 2.0, "reduceInHighVolatility": True,
                     "kelly": {"enabled": True, "minTrades": 20}},
    ))
    spec = loaded.spec
    assert sizing_rule_of(spec.risk_management, spec.dynamic_risk) == SizingRule(
        lot_size=0.1, risk_percentage=1.0, atr_multiplier=1.5, atr_period=14,
        volatility_threshold=2.0, volatility_lookback=50,
        kelly=KellyRule(fraction=0.5, max_risk_percent=2.0, min_trades=20))
    assert risk_limits_of(spec.risk_management) == RiskLimits(500.0, 3.0, 10.0)
    assert not [p for p in loaded.unsupported if "riskManagement" in p or "dynamicRisk" in p]


def test_switched_off_parts_stay_plain() -> None:
    spec = load_strategy(_doc(dynamicRisk={
        "riskPercentage": 0.5, "useATRSizing": False, "atrMultiplier": 2.0,
        "volatilityThreshold": 2.0, "reduceInHighVolatility": False,
        "kelly": {"enabled": False}})).spec
    assert sizing_rule_of(spec.risk_management, spec.dynamic_risk) == SizingRule(
        risk_percentage=0.5)
    assert sizing_rule_of(None, None) == SizingRule()
    assert risk_limits_of(None) == RiskLimits()


def test_reduce_in_high_volatility_needs_a_threshold() -> None:
    # Rejected when the strategy loads (the model), with the JSON path.
    with pytest.raises(StrategyError) as info:
        load_strategy(_doc(dynamicRisk={"riskPercentage": 1.0, "reduceInHighVolatility": True}))
    assert info.value.json_path == "rules.dynamicRisk.volatilityThreshold"
    assert "reduceInHighVolatility" in info.value.allowed
