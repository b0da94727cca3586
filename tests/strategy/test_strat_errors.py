"""Every rejected input names its JSON path, what was found and what is allowed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.strategy.helpers import CROSS_UP, doc, leaf
from trademaestro.core.errors import StrategyError
from trademaestro.strategy import load_strategy
from trademaestro.strategy._base import MISSING

Doc = dict[str, Any]


def entry(*conditions: Any, **extra: Any) -> Doc:
    return {"direction": "buy", "conditions": list(conditions), **extra}


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    """A mutation setting a dotted path (``rules.entry.conditions.0.condition``) to ``value``."""
    def mutate(d: Doc) -> None:
        parts = path.split(".")
        node: Any = d
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        last = parts[-1]
        if value is _DELETE:
            del node[last]
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value
    return mutate


_DELETE = object()
C0 = "rules.entry.conditions.0"

CASES: list[tuple[str, Callable[[Doc], None], str, Any, str]] = [
    # (id, mutation, json_path, found, fragment of allowed)
    ("operator", _set(f"{C0}.condition", "above"),
     "rules.entry.conditions[0].condition", "above", "crosses_above"),
    ("operator-alias", _set(f"{C0}.condition", _DELETE),
     "rules.entry.conditions[0].condition", MISSING, "crosses_above"),
    ("both-spellings", _set(f"{C0}.operator", ">"),
     "rules.entry.conditions[0].operator", {"condition": "crosses_above", "operator": ">"},
     "one of condition / operator"),
    ("unknown-series", _set(f"{C0}.indicator", "emma_9"),
     "rules.entry.conditions[0].indicator", "emma_9", "ema_<n>"),
    ("unknown-ref", _set(f"{C0}.indicatorRef", "ema_x"),
     "rules.entry.conditions[0].indicatorRef", "ema_x", "ema_<n>"),
    ("no-indicator", _set(f"{C0}.indicator", _DELETE),
     "rules.entry.conditions[0].indicator", MISSING, "series name"),
    ("no-rhs", _set(f"{C0}.indicatorRef", _DELETE),
     "rules.entry.conditions[0].value", MISSING, "indicatorRef"),
    ("two-rhs", _set(f"{C0}.value", 3),
     "rules.entry.conditions[0].indicatorRef", {"value": 3, "indicatorRef": "ema_21"},
     "not both"),
    ("bool-rhs", _set(f"{C0}.indicatorRef", True),
     "rules.entry.conditions[0].indicatorRef", True, "a number or"),
    ("list-rhs", _set(f"{C0}.indicatorRef", [1, 2]),
     "rules.entry.conditions[0].indicatorRef", [1, 2], "only with in_range"),
    ("no-direction", _set("rules.entry.direction", _DELETE),
     "rules.entry.direction", MISSING, "buy, sell, long or short"),
    ("bad-direction", _set("rules.entry.direction", "both"),
     "rules.entry.direction", "both", "buy, sell, long or short"),
    ("bad-logic", _set("rules.entry.logic", "XOR"), "rules.entry.logic", "XOR", "AND or OR"),
    ("empty", _set("rules.entry.conditions", []), "rules.entry.conditions", [], "at least one"),
    ("not-object", _set(C0, "ema_9 > ema_21"), "rules.entry.conditions[0]", "ema_9 > ema_21",
     "a JSON object"),
    ("no-entry", _set("rules.entry", _DELETE), "rules.entry", MISSING, "required"),
    ("no-timeframe", _set("timeframe", _DELETE), "timeframe", MISSING, "required"),
    ("bad-timeframe", _set("timeframe", "M7"), "timeframe", "M7", "M15"),
    ("bad-cond-timeframe", _set(f"{C0}.timeframe", 15), "rules.entry.conditions[0].timeframe",
     15, "M15"),
    ("lower-cond-timeframe", _set(f"{C0}.timeframe", "M5"),
     "rules.entry.conditions[0].timeframe", "M5", "M15 or a higher timeframe"),
    ("period-zero", _set(f"{C0}.period", 0), "rules.entry.conditions[0].period", 0, ">= 1"),
    ("rsi-period-1", _set(C0, {"indicator": "rsi_1", "condition": ">", "value": 50}),
     "rules.entry.conditions[0].indicator", "period='1'", "at least 2"),
    ("both-placements", _set("riskManagement", {"lotSize": 0.1}), "riskManagement",
     "both rules.riskManagement and riskManagement", "not both"),
    ("negative-lot", _set("rules.riskManagement.lotSize", -0.1),
     "rules.riskManagement.lotSize", -0.1, "> 0"),
    ("bool-lot", _set("rules.riskManagement.lotSize", True),
     "rules.riskManagement.lotSize", True, "not true/false"),
    ("nan-like", _set("rules.riskManagement.lotSize", "inf"),
     "rules.riskManagement.lotSize", "inf", "finite"),
    ("zero-positions", _set("rules.riskManagement.maxPositions", 0),
     "rules.riskManagement.maxPositions", 0, ">= 1"),
    ("risk-pct-over", _set("rules.dynamicRisk.riskPercentage", 150),
     "rules.dynamicRisk.riskPercentage", 150, "<= 100"),
    ("risk-pct-negative", _set("rules.dynamicRisk.riskPercentage", -1),
     "rules.dynamicRisk.riskPercentage", -1, "> 0"),
    ("dd-zero", _set("rules.riskManagement.maxDrawdownPercent", 0),
     "rules.riskManagement.maxDrawdownPercent", 0, "> 0"),
    ("session", _set("rules.filters.sessionFilter",
                     {"allowedSessions": ["London", "Frankfurt"]}),
     "rules.filters.sessionFilter.allowedSessions[1]", "Frankfurt", "Sydney, Asia, Tokyo"),
    ("session-empty", _set("rules.filters.sessionFilter", {"allowedSessions": []}),
     "rules.filters.sessionFilter.allowedSessions", [], "non-empty"),
    ("session-scale", _set("rules.filters.sessionFilter",
                           {"allowedSessions": ["London"], "action": "scale"}),
     "rules.filters.sessionFilter.riskMultiplier", MISSING, "action scale"),
    ("spread-action", _set("rules.filters.spreadFilter", {"maxSpread": 3, "action": "WAIT"}),
     "rules.filters.spreadFilter.action", "WAIT", "SKIP"),
    ("atr-bounds", _set("rules.filters.volatilityFilter", {"minATR": 5, "maxATR": 2}),
     "rules.filters.volatilityFilter.minATR", {"minATR": 5.0, "maxATR": 2.0}, "minATR <= maxATR"),
    ("corr", _set("rules.filters.correlationFilter", {"threshold": 1.5}),
     "rules.filters.correlationFilter.threshold", 1.5, "(0, 1]"),
    ("news-impact", _set("rules.filters.newsFilter", {"impact": ["huge"]}),
     "rules.filters.newsFilter.impact[0]", "huge", "low"),
    ("stop-type", _set("rules.exit.stopLoss", {"type": "chandelier", "value": 3}),
     "rules.exit.stopLoss.type", "chandelier", "pips"),
    ("stop-no-value", _set("rules.exit.stopLoss", {"type": "pips"}),
     "rules.exit.stopLoss.value", MISSING, "for type pips"),
    ("stop-atr-no-mult", _set("rules.exit.stopLoss", {"type": "atr", "period": 14}),
     "rules.exit.stopLoss.multiplier", MISSING, "for type atr"),
    ("stop-pct-over", _set("rules.exit.stopLoss", {"type": "percentage", "value": 120}),
     "rules.exit.stopLoss.value", 120.0, "(0, 100]"),
    ("stop-negative", _set("rules.exit.stopLoss", {"type": "fixed", "value": -5}),
     "rules.exit.stopLoss.value", -5, "> 0"),
    ("tp-rr-no-ratio", _set("rules.exit", {"stopLoss": {"type": "pips", "value": 10},
                                           "takeProfit": {"type": "rr_ratio"}}),
     "rules.exit.takeProfit.ratio", MISSING, "for type rr_ratio"),
    ("tp-rr-no-stop", _set("rules.exit", {"takeProfit": {"type": "rr_ratio", "ratio": 2}}),
     "rules.exit.takeProfit.type", "rr_ratio", "a stopLoss"),
    ("partial-over-100", _set("rules.exit", {"stopLoss": {"type": "pips", "value": 10},
                                             "takeProfit": {"type": "partial", "levels": [
                                                 {"atRR": 1, "percentage": 60},
                                                 {"atRR": 2, "percentage": 50}]}}),
     "rules.exit.takeProfit.levels", 110.0, "at most 100"),
    ("partial-level-both", _set("rules.exit.takeProfit", {"type": "partial", "levels": [
        {"pips": 100, "percentage": 50}, {"atRR": 2, "pips": 30, "percentage": 50}]}),
     "rules.exit.takeProfit.levels[1].atRR", {"atRR": 2.0, "pips": 30.0}, "exactly one"),
    ("partial-pct-zero", _set("rules.exit.takeProfit", {"type": "partial", "levels": [
        {"pips": 100, "percentage": 0}]}),
     "rules.exit.takeProfit.levels[0].percentage", 0, "> 0"),
    ("trailing-no-distance", _set("rules.exit.trailing", {"enabled": True, "activation": 20}),
     "rules.exit.trailing.distance", MISSING, "atrMult"),
    ("breakeven-no-rr", _set("rules.exit.breakEven", {"enabled": True}),
     "rules.exit.breakEven.atRR", MISSING, "initial risk"),
    ("exit-cond", _set("rules.exit.conditions",
                       {"logic": "OR", "conditions": [leaf(), leaf(condition="bigger")]}),
     "rules.exit.conditions.conditions[1].condition", "bigger", "greater_than"),
    ("exit-cond-list", _set("rules.exit.conditions", [leaf(), leaf(value="nope_3")]),
     "rules.exit.conditions[1].value", "nope_3", "ema_<n>"),
    ("opposite-conflict", _set("rules.options", {"closeOnOppositeSignal": False}),
     "rules.options.closeOnOppositeSignal", False, "the same closeOnOppositeSignal"),
    ("symbols-dup", _set("symbols", ["XAUUSD", "XAUUSD"]), "symbols", ["XAUUSD", "XAUUSD"],
     "each symbol once"),
    ("symbol-not-in", _set("symbols", ["EURUSD"]), "symbol", "XAUUSD", "one of symbols"),
    ("bad-period-param", _set(C0, {"indicator": "ema", "params": {"speed": 3},
                                   "condition": ">", "value": 1}),
     "rules.entry.conditions[0].indicator", "speed=3", "ema parameters"),
]


def _base() -> Doc:
    d = doc(entry(dict(CROSS_UP)),
            exit={"stopLoss": {"type": "pips", "value": 100}, "closeOnOppositeSignal": True})
    d["rules"]["riskManagement"] = {"lotSize": 0.1}
    return d


@pytest.mark.parametrize(("mutate", "path", "found", "allowed"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_names_path_found_allowed(mutate, path, found, allowed) -> None:
    document = _base()
    load_strategy(document)  # the base is valid
    mutate(document)
    with pytest.raises(StrategyError) as info:
        load_strategy(document)
    err = info.value
    assert err.json_path == path
    assert err.found == found
    assert allowed in err.allowed
    assert str(err).startswith(f"{path}: found ")


RANGE_CASES = [
    ({"value": [70, 30]}, "rules.entry.conditions[0].value", "min <= max"),
    ({"value": {"min": 70, "max": 30}}, "rules.entry.conditions[0].value", "min <= max"),
    ({"min": 70, "max": 30}, "rules.entry.conditions[0].min", "min <= max"),
    ({"min": 30}, "rules.entry.conditions[0].max", "both min and max"),
    ({"value": [30]}, "rules.entry.conditions[0].value", "[min, max] pair"),
    ({"value": 30}, "rules.entry.conditions[0].value", "[min, max] pair"),
    ({"value": [30, 70], "min": 1}, "rules.entry.conditions[0].value", "not both"),
    ({"indicatorRef": "ema_9"}, "rules.entry.conditions[0].indicatorRef", "min/max"),
    ({"value": [30, "zz"]}, "rules.entry.conditions[0].value[1]", "ema_<n>"),
]


@pytest.mark.parametrize(("bounds", "path", "allowed"), RANGE_CASES)
def test_range_errors(bounds, path, allowed) -> None:
    node = {"indicator": "rsi", "condition": "in_range", **bounds}
    with pytest.raises(StrategyError) as info:
        load_strategy(doc(entry(node)))
    assert info.value.json_path == path
    assert allowed in info.value.allowed


def test_min_max_only_with_ranges() -> None:
    with pytest.raises(StrategyError) as info:
        load_strategy(doc(entry(leaf(min=3))))
    assert info.value.json_path == "rules.entry.conditions[0].min"


@pytest.mark.parametrize(
    ("entry_block", "path", "allowed"),
    [
        ({"direction": "buy", "conditions": [CROSS_UP], "primary": [CROSS_UP]},
         "rules.entry.primary", "not both"),
        ({"direction": "buy"}, "rules.entry.conditions", "form A"),
        ({"buy": {"conditions": [CROSS_UP]}, "direction": "buy"}, "rules.entry.direction",
         "buy/sell groups"),
        ({"buy": {"direction": "sell", "conditions": [CROSS_UP]}}, "rules.entry.buy.direction",
         "inside the buy group"),
        ({"sell": {"conditions": []}}, "rules.entry.sell.conditions", "at least one"),
        ({"buy": {"conditions": [CROSS_UP], "minConfirmations": 1}},
         "rules.entry.buy.minConfirmations", "form B"),
        ({"direction": "sell", "primary": [CROSS_UP],
          "confirmation": [dict(leaf(), required=True)], "minConfirmations": 1},
         "rules.entry.minConfirmations", "at most 0"),
        ({"direction": "sell", "confirmation": [leaf()]}, "rules.entry.minConfirmations",
         "every bar"),
        ({"direction": "sell", "primary": [CROSS_UP],
          "confirmation": [dict(leaf(), timeframe="M1")]},
         "rules.entry.confirmation[0].timeframe", "M15 or a higher"),
        ({"direction": "sell", "primary": [CROSS_UP], "logic": "OR"}, "rules.entry.logic",
         "AND"),
        ({"direction": "buy", "conditions": [{"logic": "OR", "conditions": []}]},
         "rules.entry.conditions[0].conditions", "at least one"),
        ({"direction": "buy", "conditions": [dict(leaf(), conditions=[leaf()])]},
         "rules.entry.conditions[0].indicator", "not both"),
        ({"direction": "buy", "conditions": [leaf(logic="OR")]},
         "rules.entry.conditions[0].logic", "group"),
        ({"direction": "buy", "conditions": [leaf(**{"and": {"indicator": "rsi"}})]},
         "rules.entry.conditions[0].and.condition", "crosses_above"),
        ({"direction": "buy", "conditions": [leaf(**{"and": [leaf(), {"value": 3}]})]},
         "rules.entry.conditions[0].and[1].indicator", "series name"),
        ({"direction": "buy", "conditions": [leaf(indicatorRef={"indicator": "ema",
                                                                 "periode": 3}, value=None)]},
         "rules.entry.conditions[0].indicatorRef", "not both"),
        ({"direction": "buy", "conditions": [{"indicator": "ema_9", "condition": ">",
                                              "indicatorRef": {"indicator": "ema",
                                                               "periode": 3}}]},
         "rules.entry.conditions[0].indicatorRef.periode", "indicator, period, params"),
    ],
)
def test_entry_structure_errors(entry_block, path, allowed) -> None:
    with pytest.raises(StrategyError) as info:
        load_strategy(doc(entry_block))
    assert info.value.json_path == path
    assert allowed in info.value.allowed


def test_wrapper_prefixes_paths() -> None:
    d = doc(entry(leaf(condition="bigger")))
    with pytest.raises(StrategyError) as info:
        load_strategy({"parameters": d})
    assert info.value.json_path == "parameters.rules.entry.conditions[0].condition"
