"""ManagementRules.from_exit: normalisation of the exit block and the settings it rejects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trademaestro.core.errors import StrategyError
from trademaestro.execution.management_rules import (
    BreakEvenRule,
    ManagementRules,
    PartialRule,
    TrailingRule,
)
from trademaestro.strategy import load_strategy
from trademaestro.strategy.exits import ExitSpec

ROOT = Path(__file__).resolve().parents[2]
PIPS_STOP = {"type": "pips", "value": 50}


def rules_of(exit_: dict[str, Any], **kw: Any) -> ManagementRules:
    return ManagementRules.from_exit(ExitSpec.model_validate(exit_), **kw)


def test_no_exit_block_manages_nothing() -> None:
    rules = ManagementRules.from_exit(None)
    assert rules == ManagementRules()
    assert not rules.active and rules.atr_periods() == () and rules.atr_period == 14


def test_every_rule_is_normalised() -> None:
    rules = rules_of({
        "stopLoss": PIPS_STOP,
        "takeProfit": {"type": "partial", "levels": [{"atRR": 1, "percentage": 50},
                                                      {"pips": 300, "percentage": 50}]},
        "trailing": {"enabled": True, "distance": 30, "activation": 20},
        "breakEven": {"atRR": 1.5, "offset": 2},
        "smartExit": {"maxHoldingHours": 1.5, "rrTarget": 3, "atrTarget": 2.5},
    })
    assert rules.partials == (PartialRule("rr", 1.0, 50.0), PartialRule("pips", 300.0, 50.0))
    assert rules.trailing == TrailingRule(distance_pips=30.0, activation_pips=20.0)
    assert rules.break_even == BreakEvenRule(1.5, 2.0)
    assert rules.max_holding_seconds == 5400  # 1.5 h x 3600
    assert (rules.rr_target, rules.atr_target) == (3.0, 2.5)
    assert rules.active and rules.needs_risk
    assert rules.atr_periods() == (14,)  # the atrTarget needs the ATR at entry


def test_smart_exit_partial_levels_and_atr_period_of_an_atr_stop() -> None:
    rules = rules_of({
        "stopLoss": {"type": "atr", "multiplier": 1.5, "period": 21},
        "trailing": {"atrMult": 2, "activationRR": 1},
        "smartExit": {"partial": [{"pips": 100, "percentage": 30}]},
    })
    assert rules.partials == (PartialRule("pips", 100.0, 30.0),)
    assert rules.trailing == TrailingRule(atr_mult=2.0, activation_rr=1.0)
    assert rules.atr_period == 21 and rules.atr_periods() == (21,)
    assert rules_of({"stopLoss": PIPS_STOP, "trailing": {"atrMult": 2}},
                    atr_period=10).atr_periods() == (10,)
    # pips trailing and no atrTarget: no ATR needed
    assert rules_of({"stopLoss": PIPS_STOP, "trailing": {"distance": 30}}).atr_periods() == ()


def test_disabled_blocks_manage_nothing() -> None:
    rules = rules_of({
        "stopLoss": PIPS_STOP,
        "takeProfit": {"enabled": False, "type": "partial"},
        "trailing": {"enabled": False},
        "breakEven": {"enabled": False},
        "smartExit": {"enabled": False, "maxHoldingHours": 5},
    })
    assert rules == ManagementRules()
    # a plain take profit is the broker's TP, not management
    assert not rules_of({"stopLoss": PIPS_STOP, "takeProfit": {"type": "pips", "value": 80}}).active


@pytest.mark.parametrize(
    ("exit_", "path", "found"),
    [
        ({"stopLoss": PIPS_STOP,
          "takeProfit": {"type": "partial", "levels": [{"atRR": 1, "percentage": 50}]},
          "smartExit": {"partial": [{"pips": 100, "percentage": 50}]}},
         "rules.exit.smartExit.partial", [{"pips": 100.0, "percentage": 50.0}]),
        ({"smartExit": {"partial": [{"pips": 10, "percentage": 20},
                                    {"atRR": 2, "percentage": 50}]}},
         "rules.exit.smartExit.partial[1].atRR", 2.0),
        ({"breakEven": {"atRR": 1}}, "rules.exit.breakEven.atRR", 1.0),
        ({"trailing": {"distance": 30, "activationRR": 0.5}},
         "rules.exit.trailing.activationRR", 0.5),
        ({"smartExit": {"rrTarget": 3}}, "rules.exit.smartExit.rrTarget", 3.0),
    ],
    ids=["partials-twice", "smart-partial-rr-no-stop", "breakeven-no-stop",
         "activation-rr-no-stop", "rr-target-no-stop"],
)
def test_contradictory_settings_are_rejected_with_the_json_path(
    exit_: dict[str, Any], path: str, found: Any
) -> None:
    with pytest.raises(StrategyError) as info:
        rules_of(exit_)
    assert info.value.json_path == path
    assert info.value.found == found
    assert "not both" in info.value.allowed or "stopLoss" in info.value.allowed


def test_rules_without_risk_are_fine_without_a_stop() -> None:
    rules = rules_of({"trailing": {"distance": 30, "activation": 20},
                      "smartExit": {"maxHoldingHours": 24, "atrTarget": 2,
                                    "partial": [{"pips": 100, "percentage": 50}]}})
    assert rules.active and not rules.needs_risk


@pytest.mark.parametrize("bad", [0, -3, True])
def test_bad_atr_period_is_rejected(bad: int) -> None:
    with pytest.raises(StrategyError) as info:
        ManagementRules.from_exit(None, atr_period=bad)
    assert info.value.json_path == "atr_period" and info.value.allowed == "an integer >= 1"


def test_path_prefix_names_the_document_spelling() -> None:
    with pytest.raises(StrategyError) as info:
        rules_of({"breakEven": {"atRR": 1}}, path="parameters.rules.exit")
    assert info.value.json_path == "parameters.rules.exit.breakEven.atRR"


def test_example_strategy_with_management_loads_supported() -> None:
    doc = json.loads((ROOT / "examples/strategies/xauusd_m15_ema_cross.json").read_text())
    doc["rules"]["exit"].update({
        "takeProfit": {"type": "partial", "levels": [{"atRR": 1, "percentage": 50},
                                                      {"atRR": 2, "percentage": 50}]},
        "trailing": {"enabled": True, "distance": 30, "activation": 20},
        "breakEven": {"enabled": True, "atRR": 1.0, "offset": 2},
        "smartExit": {"maxHoldingHours": 24, "rrTarget": 3},
    })
    loaded = load_strategy(doc)
    assert loaded.unsupported == []
    assert loaded.spec.rules.exit is not None
    rules = ManagementRules.from_exit(loaded.spec.rules.exit)
    assert rules.atr_period == 14 and rules.max_holding_seconds == 86400
    assert rules.partials == (PartialRule("rr", 1.0, 50.0), PartialRule("rr", 2.0, 50.0))
