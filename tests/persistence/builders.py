"""Builders of run-store test inputs."""

from __future__ import annotations

from typing import Any

RUN_ARGS: dict[str, Any] = {
    "mode": "backtest",
    "strategy_id": "strat-1",
    "strategy_name": "XAUUSD EMA cross",
    "strategy_json": '{"name": "XAUUSD EMA cross"}',
    "symbol": "XAUUSD",
    "timeframe": "M15",
    "data_path": "../shared/data/XAUUSD_M15.csv",
    "bars": 47165,
    "data_from": 1710916200,
    "data_to": 1773964800,
    "initial_balance": 10_000.0,
    "currency": "USD",
    "options": {"spread_points": 6, "speed": 0},
}


def make_deal(ticket: int, **fields: Any) -> dict[str, Any]:
    """A TradeDeal-shaped dict (MT5_API.md §3.7) with defaults for the fields not given."""
    deal: dict[str, Any] = {
        "ticket": ticket,
        "order": ticket,
        "time": 1710916200,
        "time_msc": 1710916200000,
        "type": 0,
        "entry": 0,
        "magic": 1001,
        "position_id": ticket,
        "reason": 3,
        "volume": 0.10,
        "price": 2158.99,
        "commission": 0.0,
        "swap": 0.0,
        "profit": 0.0,
        "fee": 0.0,
        "symbol": "XAUUSD",
        "comment": "",
        "external_id": "",
    }
    deal.update(fields)
    return deal
