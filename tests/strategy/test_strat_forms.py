"""Every accepted form and spelling of the strategy format, down to the compiled tree."""

from __future__ import annotations

import numpy as np
import pytest

from tests.strategy.conftest import XAU_POINT
from tests.strategy.helpers import CROSS_DOWN, CROSS_UP, doc, leaf
from trademaestro.core.timeframes import Timeframe
from trademaestro.indicators.keys import SeriesKey
from trademaestro.strategy import (
    And,
    AtLeast,
    Compare,
    Cross,
    Or,
    Range,
    compile_entry,
    compile_exit,
    load_strategy,
)

EMA9, EMA21 = SeriesKey("ema", (9,)), SeriesKey("ema", (21,))
RSI = SeriesKey("rsi", (14,))
CLOSE = SeriesKey("close")


def entry_of(entry, point: float = XAU_POINT):
    return compile_entry(load_strategy(doc(entry)).spec, point)


@pytest.mark.parametrize("key", ["direction", "side", "action", "type"])
@pytest.mark.parametrize(
    ("word", "side"),
    [("buy", "buy"), ("BUY", "buy"), ("Long", "buy"), ("sell", "sell"), ("SHORT", "sell"),
     (" short ", "sell")],
)
def test_direction_spellings(key, word, side) -> None:
    compiled = entry_of({key: word, "conditions": [CROSS_UP]})
    assert compiled == {side: Cross(EMA9, EMA21, above=True)}


def test_buy_and_sell_groups() -> None:
    compiled = entry_of({"buy": {"conditions": [CROSS_UP]},
                         "sell": {"direction": "short", "logic": "AND",
                                  "conditions": [CROSS_DOWN]}})
    assert compiled == {"buy": Cross(EMA9, EMA21, above=True),
                        "sell": Cross(EMA9, EMA21, above=False)}
    assert list(entry_of({"sell": {"conditions": [CROSS_DOWN]}})) == ["sell"]


def test_logic_default_and_or_nested_and_parts() -> None:
    entry = {
        "direction": "buy",
        "conditions": [
            CROSS_UP,
            {"logic": "or", "conditions": [
                leaf(),
                {"indicator": "price", "condition": "greater_than", "value": "ema_50",
                 "and": {"indicator": "adx", "condition": ">", "value": 25}},
            ]},
            leaf(condition="<", value=80,
                 **{"and": [leaf(condition=">", value=40), leaf(condition="<", value=90)]}),
        ],
    }
    compiled = entry_of(entry)["buy"]
    half = XAU_POINT / 2
    assert compiled == And((
        Cross(EMA9, EMA21, above=True),
        Or((
            Compare(RSI, ">", 50.0, half),
            And((Compare(CLOSE, ">", SeriesKey("ema", (50,)), half),
                 Compare(SeriesKey("adx", (14,), "adx"), ">", 25.0, half))),
        )),
        And((Compare(RSI, "<", 80.0, half), Compare(RSI, ">", 40.0, half),
             Compare(RSI, "<", 90.0, half))),
    ))
    assert entry_of({"direction": "buy", "logic": "OR", "conditions": [leaf(), CROSS_UP]})[
        "buy"] == Or((Compare(RSI, ">", 50.0, half), Cross(EMA9, EMA21, above=True)))


@pytest.mark.parametrize(
    ("spelling", "op"),
    [("greater_than", ">"), (">", ">"), ("less_than", "<"), ("<", "<"), ("equal", "=="),
     ("==", "=="), (">=", ">="), ("greater_or_equal", ">="), ("<=", "<="),
     ("less_or_equal", "<="), ("GREATER_THAN", ">")],
)
@pytest.mark.parametrize("key", ["condition", "operator"])
def test_compare_operators(spelling, op, key) -> None:
    node = {"indicator": "rsi_14", key: spelling, "value": 50}
    assert entry_of({"direction": "buy", "conditions": [node]})["buy"] == Compare(
        RSI, op, 50.0, XAU_POINT / 2)


