"""The broker port: what the executor needs from a broker, in MT5's vocabulary.

One implementation exists, :class:`trademaestro.brokers.mt5.adapter.MT5Adapter`, over any object
that behaves like the ``MetaTrader5`` module (the real package on Windows, or our emulator).
Times are broker server time (int seconds), prices in price units, volumes in lots, money in the
account currency.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import numpy as np

from trademaestro.core.symbols import SymbolSpec
from trademaestro.core.timeframes import Timeframe
from trademaestro.execution.intents import CloseIntent, ModifyIntent, OpenIntent, Side


class Quote(NamedTuple):
    """The current bid/ask of a symbol at ``time`` (server seconds); prices in price units."""

    time: int
    bid: float
    ask: float


class AccountSnapshot(NamedTuple):
    """Account figures in the account currency (``leverage`` is the N of 1:N)."""

    balance: float
    equity: float
    margin: float
    margin_free: float
    currency: str
    leverage: int


class Position(NamedTuple):
    """An open position as the broker reports it (volume lots, prices price units, time
    server seconds, profit and swap account currency; ``sl``/``tp`` 0.0 = none)."""

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


class _OutcomeFields(NamedTuple):
    ok: bool
    retcode: int | None
    comment: str
    order: int
    deal: int
    volume: float
    price: float
    request: dict[str, Any]
    result_given: dict[str, Any] | None
    error: tuple[int, str] | None
    extra: dict[str, Any]
    raw: Any


class OrderOutcome(_OutcomeFields):
    """The answer to one trade request (an immutable tuple with named fields).

    ``ok`` is True when the broker accepted it (retcode DONE/PLACED/DONE_PARTIAL). ``retcode`` is
    None when no trade result exists (``order_send`` returned None): then ``error`` holds
    ``last_error()`` and the outcome of the request is unknown. ``volume`` is in lots, ``price``
    in price units; ``request`` is the request dict as sent.

    ``result`` is the broker's ``OrderSendResult`` as a plain dict with its ``request`` also as a
    dict (None without a result). It is built on access from ``raw`` (the result object itself)
    unless given to the constructor, so the hot path never pays for the conversion.
    """

    __slots__ = ()

    def __new__(
        cls,
        ok: bool,
        retcode: int | None,
        comment: str,
        order: int,
        deal: int,
        volume: float,
        price: float,
        request: dict[str, Any],
        result: dict[str, Any] | None = None,
        error: tuple[int, str] | None = None,
        extra: dict[str, Any] | None = None,
        raw: Any = None,
    ) -> OrderOutcome:
        return tuple.__new__(cls, (
            ok, retcode, comment, order, deal, volume, price, request, result, error,
            {} if extra is None else extra, raw,
        ))

    @property
    def result(self) -> dict[str, Any] | None:
        """The ``OrderSendResult`` as a dict (``request`` also a dict), or None."""
        given = self.result_given
        if given is not None or self.raw is None:
            return given
        as_dict: dict[str, Any] = self.raw._asdict()
        request = as_dict.get("request")
        if request is not None and hasattr(request, "_asdict"):
            as_dict["request"] = request._asdict()
        return as_dict


class BrokerPort(Protocol):
    """What the executor needs from a broker: the MT5 adapter, or the adapter behind safe calls
    (:class:`trademaestro.execution.safety.calls.SafeBroker`: retries, reconnects, breaker)."""

    def symbol_spec(self, symbol: str, *, refresh: bool = False) -> SymbolSpec: ...
    def quote(self, symbol: str) -> Quote: ...
    def account(self) -> AccountSnapshot: ...
    def positions(
        self, *, symbol: str | None = None, magic: int | None = None
    ) -> list[Position]: ...
    def closed_bars(self, symbol: str, timeframe: Timeframe, count: int) -> np.ndarray: ...
    def forming_bar(self, symbol: str, timeframe: Timeframe) -> np.ndarray: ...
    def deals(self, date_from: int, date_to: int) -> list[dict[str, Any]]: ...
    def position_deals(self, ticket: int) -> list[dict[str, Any]]: ...
    def open_market(self, intent: OpenIntent) -> OrderOutcome: ...
    def close_position(self, intent: CloseIntent) -> OrderOutcome: ...
    def modify_sltp(self, intent: ModifyIntent) -> OrderOutcome: ...
