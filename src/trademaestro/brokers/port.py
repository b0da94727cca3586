"""The broker port: what the executor needs from a broker, in MT5's vocabulary.

One implementation exists, :class:`trademaestro.brokers.mt5.adapter.MT5Adapter`, over any object
that behaves like the ``MetaTrader5`` module (the real package on Windows, or our emulator).
Times are broker server time (int seconds), prices in price units, volumes in lots, money in the
account currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from trademaestro.core.symbols import SymbolSpec
from trademaestro.core.timeframes import Timeframe
from trademaestro.execution.intents import CloseIntent, ModifyIntent, OpenIntent, Side


@dataclass(frozen=True, slots=True)
class Quote:
    """The current bid/ask of a symbol at ``time`` (server seconds)."""

    time: int
    bid: float
    ask: float


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """Account figures in the account currency."""

    balance: float
    equity: float
    margin: float
    margin_free: float
    currency: str
    leverage: int


@dataclass(frozen=True, slots=True)
class Position:
    """An open position as the broker reports it."""

    ticket: int
    symbol: str
    side: Side
    volume: float
    price_open: float
    sl: float
    tp: float
    time: int
    magic: int
    comment: str
    profit: float
    swap: float


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """The answer to one trade request.

    ``ok`` is True when the broker accepted it (retcode DONE/PLACED/DONE_PARTIAL). ``retcode`` is
    None when no trade result exists (``order_send`` returned None): then ``error`` holds
    ``last_error()`` and the outcome of the request is unknown.
    """

    ok: bool
    retcode: int | None
    comment: str
    order: int
    deal: int
    volume: float
    price: float
    request: dict[str, Any]
    result: dict[str, Any] | None = None
    error: tuple[int, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class BrokerPort(Protocol):
    """What the executor needs from a broker."""

    def symbol_spec(self, symbol: str) -> SymbolSpec: ...
    def quote(self, symbol: str) -> Quote: ...
    def account(self) -> AccountSnapshot: ...
    def positions(
        self, *, symbol: str | None = None, magic: int | None = None
    ) -> list[Position]: ...
    def closed_bars(self, symbol: str, timeframe: Timeframe, count: int) -> np.ndarray: ...
    def open_market(self, intent: OpenIntent) -> OrderOutcome: ...
    def close_position(self, intent: CloseIntent) -> OrderOutcome: ...
    def modify_sltp(self, intent: ModifyIntent) -> OrderOutcome: ...