@pytest.mark.parametrize(("spelling", "above"), [("crosses_above", True), ("crosses_below", False)])
def test_cross_operators_with_number(spelling, above) -> None:
    node = {"indicator": "rsi", "operator": spelling, "value": 30}
    assert entry_of({"direction": "buy", "conditions": [node]})["buy"] == Cross(RSI, 30.0, above)


@pytest.mark.parametrize(
    "rhs",
    [{"value": "ema_21"}, {"indicatorRef": "ema_21"}, {"indicatorRef": "EMA21"},
     {"indicatorRef": {"indicator": "ema", "period": 21}},
     {"value": {"indicator": "ema", "params": {"period": 21}}}],
)
def test_series_right_hand_sides(rhs) -> None:
    node = {"indicator": "ema_9", "condition": "crosses_above", **rhs}
    assert entry_of({"direction": "buy", "conditions": [node]})["buy"] == Cross(EMA9, EMA21, True)


@pytest.mark.parametrize("value", [50, 50.0, "50", " 50.0 "])
def test_number_right_hand_sides(value) -> None:
    assert entry_of({"direction": "buy", "conditions": [leaf(value=value)]})["buy"] == Compare(
        RSI, ">", 50.0, XAU_POINT / 2)


@pytest.mark.parametrize(
    "bounds",
    [{"value": [30, 70]}, {"value": {"min": 30, "max": 70}}, {"min": 30, "max": 70},
     {"min": "30", "max": 70.0}],
)
@pytest.mark.parametrize(("op", "inside"), [("in_range", True), ("outside_range", False)])
def test_range_forms(bounds, op, inside) -> None:
    node = {"indicator": "rsi", "condition": op, **bounds}
    assert entry_of({"direction": "buy", "conditions": [node]})["buy"] == Range(
        RSI, 30.0, 70.0, inside)


def test_range_with_series_bounds() -> None:
    node = {"indicator": "price", "condition": "in_range",
            "value": ["bollinger_lower", "bb_upper"]}
    assert entry_of({"direction": "buy", "conditions": [node]})["buy"] == Range(
        CLOSE, SeriesKey("bbands", (20, 2.0), "lower"), SeriesKey("bbands", (20, 2.0), "upper"),
        True)


def test_indicator_with_period_and_params() -> None:
    nodes = [
        {"indicator": "ema", "period": 9, "condition": "crosses_above", "indicatorRef": "ema_21"},
        {"indicator": "macd", "params": {"fast": 8, "slow": 21, "signal": 5},
         "condition": ">", "value": 0},
    ]
    compiled = entry_of({"direction": "buy", "conditions": nodes})["buy"]
    assert compiled == And((Cross(EMA9, EMA21, True),
                            Compare(SeriesKey("macd", (8, 21, 5), "line"), ">", 0.0, 0.005)))


@pytest.mark.parametrize("tf", ["M15", "m15", "15m", "15M"])
def test_timeframe_spellings_and_own_condition_timeframe(tf) -> None:
    document = doc({"direction": "buy", "conditions": [dict(CROSS_UP, timeframe=tf)]},
                   timeframe=tf)
    loaded = load_strategy(document)
    assert loaded.spec.timeframe is Timeframe.M15
    assert loaded.unsupported == []
    assert compile_entry(loaded.spec, XAU_POINT)["buy"] == Cross(EMA9, EMA21, True)


def test_higher_timeframe_condition_keys_are_executed() -> None:
    loaded = load_strategy(doc({"direction": "buy", "conditions": [
        CROSS_UP, leaf(indicator="price", value="ema_200", timeframe="1h")]}))
    assert loaded.unsupported == []
    compiled = compile_entry(loaded.spec, XAU_POINT)["buy"]
    assert compiled == And((Cross(EMA9, EMA21, True),
                            Compare(CLOSE.on(Timeframe.H1), ">",
                                    SeriesKey("ema", (200,), timeframe=Timeframe.H1), 0.005)))


