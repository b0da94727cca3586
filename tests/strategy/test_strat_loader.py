"""The loader: sources, JSON syntax errors, unknown-key warnings, the unsupported list, examples."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from tests.strategy.helpers import CROSS_DOWN, CROSS_UP, doc, leaf
from trademaestro.core.errors import ConfigError, StrategyError
from trademaestro.core.timeframes import Timeframe
from trademaestro.strategy import UNSUPPORTED, compile_entry, compile_exit, load_strategy

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "strategies"


def test_sources_file_text_mapping(tmp_path: Path) -> None:
    document = doc()
    path = tmp_path / "s.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    from_path = load_strategy(path)
    from_str_path = load_strategy(str(path))
    from_text = load_strategy("  \n" + json.dumps(document))
    from_map = load_strategy(document)
    assert from_path.spec == from_str_path.spec == from_text.spec == from_map.spec
    assert from_path.source == str(path) and from_map.source is None


def test_json_syntax_error_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "symbol": "XAUUSD",\n  "timeframe": "M15"\n  "rules": {}\n}\n')
    with pytest.raises(StrategyError) as info:
        load_strategy(path)
    assert info.value.json_path == "line 4, column 3"
    assert info.value.found == "Expecting ',' delimiter"
    assert info.value.source == str(path)
    assert str(info.value).startswith(f"{path}: line 4, column 3")


@pytest.mark.parametrize(
    ("text", "path", "found"),
    [('{"timeframe": NaN}', "(document)", "NaN is not a JSON number"),
     ('{"a": 1,}', "line 1, column 9", "Expecting property name enclosed in double quotes"),
     ('{"a": }', "line 1, column 7", "Expecting value")],
)
def test_json_text_errors(text: str, path: str, found: str) -> None:
    with pytest.raises(StrategyError) as info:
        load_strategy(text)
    assert info.value.json_path == path
    assert info.value.found == found


def test_document_must_be_object(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(StrategyError) as info:
        load_strategy(path)
    assert (info.value.json_path, info.value.found) == ("(document)", "list")


def test_file_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigError, match=r"strategy file not found: .*nope\.json"):
        load_strategy(missing)
    with pytest.raises(ConfigError, match="directory"):
        load_strategy(tmp_path)
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"strategyName": "caf\xe9"}')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_strategy(latin)


def test_utf8_bom_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(doc()).encode())
    assert load_strategy(path).spec.timeframe is Timeframe.M15


def test_unknown_keys_warned_with_paths(caplog: pytest.LogCaptureFixture) -> None:
    entry = {"buy": {"conditions": [dict(CROSS_UP, color="red")], "note": 1},
             "sell": {"conditions": [dict(leaf(), **{"and": dict(leaf(), weight=2)})]}}
    exit_ = {"stopLoss": {"type": "pips", "value": 100, "unit": "pips"},
             "conditions": [dict(leaf(), hint="x")], "exitMode": "fast"}
    document = doc(entry, exit_, createdAt="2026-01-01", version=3)
    session = {"enabled": False, "allowedSessions": ["London"], "tz": "UTC"}
    document["rules"]["filters"] = {"sessionFilter": session, "extraFilter": {}}
    document["rules"]["options"] = {"scalpMode": True}
    with caplog.at_level(logging.WARNING, logger="trademaestro.strategy.loader"):
        loaded = load_strategy({"parameters": document, "commandId": "x"})
    expected = [
        "parameters.createdAt", "parameters.version",
        "parameters.rules.entry.buy.note", "parameters.rules.entry.buy.conditions[0].color",
        "parameters.rules.entry.sell.conditions[0].and.weight",
        "parameters.rules.exit.exitMode", "parameters.rules.exit.stopLoss.unit",
        "parameters.rules.exit.conditions[0].hint",
        "parameters.rules.filters.extraFilter", "parameters.rules.filters.sessionFilter.tz",
        "parameters.rules.options.scalpMode",
    ]
    assert sorted(loaded.warnings) == sorted(f"{p}: unknown key, ignored" for p in expected)
    assert sorted(r.getMessage() for r in caplog.records) == sorted(loaded.warnings)
    assert loaded.unsupported == []


def test_unsupported_table_covers_only_unexecuted_features() -> None:
    fields = {(u.block, u.field) for u in UNSUPPORTED}
    executed = {("exit", "stopLoss"), ("exit", "conditions"), ("exit", "closeOnOppositeSignal"),
                ("riskManagement", "lotSize"), ("riskManagement", "maxPositions"),
                ("dynamicRisk", "riskPercentage"), ("options", "closeOnOppositeSignal"),
                ("entry", "conditions"), ("entry", "primary"), ("entry", "confirmation"),
                ("options", "confirmationBars"), ("exit", "takeProfit"), ("exit", "trailing"),
                ("exit", "breakEven"), ("exit", "smartExit")}
    assert not fields & executed
    risk = {("riskManagement", k) for k in ("maxDailyLoss", "maxDailyLossPercent",
                                             "maxDrawdownPercent")}
    risk |= {("dynamicRisk", k) for k in ("useATRSizing", "atrMultiplier",
                                          "volatilityThreshold", "reduceInHighVolatility",
                                          "kelly")}
    assert not fields & risk


def test_unsupported_beside_rules_uses_that_path() -> None:
    document = doc(riskManagement={"lotSize": 0.1, "maxDailyLoss": 200},
                   options={"intrabar": True})
    loaded = load_strategy(document)
    assert loaded.unsupported == ["options.intrabar"]
    wrapped = load_strategy({"parameters": document})
    assert wrapped.unsupported == ["parameters.options.intrabar"]


def test_disabled_blocks_are_not_unsupported() -> None:
    exit_ = {"trailing": {"enabled": False}, "breakEven": {"enabled": False},
             "smartExit": {"enabled": False},
             "takeProfit": {"enabled": False, "type": "partial"}}
    document = doc(exit=exit_)
    document["rules"]["dynamicRisk"] = {"riskPercentage": 1, "useATRSizing": False,
                                        "reduceInHighVolatility": False}
    assert load_strategy(document).unsupported == []


EXAMPLE_NAMES = ["xauusd_m15_ema_cross.json", "xauusd_m15_rsi_reversion.json",
                 "xauusd_m15_macd_ema200.json", "eurusd_h1_ema_cross.json"]


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_examples_load_clean(name: str) -> None:
    loaded = load_strategy(EXAMPLES / name)
    assert loaded.warnings == [] and loaded.unsupported == []
    assert set(compile_entry(loaded.spec, 0.01))


def test_examples_content() -> None:
    ema = load_strategy(EXAMPLES / "xauusd_m15_ema_cross.json").spec
    assert set(compile_entry(ema, 0.01)) == {"buy", "sell"}
    assert ema.close_on_opposite_signal and ema.rules.exit is not None
    stop, tp = ema.rules.exit.stop, ema.rules.exit.target
    assert stop is not None and (stop.type, stop.multiplier, stop.period) == ("atr", 1.5, 14)
    assert tp is not None and (tp.type, tp.ratio) == ("rr_ratio", 2.0)
    assert ema.dynamic_risk is not None and ema.dynamic_risk.riskPercentage == 1.0
    assert ema.risk_management is not None and ema.risk_management.maxPositions == 1

    rsi = load_strategy(EXAMPLES / "xauusd_m15_rsi_reversion.json").spec
    assert rsi.risk_management is not None and rsi.risk_management.lotSize == 0.10
    assert compile_exit(rsi, 0.01) is not None

    macd = load_strategy(EXAMPLES / "xauusd_m15_macd_ema200.json").spec
    assert set(compile_entry(macd, 0.01)) == {"buy"}

    eur = load_strategy(EXAMPLES / "eurusd_h1_ema_cross.json").spec
    assert (eur.symbol, eur.timeframe) == ("EURUSD", Timeframe.H1)
    assert eur.risk_management is not None and eur.risk_management.lotSize == 0.1


def test_rsi_example_signals_on_real_bars(xau_series) -> None:
    spec = load_strategy(EXAMPLES / "xauusd_m15_rsi_reversion.json").spec
    entry = compile_entry(spec, 0.01)
    rsi = xau_series[next(iter(entry["buy"].series_keys()))]
    buys = np.flatnonzero(entry["buy"].evaluate_all(xau_series))
    assert buys[:5].tolist() == [138, 174, 178, 196, 234]
    sells = np.flatnonzero(entry["sell"].evaluate_all(xau_series))
    assert all(rsi[i - 1] >= 70 > rsi[i] for i in sells)
    exit_ = compile_exit(spec, 0.01)
    assert exit_ is not None
    exits = exit_.evaluate_all(xau_series)
    expected = ((rsi[:-1] <= 50) & (rsi[1:] > 50)) | ((rsi[:-1] >= 50) & (rsi[1:] < 50))
    assert (exits[1:] == expected).all() and not exits[0]


def test_opposite_groups_are_never_mirrored() -> None:
    # buy only: no sell signal is invented from the buy rules
    spec = load_strategy(doc({"direction": "buy", "conditions": [CROSS_UP]})).spec
    assert list(compile_entry(spec, 0.01)) == ["buy"]
    spec = load_strategy(doc({"direction": "sell", "conditions": [CROSS_DOWN]})).spec
    assert list(compile_entry(spec, 0.01)) == ["sell"]
