"""Request/result/options objects as JSON text."""

from __future__ import annotations

import dataclasses
import json
from collections import namedtuple
from datetime import datetime
from enum import Enum, IntEnum
from pathlib import Path

import numpy as np
import pytest

from trademaestro.persistence import StoreError
from trademaestro.persistence.jsontext import dumps, loads_dict, to_jsonable


class Side(Enum):
    BUY = "buy"


class Action(IntEnum):
    DEAL = 1


@dataclasses.dataclass(frozen=True)
class Intent:
    symbol: str
    side: Side
    volume: float
    levels: tuple[float, float]


def test_mt5_and_python_objects_become_plain_json() -> None:
    Request = namedtuple("Request", "action symbol volume")
    value = {
        "intent": Intent("XAUUSD", Side.BUY, 0.1, (2150.0, 2170.0)),
        "request": Request(Action.DEAL, "XAUUSD", np.float64(0.1)),
        "ticket": np.int64(7),
        "path": Path("/data/XAUUSD_M15.csv"),
        "at": datetime(2024, 3, 20, 6, 30),
        "prices": np.array([2158.99, 2160.49]),
    }
    assert to_jsonable(value, "request") == {
        "intent": {"symbol": "XAUUSD", "side": "buy", "volume": 0.1, "levels": [2150.0, 2170.0]},
        "request": {"action": 1, "symbol": "XAUUSD", "volume": 0.1},
        "ticket": 7,
        "path": "/data/XAUUSD_M15.csv",
        "at": "2024-03-20T06:30:00",
        "prices": [2158.99, 2160.49],
    }
    assert loads_dict(dumps(value, "request")) == json.loads(json.dumps(to_jsonable(value, "r")))
    assert loads_dict(None) is None


def test_values_json_cannot_hold_are_named() -> None:
    with pytest.raises(StoreError, match=r"result\.deal\[1\]: found set"):
        dumps({"deal": [1, {2}]}, "result")
    with pytest.raises(StoreError, match=r"options: key \(1, 2\) is not a string"):
        dumps({(1, 2): 3}, "options")
    with pytest.raises(StoreError, match=r"stored JSON is a list"):
        loads_dict("[1]")