def test_form_b() -> None:
    entry = {
        "direction": "sell",
        "primary": [{"indicator": "macd", "condition": "crosses_below",
                     "indicatorRef": "macd_signal"}],
        "confirmation": [
            {"timeframe": "H4", "indicator": "price", "condition": "less_than",
             "value": "ema_200", "required": True},
            {"timeframe": "H1", "indicator": "rsi", "condition": "less_than", "value": 50,
             "required": False},
            {"indicator": "adx", "condition": ">", "value": 20},
        ],
        "minConfirmations": 1,
    }
    loaded = load_strategy(doc(entry))
    assert loaded.unsupported == []  # Form B and higher timeframes are executed
    macd = SeriesKey("macd", (12, 26, 9), "line")
    h4, h1 = Timeframe.H4, Timeframe.H1
    assert compile_entry(loaded.spec, 0.01)["sell"] == And((
        Cross(macd, SeriesKey("macd", (12, 26, 9), "signal"), above=False),
        Compare(CLOSE.on(h4), "<", SeriesKey("ema", (200,), timeframe=h4), 0.005),
        AtLeast(1, (Compare(RSI.on(h1), "<", 50.0, 0.005),
                    Compare(SeriesKey("adx", (14,), "adx"), ">", 20.0, 0.005))),
    ))
    # primary alone is Form A's AND on the strategy's timeframe: executed
    only_primary = load_strategy(doc({"side": "buy", "primary": [CROSS_UP, leaf()]}))
    assert only_primary.unsupported == []
    assert compile_entry(only_primary.spec, 0.01)["buy"] == And(
        (Cross(EMA9, EMA21, True), Compare(RSI, ">", 50.0, 0.005)))


def test_wrapper_blocks_beside_rules_and_symbols() -> None:
    params = doc(riskManagement={"lotSize": 0.1, "maxPositions": 2},
                 dynamicRisk={"riskPercentage": 1}, options={"closeOnOppositeSignal": True},
                 filters={}, symbols=["XAUUSD", "EURUSD"])
    loaded = load_strategy({"command": "START_STRATEGY", "id": "c1", "parameters": params})
    spec = loaded.spec
    assert spec.risk_management is not None and spec.risk_management.lotSize == 0.1
    assert spec.risk_management.maxPositions == 2
    assert spec.dynamic_risk is not None and spec.dynamic_risk.riskPercentage == 1.0
    assert spec.close_on_opposite_signal is True
    assert spec.symbol_list == ["XAUUSD", "EURUSD"]
    assert loaded.warnings == [] and loaded.unsupported == []
    inside = load_strategy(doc())
    assert inside.spec.risk_management is None and inside.spec.close_on_opposite_signal is False


def test_exit_blocks() -> None:
    exit_ = {
        "stopLoss": {"type": "ATR", "multiplier": 1.5},
        "takeProfit": {"type": "partial", "levels": [{"atRR": 1, "percentage": 50},
                                                      {"pips": 300, "percentage": 50}]},
        "trailing": {"enabled": True, "atrMult": 2, "activationRR": 1},
        "breakEven": {"atRR": 1.0, "offset": 2},
        "smartExit": {"maxHoldingHours": 24, "rrTarget": 3},
        "conditions": [leaf(value=70)],
        "closeOnOppositeSignal": False,
    }
    loaded = load_strategy(doc(exit=exit_))
    spec = loaded.spec
    assert spec.rules.exit is not None
    stop = spec.rules.exit.stop
    assert stop is not None and (stop.type, stop.multiplier, stop.period) == ("atr", 1.5, 14)
    assert loaded.unsupported == []  # position management is executed
    assert compile_exit(spec, 0.01) == Compare(RSI, ">", 70.0, 0.005)
    assert spec.close_on_opposite_signal is False


@pytest.mark.parametrize(
    ("stop", "tp"),
    [({"type": "pips", "value": 150}, {"type": "pips", "value": 300}),
     ({"type": "percentage", "value": 0.5}, {"type": "percentage", "value": 1}),
     ({"type": "fixed", "value": 12.5}, {"type": "fixed", "value": 25}),
     ({"type": "atr", "multiplier": 2, "period": 10}, {"type": "rr_ratio", "ratio": 1.5}),
     ({"type": "pips", "value": 100, "enabled": True}, None),
     (None, {"type": "pips", "value": 50})],
)
def test_supported_stop_and_target_types(stop, tp) -> None:
    exit_ = {k: v for k, v in (("stopLoss", stop), ("takeProfit", tp)) if v is not None}
    loaded = load_strategy(doc(exit=exit_))
    assert loaded.unsupported == [] and loaded.warnings == []


