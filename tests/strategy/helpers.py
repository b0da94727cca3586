"""Builders of small strategy documents for the tests."""

from __future__ import annotations

import copy
from typing import Any

CROSS_UP = {"indicator": "ema_9", "condition": "crosses_above", "indicatorRef": "ema_21"}
CROSS_DOWN = {"indicator": "ema_9", "condition": "crosses_below", "indicatorRef": "ema_21"}


def doc(entry: Any = None, exit: Any = None, **top: Any) -> dict[str, Any]:
    """A valid XAUUSD M15 document; ``entry``/``exit`` replace the blocks, ``top`` adds keys."""
    rules: dict[str, Any] = {
        "entry": copy.deepcopy(entry) if entry is not None
        else {"direction": "buy", "conditions": [dict(CROSS_UP)]},
    }
    if exit is not None:
        rules["exit"] = copy.deepcopy(exit)
    out: dict[str, Any] = {"strategyId": "t", "symbol": "XAUUSD", "timeframe": "M15",
                           "rules": rules}
    out.update(copy.deepcopy(top))
    return out


def leaf(**kw: Any) -> dict[str, Any]:
    """A condition on rsi (overridable)."""
    base: dict[str, Any] = {"indicator": "rsi", "condition": "greater_than", "value": 50}
    base.update(kw)
    return base
