"""Hypothesis fuzzing of command payloads through the bus: never an exception, invalid ones
``failed`` with a reason and a JSON path, the handler never called for an invalid one, and
every id executed at most once."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.platform_bus.helpers import FakeHandler, make_bus, open_cmd, start_cmd
from trademaestro.persistence.platform_store import PlatformStore
from trademaestro.platform.commands import CommandError, parse_command

SCALARS = (st.none() | st.booleans() | st.integers(-(2**64), 2**64)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12))
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)
TYPES = st.sampled_from(["OPEN_POSITION", "openPosition", "close-position", "MODIFY_POSITION",
                         "stop_strategy", "pauseStrategy", "RESUME_STRATEGY", "START_STRATEGY",
                         "update-strategy", "CLOSE_ALL", "emergencyStop", "nope", ""]) | JSON
COMMANDS = st.fixed_dictionaries(
    {},
    optional={"commandId": st.text(max_size=6) | st.integers() | JSON,
              "id": st.text(max_size=6), "command": TYPES, "type": TYPES,
              "parameters": JSON, "payload": JSON, "params": JSON},
)
VALID = [
    open_cmd("v"),
    {"id": "v", "type": "close_position", "params": {"ticket": 77, "volume": 0.05}},
    {"id": "v", "type": "modifyPosition", "payload": {"ticket": "88", "sl": 1.1, "tp": 1.2}},
    {"commandId": "v", "command": "STOP_STRATEGY", "parameters": {"strategyId": "s",
                                                                  "closePositions": True}},
    {"commandId": "v", "command": "CLOSE_ALL", "parameters": {"symbol": "XAUUSD"}},
    start_cmd("v"),
]


class ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _slots(value: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key) below ``value``."""
    items = value.items() if isinstance(value, dict) else enumerate(value) \
        if isinstance(value, list) else ()
    for key, item in items:
        out.append((value, key))
        _slots(item, out)
    return out


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    raw = copy.deepcopy(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(0, 2))):
        slots = _slots(raw, [])
        container, key = draw(st.sampled_from(slots))
        op = draw(st.sampled_from(["replace", "delete", "add"]))
        if op == "replace":
            container[key] = draw(JSON)
        elif op == "delete" and isinstance(container, dict):
            del container[key]
        elif isinstance(container, dict):
            container[draw(st.text(max_size=8))] = draw(JSON)
    return raw


def check(raw: object, *, fuzzing: bool = True) -> None:
    try:
        expected: Any = parse_command(raw)
    except CommandError as exc:
        expected = exc
    if fuzzing:
            event("valid" if not isinstance(expected, CommandError) else
              "invalid, no id" if expected.command_id is None else "invalid with id")

    async def scenario() -> None:
        with PlatformStore(Path(":memory:")) as store:
            handler = FakeHandler()
            bus, _, _ = make_bus(store, handler)
            await bus.submit(raw, "pusher")
            await bus.submit(raw, "heartbeat")
            await bus.drain()
            commands = store.commands()
            if isinstance(expected, CommandError):
                assert handler.handled == []
                if expected.command_id is None:
                    assert commands == []
                    return
                (record,) = commands
                assert record.status == "failed"
                assert record.result == expected.result()
                assert record.result["error"] and record.result["jsonPath"]
            else:
                assert [c.command_id for c in handler.handled] == [expected.command_id]
                (record,) = commands
                assert record.status == "executed"
            reports = [(r.status, r.result) for r in store.reports()]
            assert reports[-1] == reports[-2] == (record.status, record.result)

    errors = ErrorLog()
    logger = logging.getLogger("trademaestro.platform")
    logger.addHandler(errors)
    try:
        asyncio.run(scenario())
    finally:
        logger.removeHandler(errors)
    assert errors.records == []  # no defect path (log.exception) was taken


FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(JSON | COMMANDS)
def test_arbitrary_payloads(raw: object) -> None:
    check(raw)


@FUZZ
@given(mutated())
def test_mutated_valid_commands(raw: dict[str, Any]) -> None:
    check(raw)


@FUZZ
@given(COMMANDS.map(json.dumps) | st.binary(max_size=40))
def test_text_and_bytes_payloads(raw: object) -> None:
    check(raw)


def test_valid_seeds_are_valid() -> None:
    for raw in VALID:
        check(raw, fuzzing=False)
        parse_command(raw)
