"""Shared values of the filter tests: symbol specs, server-time parsing, context builder."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from trademaestro.core.symbols import SymbolSpec
from trademaestro.filters import EntryContext

# Default emulator specs (brokers/emulator/specs.py): XAUUSD pip 0.10, EURUSD pip 0.0001.
XAU = SymbolSpec(name="XAUUSD", digits=2, point=0.01, tick_size=0.01, tick_value=1.0,
                 contract_size=100.0, volume_min=0.01, volume_max=100.0, volume_step=0.01,
                 currency_base="XAU", currency_profit="USD", currency_margin="XAU")
EUR = SymbolSpec(name="EURUSD", digits=5, point=0.00001, tick_size=0.00001, tick_value=1.0,
                 contract_size=100000.0, volume_min=0.01, volume_max=100.0, volume_step=0.01,
                 currency_base="EUR", currency_profit="USD", currency_margin="EUR")
JPY = SymbolSpec(name="USDJPY", digits=3, point=0.001, tick_size=0.001, tick_value=0.64,
                 contract_size=100000.0, volume_min=0.01, volume_max=100.0, volume_step=0.01,
                 currency_base="USD", currency_profit="JPY", currency_margin="USD")


def st(text: str) -> int:
    """Seconds of a wall-clock text read as if UTC (server time, or UTC for UTC texts)."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def text_of(t: int) -> str:
    """``YYYY-MM-DD HH:MM:SS`` of seconds read as UTC."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")


def ctx(time: int, **kw: Any) -> EntryContext:
    """An XAUUSD buy context at server time ``time`` (bid 2000.00, ask 2000.10 by default)."""
    base: dict[str, Any] = {"strategy_id": "t", "symbol": "XAUUSD", "side": "buy",
                            "time": time, "bid": 2000.0, "ask": 2000.1, "spec": XAU}
    base.update(kw)
    return EntryContext(**base)
