"""parse_command: every spelling variant of the contract, typed parameters, errors with paths."""

from __future__ import annotations

import json

import pytest

from tests.platform_bus.helpers import STRATEGIES, open_cmd, strategy
from trademaestro.platform.commands import (
    CloseAll,
    ClosePosition,
    CommandError,
    CommandType,
    ModifyPosition,
    OpenPosition,
    StopStrategy,
    StrategyParams,
    StrategyRef,
    command_id_of,
    normalize_type,
    parse_command,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("START_STRATEGY", CommandType.START_STRATEGY),
        ("start_strategy", CommandType.START_STRATEGY),
        ("startStrategy", CommandType.START_STRATEGY),
        ("StartStrategy", CommandType.START_STRATEGY),
        ("start-strategy", CommandType.START_STRATEGY),
        (" Start Strategy ", CommandType.START_STRATEGY),
        ("modifyPosition", CommandType.MODIFY_POSITION),
        ("close_all", CommandType.CLOSE_ALL),
        ("EMERGENCY_STOP", CommandType.CLOSE_ALL),
        ("emergencyStop", CommandType.CLOSE_ALL),
        ("close-all-positions", CommandType.CLOSE_ALL),
        ("closeAllPositions", CommandType.CLOSE_ALL),
        ("START", None),
        ("start_strategies", None),
        ("", None),
    ],
)
def test_type_spellings(text: str, expected: CommandType | None) -> None:
    assert normalize_type(text) is expected


@pytest.mark.parametrize("id_key", ["commandId", "id"])
@pytest.mark.parametrize("type_key", ["command", "type", "commandType"])
@pytest.mark.parametrize("params_key", ["parameters", "payload", "params"])
def test_key_variants(id_key: str, type_key: str, params_key: str) -> None:
    raw = {id_key: "c-9", type_key: "pause-strategy", params_key: {"strategyId": "xau-ema"},
           "createdAt": "2026-11-21T10:00:00Z"}
    command = parse_command(raw)
    assert command.command_id == "c-9"
    assert command.type is CommandType.PAUSE_STRATEGY
    assert command.parameters == StrategyRef(strategyId="xau-ema")
    assert command.raw == raw


def test_json_text_and_bytes_and_numeric_id() -> None:
    text = json.dumps({"id": 42, "type": "resumeStrategy", "params": {"strategyId": "s"}})
    for raw in (text, text.encode("utf-8")):
        command = parse_command(raw)
        assert (command.command_id, command.type) == ("42", CommandType.RESUME_STRATEGY)
    assert command_id_of(text) == "42"


@pytest.mark.parametrize(
    ("side_key", "side", "volume_key"),
    [("side", "buy", "volume"), ("type", "BUY", "lots"), ("direction", "Buy", "lotSize")],
)
def test_open_position_aliases(side_key: str, side: str, volume_key: str) -> None:
    raw = {"commandId": "o", "command": "openPosition",
           "payload": {"symbol": "XAUUSD", side_key: side, volume_key: 0.25, "tp": 1950}}
    params = parse_command(raw).parameters
    assert params == OpenPosition(symbol="XAUUSD", side="buy", volume=0.25, sl=None,
                                  tp=1950.0, strategyId=None)


def test_other_parameter_shapes() -> None:
    def params(ctype: str, p: dict[str, object] | None) -> object:
        raw: dict[str, object] = {"commandId": "x", "command": ctype}
        if p is not None:
            raw["parameters"] = p
        return parse_command(raw).parameters

    stop = params("STOP_STRATEGY", {"strategyId": "a", "closePositions": True})
    assert isinstance(stop, StopStrategy) and stop.close_positions is True
    assert params("stop_strategy", {"strategyId": "a"}) == StopStrategy(strategyId="a")
    close = params("CLOSE_POSITION", {"ticket": "123456789012", "volume": 0.05})
    assert close == ClosePosition(ticket=123456789012, volume=0.05)
    assert params("close_position", {"ticket": 7}) == ClosePosition(ticket=7, volume=None)
    assert params("MODIFY_POSITION", {"ticket": 7, "tp": 2.5}) == ModifyPosition(ticket=7, tp=2.5)
    assert params("EMERGENCY_STOP", None) == CloseAll()
    assert params("CLOSE_ALL", {"symbol": "EURUSD"}) == CloseAll(symbol="EURUSD")


