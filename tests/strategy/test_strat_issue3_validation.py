"""Load-time rejection of contradictory issue-3 settings, with the JSON path."""

from __future__ import annotations

from typing import Any

import pytest

from trademaestro.core.errors import StrategyError
from trademaestro.strategy.loader import load_strategy


def _doc(**rules: Any) -> dict[str, Any]:
    entry = {
        "direction": "buy",
        "conditions": [{"indicator": "rsi", "condition": "<", "value": 30}],
    }
    return {
        "strategyId": "v",
        "symbol": "XAUUSD",
        "timeframe": "M15",
        "rules": {"entry": entry, **rules},
    }


@pytest.mark.parametrize(
    ("rules", "path", "allowed"),
    [
        (
            {
                "filters": {
                    "volatilityFilter": {"maxATR": 10, "action": "REDUCE_SIZE", "multiplier": 1.5}
                }
            },
            "rules.filters.volatilityFilter.multiplier",
            "(0, 1]",
        ),
        (
            {
                "filters": {
                    "sessionFilter": {
                        "allowedSessions": ["London"],
                        "action": "scale",
                        "riskMultiplier": 2,
                    }
                }
            },
            "rules.filters.sessionFilter.riskMultiplier",
            "(0, 1]",
        ),
        (
            {"filters": {"sessionFilter": {"allowedSessions": ["Frankfurt"]}}},
            "rules.filters.sessionFilter.allowedSessions[0]",
            "London",
        ),
        (
            {"dynamicRisk": {"reduceInHighVolatility": True}},
            "rules.dynamicRisk.volatilityThreshold",
            "reduceInHighVolatility",
        ),
        ({"dynamicRisk": {"riskPercentage": -1}}, "rules.dynamicRisk.riskPercentage", ""),
        ({"exit": {"stopLoss": {"type": "pips"}}}, "rules.exit.stopLoss", ""),
        (
            {
                "exit": {
                    "stopLoss": {"type": "pips", "value": 50},
                    "takeProfit": {
                        "type": "partial",
                        "levels": [{"atRR": 1, "percentage": 60}, {"atRR": 2, "percentage": 60}],
                    },
                }
            },
            "rules.exit.takeProfit",
            "100",
        ),
    ],
)
def test_contradictions_rejected(rules: dict[str, Any], path: str, allowed: str) -> None:
    with pytest.raises(StrategyError) as err:
        load_strategy(_doc(**rules))
    assert err.value.json_path.startswith(path)
    assert allowed in err.value.allowed


def test_confirmation_timeframe_must_be_a_whole_multiple() -> None:
    doc = _doc()
    doc["timeframe"] = "M20"
    doc["rules"]["entry"]["conditions"][0]["timeframe"] = "M30"
    with pytest.raises(StrategyError) as err:
        load_strategy(doc)
    assert err.value.json_path == "rules.entry.conditions[0].timeframe"
    doc["rules"]["entry"]["conditions"][0]["timeframe"] = "M5"
    with pytest.raises(StrategyError, match="higher timeframe"):
        load_strategy(doc)


def test_volatility_normal_and_numeric_actions() -> None:
    normal = load_strategy(_doc(filters={"volatilityFilter": {"maxATR": 10, "action": "normal"}}))
    block = normal.spec.filter_block
    assert block is not None and block.volatilityFilter is not None
    assert block.volatilityFilter.action == "NORMAL"
    numeric = load_strategy(_doc(filters={"volatilityFilter": {"maxATR": 10, "action": 0.5}}))
    vf = numeric.spec.filter_block.volatilityFilter  # type: ignore[union-attr]
    assert (vf.action, vf.multiplier) == ("REDUCE_SIZE", 0.5)