@pytest.mark.parametrize(
    "conditions",
    [{"logic": "OR", "conditions": [leaf(value=70), leaf(condition="<", value=30)]},
     {"indicator": "rsi", "condition": "crosses_below", "value": 50}],
)
def test_exit_condition_shapes(conditions) -> None:
    compiled = compile_exit(load_strategy(doc(exit={"conditions": conditions})).spec, 0.01)
    if "logic" in conditions:
        assert compiled == Or((Compare(RSI, ">", 70.0, 0.005), Compare(RSI, "<", 30.0, 0.005)))
    else:
        assert compiled == Cross(RSI, 50.0, above=False)
    assert compile_exit(load_strategy(doc()).spec, 0.01) is None


def test_filters_and_risk_blocks_parse() -> None:
    rules_extra = {
        "riskManagement": {"lotSize": 0.1, "maxPositions": 1, "maxDailyLoss": 500,
                           "maxDailyLossPercent": 3, "maxDrawdownPercent": 10},
        "dynamicRisk": {"riskPercentage": 1.0, "useATRSizing": True, "atrMultiplier": 1.5,
                        "volatilityThreshold": 2.0, "reduceInHighVolatility": True},
        "filters": {
            "sessionFilter": {"enabled": True, "allowedSessions": ["london", "New York", "TOKYO"],
                              "action": "scale", "riskMultiplier": 0.5},
            "spreadFilter": {"enabled": True, "maxSpread": 3.0, "action": "reduce_size",
                             "multiplier": 0.5},
            "volatilityFilter": {"enabled": True, "minATR": 1.0, "maxATR": 15.0, "action": "SKIP"},
            "correlationFilter": {"enabled": True, "threshold": 0.8, "lookbackDays": 30},
            "newsFilter": {"enabled": True, "minutesBefore": 30, "minutesAfter": 30,
                           "impact": ["High"]},
        },
        "options": {"closeOnOppositeSignal": True},
    }
    document = doc()
    document["rules"].update(rules_extra)
    loaded = load_strategy(document)
    f = loaded.spec.filter_block
    assert f is not None and f.sessionFilter is not None
    assert f.sessionFilter.allowedSessions == ["London", "NewYork", "Tokyo"]
    assert f.spreadFilter is not None and f.spreadFilter.action == "REDUCE_SIZE"
    assert f.newsFilter is not None and f.newsFilter.impact == ["high"]
    assert loaded.unsupported == []  # entry filters are executed (trademaestro.filters)
    for name in ("sessionFilter", "spreadFilter", "volatilityFilter", "correlationFilter",
                 "newsFilter"):
        document["rules"]["filters"][name]["enabled"] = False
    assert not [p for p in load_strategy(document).unsupported if "filters" in p]


def test_compiled_entry_on_real_bars_hits_exact_cross_bars(xau_series) -> None:
    spec = load_strategy(doc({"buy": {"conditions": [CROSS_UP]},
                              "sell": {"conditions": [CROSS_DOWN]}})).spec
    compiled = compile_entry(spec, XAU_POINT)
    buy = np.flatnonzero(compiled["buy"].evaluate_all(xau_series))
    sell = np.flatnonzero(compiled["sell"].evaluate_all(xau_series))
    assert buy[:6].tolist() == [38, 113, 168, 216, 250, 299]
    assert sell[:5].tolist() == [109, 127, 173, 228, 279]
    assert compiled["buy"].series_keys() == {EMA9, EMA21}
    assert compiled["buy"].evaluate_at(xau_series, 38) and not compiled["sell"].evaluate_at(
        xau_series, 38)


def test_compile_rejects_bad_point() -> None:
    spec = load_strategy(doc()).spec
    for point in (0.0, -0.01, float("nan")):
        with pytest.raises(ValueError, match="point"):
            compile_entry(spec, point)
        with pytest.raises(ValueError, match="point"):
            compile_exit(spec, point)