@pytest.mark.parametrize("path", sorted(STRATEGIES.glob("*.json")), ids=lambda p: p.stem)
@pytest.mark.parametrize("wrapped", [False, True])
def test_every_example_strategy_starts(path: object, wrapped: bool) -> None:
    document = strategy(path.stem)  # type: ignore[attr-defined]
    params = {"strategy": document} if wrapped else document
    command = parse_command({"commandId": "s", "command": "UPDATE_STRATEGY", "parameters": params})
    assert isinstance(command.parameters, StrategyParams)
    assert command.parameters.document == document
    assert command.parameters.strategy_id == document.get("strategyId")
    assert command.parameters.loaded.spec.rules is not None


@pytest.mark.parametrize(
    ("raw", "cid", "path", "found", "allowed_part"),
    [
        ([1, 2], None, "(document)", [1, 2], "JSON object"),
        ("not json", None, "(document)", "not json", "JSON object"),
        ({"command": "CLOSE_ALL"}, None, "commandId", "nothing", "command id"),
        ({"id": "", "command": "CLOSE_ALL"}, None, "id", "", "non-empty"),
        ({"id": True, "command": "CLOSE_ALL"}, None, "id", True, "non-empty"),
        ({"id": "a"}, "a", "command", "nothing", "START_STRATEGY"),
        ({"id": "a", "type": "LAUNCH"}, "a", "type", "LAUNCH", "EMERGENCY_STOP"),
        ({"id": "a", "type": 3}, "a", "type", 3, "CLOSE_ALL"),
        ({"id": "a", "type": "CLOSE_ALL", "payload": [1]}, "a", "payload", [1], "JSON object"),
        (open_cmd("a", volume=0), "a", "parameters.volume", 0, "> 0"),
        (open_cmd("a", volume=True), "a", "parameters.volume", True, "> 0"),
        (open_cmd("a", volume=float("nan")), "a", "parameters.volume", "nan", "finite"),
        (open_cmd("a", side="long"), "a", "parameters.side", "long", '"buy" or "sell"'),
        (open_cmd("a", sl=-1.0), "a", "parameters.sl", -1.0, "> 0"),
        (open_cmd("a", stopLoss=1.0), "a", "parameters.stopLoss", 1.0, "only the keys"),
        (open_cmd("a", lots=0.2), "a", "parameters.lots", "0.2", "not several"),
        ({"id": "a", "type": "CLOSE_POSITION", "params": {"ticket": 0}}, "a", "params.ticket",
         0, "whole number > 0"),
        ({"id": "a", "type": "CLOSE_POSITION", "params": {"ticket": 1.5}}, "a", "params.ticket",
         1.5, "whole number > 0"),
        ({"id": "a", "type": "MODIFY_POSITION", "params": {"ticket": 5}}, "a", "params",
         "'sl': None", "at least one of sl / tp"),
        ({"id": "a", "type": "STOP_STRATEGY", "params": {}}, "a", "params.strategyId",
         "nothing", "required"),
        ({"id": "a", "type": "STOP_STRATEGY", "params": {"strategyId": "s",
                                                          "closePositions": 1}},
         "a", "params.closePositions", 1, "true or false"),
        ({"id": "a", "type": "START_STRATEGY"}, "a", "parameters.timeframe", "nothing",
         "required"),
        ({"id": "a", "type": "START_STRATEGY", "parameters": {"strategy": 5}}, "a",
         "parameters.strategy", 5, "strategy document"),
    ],
)
def test_errors_name_path_found_allowed(
    raw: object, cid: str | None, path: str, found: object, allowed_part: str
) -> None:
    with pytest.raises(CommandError) as info:
        parse_command(raw)
    err = info.value
    assert err.command_id == cid
    assert err.json_path == path
    assert str(found) in str(err.found) or err.found == found
    assert allowed_part in err.allowed
    assert err.result() == {"error": str(err), "jsonPath": path}
    assert command_id_of(raw) == cid or path in ("id", "commandId")


def test_strategy_error_path_is_prefixed() -> None:
    document = strategy()
    document["rules"]["exit"]["stopLoss"]["multiplier"] = -2
    for params, prefix in ((document, "payload"), ({"strategy": document}, "payload.strategy")):
        with pytest.raises(CommandError) as info:
            parse_command({"id": "s", "type": "start_strategy", "payload": params})
        assert info.value.json_path == f"{prefix}.rules.exit.stopLoss.multiplier"
        assert info.value.found == -2


def test_long_found_is_truncated() -> None:
    with pytest.raises(CommandError) as info:
        parse_command({"id": "a", "type": "x" * 5000})
    assert len(str(info.value)) < 1200
    assert "5002 characters" in str(info.value.found)
