"""Mutable internal records of the emulator: per-symbol market, open positions, pending orders.

These are plain ``__slots__`` objects so that the replay hot path is a few attribute writes; the
MT5 result tuples (``TradePosition``, ``TradeOrder``, ``Tick``…) are built from them only when an
API function is called. Prices are in price units, volumes in lots, times in server seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trademaestro.core.bars import RATES_DTYPE

from .results import TradeOrder, TradePosition
from .specs import SYMBOL_ORDER_MARKET, EmulatorSymbol
from .tape import TickTape

_EMPTY_RATES = np.zeros(0, dtype=RATES_DTYPE)


class Market:
    """Quotes and replayed bars of one symbol.

    ``index`` is the current bar (-1 before the first ``open_bar``/``tick``); ``formed`` is False
    while the clock is at the bar's first tick (or inside it, in tick replay) and True after
    ``run_bar``. ``tape`` holds the replayed ticks when the bars were built from ticks
    (``Replay.load_ticks``), else None; ``tick_k`` is the current tick of the tape (-1 when the
    quote did not come from ``Replay.tick``). ``bid``/``ask``/``time`` are the
    current quote (0.0/0.0/0 when none). Bar columns are Python lists for fast scalar access;
    ``spreads`` and ``asks_*`` are precomputed in price units (ask = bid + spread · point,
    rounded to ``digits``). Whoever writes ``bid``/``ask`` must bump ``Ledger.seq`` and
    ``Ledger.quotes_seq`` (the cached floating profits and account totals depend on every quote).
    """

    __slots__ = (
        "ask", "ask_closes", "ask_opens", "bid", "closes", "formed", "highs", "index", "lows",
        "market_plain", "opens", "orders", "positions", "rates", "selected", "spec", "spreads",
        "tape", "tf_seconds", "tick_k", "time", "timeframe", "times", "volume_digits",
    )

    def __init__(self, spec: EmulatorSymbol) -> None:
        self.spec = spec
        # Constants of the (frozen) spec used on the order path:
        # market orders pass the trade-mode, order-mode, price/deviation and volume-limit checks
        # whatever the request (full trade mode, market orders allowed, market or exchange
        # execution, no volume limit), so only volume, filling and stops need checking;
        self.market_plain = (spec.trade_mode == 4 and bool(spec.order_mode & SYMBOL_ORDER_MARKET)
                             and spec.exemode not in (0, 1) and spec.volume_limit <= 0.0)
        # decimals of the volume step (remaining volumes of partial closes are rounded to it).
        self.volume_digits = step_decimals(spec.volume_step)
        self.selected = spec.select
        self.bid = 0.0
        self.ask = 0.0
        self.time = 0
        self.index = -1
        self.formed = False
        self.timeframe = 0
        self.tf_seconds = 0
        self.rates: np.ndarray[Any, Any] = _EMPTY_RATES
        self.times: list[int] = []
        self.opens: list[float] = []
        self.highs: list[float] = []
        self.lows: list[float] = []
        self.closes: list[float] = []
        self.spreads: list[float] = []
        self.ask_opens: list[float] = []
        self.ask_closes: list[float] = []
        self.positions: list[Position] = []
        self.orders: list[PendingOrder] = []
        self.tape: TickTape | None = None
        self.tick_k = -1

    def load(
        self, timeframe: int, tf_seconds: int, rates: np.ndarray[Any, Any], spread_points: Any
    ) -> None:
        """Install bars (RATES_DTYPE, ascending time) and their per-bar spreads in points."""
        digits = self.spec.digits
        point = self.spec.point
        self.rates = rates
        self.timeframe = timeframe
        self.tf_seconds = tf_seconds
        self.times = rates["time"].tolist()
        self.opens = rates["open"].tolist()
        self.highs = rates["high"].tolist()
        self.lows = rates["low"].tolist()
        self.closes = rates["close"].tolist()
        spreads = np.round(np.asarray(spread_points, dtype=np.float64) * point, digits)
        self.spreads = spreads.tolist()
        self.ask_opens = np.round(rates["open"] + spreads, digits).tolist()
        self.ask_closes = np.round(rates["close"] + spreads, digits).tolist()
        self.index = -1
        self.formed = False
        self.tape = None
        self.tick_k = -1


def step_decimals(step: float) -> int:
    """Decimals needed to write a volume step such as 0.01 exactly (at most 8)."""
    for d in range(9):
        if abs(round(step, d) - step) < 1e-12:
            return d
    return 8


class Position:
    """An open position (hedging account: ticket = identifier = opening order ticket)."""

    __slots__ = (
        "comment", "fl", "fl_seq", "is_buy", "k", "magic", "margin", "price_open", "reason",
        "sl", "swap", "swap_day", "symbol", "ticket", "time", "time_update", "tp", "volume",
    )

    def __init__(
        self, ticket: int, symbol: str, is_buy: bool, volume: float, price: float,
        sl: float, tp: float, magic: int, comment: str, reason: int, time: int, margin: float,
    ) -> None:
        self.ticket = ticket
        self.symbol = symbol
        self.is_buy = is_buy
        self.volume = volume
        self.price_open = price
        self.sl = sl
        self.tp = tp
        self.magic = magic
        self.comment = comment
        self.reason = reason
        self.time = time
        self.time_update = time
        self.swap = 0.0
        self.swap_day = time // 86400
        self.margin = margin
        self.k = 0.0  # account money per price unit (signed), 0.0 = needs currency conversion
        self.fl = 0.0  # floating profit cached by Ledger.floating at quote change fl_seq
        self.fl_seq = -1

    def as_tuple(self, price_current: float, profit: float) -> Any:
        """The ``TradePosition`` of this position at ``price_current`` with ``profit``."""
        return tuple.__new__(TradePosition, (
            self.ticket, self.time, self.time * 1000, self.time_update,
            self.time_update * 1000, 0 if self.is_buy else 1, self.magic, self.ticket,
            self.reason, self.volume, self.price_open, self.sl, self.tp, price_current,
            self.swap, profit, self.symbol, self.comment, "",
        ))


class PendingOrder:
    """A working pending order (state ``ORDER_STATE_PLACED``)."""

    __slots__ = (
        "comment", "expiration", "magic", "price", "sl", "stoplimit", "symbol", "ticket",
        "time_setup", "tp", "type", "type_filling", "type_time", "volume",
    )

    def __init__(
        self, ticket: int, symbol: str, type_: int, volume: float, price: float,
        stoplimit: float, sl: float, tp: float, type_time: int, expiration: int,
        type_filling: int, magic: int, comment: str, time: int,
    ) -> None:
        self.ticket = ticket
        self.symbol = symbol
        self.type = type_
        self.volume = volume
        self.price = price
        self.stoplimit = stoplimit
        self.sl = sl
        self.tp = tp
        self.type_time = type_time
        self.expiration = expiration
        self.type_filling = type_filling
        self.magic = magic
        self.comment = comment
        self.time_setup = time

    def as_tuple(
        self, price_current: float, state: int = 1, time_done: int = 0, position_id: int = 0,
        reason: int = 3, volume_current: float | None = None,
    ) -> Any:
        """The ``TradeOrder`` of this order (active by default: state PLACED, not done)."""
        return tuple.__new__(TradeOrder, (
            self.ticket, self.time_setup, self.time_setup * 1000, time_done, time_done * 1000,
            self.expiration, self.type, self.type_time, self.type_filling, state, self.magic,
            position_id, 0, reason, self.volume,
            self.volume if volume_current is None else volume_current, self.price, self.sl,
            self.tp, price_current, self.stoplimit, self.symbol, self.comment, "",
        ))
