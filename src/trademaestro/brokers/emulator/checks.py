"""Trade-request validation rules of the emulated server (MT5_API.md §6.4, §6.8, §7).

Each function returns 0 when the request passes and a ``TRADE_RETCODE_*`` otherwise. Prices are
compared with a tolerance of half a point (prices live on the point grid), volumes with a
millionth of a step; floats are never compared for equality.
"""

from __future__ import annotations

from .specs import (
    SYMBOL_FILLING_BOC,
    SYMBOL_FILLING_FOK,
    SYMBOL_FILLING_IOC,
    SYMBOL_ORDER_SL,
    SYMBOL_ORDER_TP,
    EmulatorSymbol,
)
from .state import Market, PendingOrder, Position

INVALID = 10013
INVALID_VOLUME = 10014
INVALID_PRICE = 10015
INVALID_STOPS = 10016
TRADE_DISABLED = 10017
INVALID_EXPIRATION = 10022
FROZEN = 10029
INVALID_FILL = 10030
LONG_ONLY = 10042
SHORT_ONLY = 10043
CLOSE_ONLY = 10044

_BUY_TYPES = (0, 2, 4, 6)
_LIMIT_TYPES = (2, 3, 6, 7)


def is_buy_type(order_type: int) -> bool:
    """True for ORDER_TYPE_BUY and the buy pending types (2, 4, 6)."""
    return order_type in _BUY_TYPES


def on_grid(spec: EmulatorSymbol, price: float) -> bool:
    """True when ``price`` is a multiple of ``tick_size`` (within a millionth of a tick)."""
    ticks = price / spec.tick_size
    return abs(ticks - round(ticks)) < 1e-6


def volume_code(spec: EmulatorSymbol, volume: float) -> int:
    """10014 unless ``volume_min <= volume <= volume_max`` on the ``volume_step`` grid."""
    step = spec.volume_step
    tol = step * 1e-6
    if not volume > 0.0 or volume < spec.volume_min - tol or volume > spec.volume_max + tol:
        return INVALID_VOLUME
    steps = volume / step
    return 0 if abs(steps - round(steps)) < 1e-6 else INVALID_VOLUME


def trade_mode_code(spec: EmulatorSymbol, is_buy: bool, opening: bool) -> int:
    """10017 disabled, 10044 close-only (for openings), 10042/10043 long/short only."""
    mode = spec.trade_mode
    if mode == 0:
        return TRADE_DISABLED
    if opening and mode == 3:
        return CLOSE_ONLY
    if opening and mode == 1 and not is_buy:
        return LONG_ONLY
    if opening and mode == 2 and is_buy:
        return SHORT_ONLY
    return 0


def filling_code(spec: EmulatorSymbol, type_filling: int, order_type: int, market: bool) -> int:
    """10030 unless ``type_filling`` is allowed by the symbol's ``filling_mode`` bits.

    FOK/IOC need their bit; RETURN is allowed for pending orders and for market orders only
    when ``market_return_allowed``; BOC needs its bit and a limit / stop-limit pending type.
    """
    bits = spec.filling_mode
    if type_filling == 0:
        ok = bool(bits & SYMBOL_FILLING_FOK)
    elif type_filling == 1:
        ok = bool(bits & SYMBOL_FILLING_IOC)
    elif type_filling == 2:
        ok = (not market) or spec.market_return_allowed
    elif type_filling == 3:
        ok = bool(bits & SYMBOL_FILLING_BOC) and not market and order_type in _LIMIT_TYPES
    else:
        ok = False
    return 0 if ok else INVALID_FILL


def _far(distance: float, level: float, eps: float) -> bool:
    """A distance on the right side (> 0) and at least ``level`` (price units)."""
    return distance > eps and distance >= level - eps


def stops_code(spec: EmulatorSymbol, is_buy: bool, ref: float, sl: float, tp: float) -> int:
    """10016 unless SL/TP are normalised, allowed by ``order_mode`` and at least
    ``stops_level`` points on the right side of ``ref`` (Bid for a buy position, Ask for a
    sell; the order price for pending orders)."""
    eps = spec.point / 2
    level = spec.stops_level * spec.point - eps
    tick = spec.tick_size
    if sl > 0.0:
        if not spec.order_mode & SYMBOL_ORDER_SL:
            return INVALID_STOPS
        ticks = sl / tick
        if not abs(ticks - round(ticks)) < 1e-6:  # on_grid
            return INVALID_STOPS
        distance = ref - sl if is_buy else sl - ref
        if not (distance > eps and distance >= level):  # _far
            return INVALID_STOPS
    if tp > 0.0:
        if not spec.order_mode & SYMBOL_ORDER_TP:
            return INVALID_STOPS
        ticks = tp / tick
        if not abs(ticks - round(ticks)) < 1e-6:
            return INVALID_STOPS
        distance = tp - ref if is_buy else ref - tp
        if not (distance > eps and distance >= level):
            return INVALID_STOPS
    if sl < 0.0 or tp < 0.0:
        return INVALID_STOPS
    return 0


def pending_price_code(market: Market, order_type: int, price: float, stoplimit: float) -> int:
    """10015 unless the pending price is normalised and on the right side of the market by at
    least ``stops_level`` points (§7.2 table); for stop-limit types also the limit price."""
    spec = market.spec
    eps = spec.point / 2
    level = spec.stops_level * spec.point
    if not price > 0.0 or not on_grid(spec, price):
        return INVALID_PRICE
    distance = {
        2: market.ask - price, 3: price - market.bid, 4: price - market.ask,
        5: market.bid - price, 6: price - market.ask, 7: market.bid - price,
    }[order_type]
    if not _far(distance, level, eps):
        return INVALID_PRICE
    if order_type in (6, 7):
        if not stoplimit > 0.0 or not on_grid(spec, stoplimit):
            return INVALID_PRICE
        gap = price - stoplimit if order_type == 6 else stoplimit - price
        if gap < -eps:
            return INVALID_PRICE
    return 0


def expiration_code(spec: EmulatorSymbol, type_time: int, expiration: int, now: int) -> int:
    """10022 unless ``type_time`` is allowed by ``expiration_mode`` and a specified expiration
    lies in the future (server seconds)."""
    if type_time > 3 or not spec.expiration_mode & (1 << type_time):
        return INVALID_EXPIRATION
    if type_time in (2, 3) and expiration <= now:
        return INVALID_EXPIRATION
    return 0


def position_frozen(market: Market, pos: Position) -> bool:
    """True when the position's SL or TP lies within ``freeze_level`` points of the market."""
    spec = market.spec
    if spec.freeze_level <= 0:
        return False
    limit = spec.freeze_level * spec.point + spec.point / 2
    ref = market.bid if pos.is_buy else market.ask
    return any(level > 0.0 and abs(ref - level) <= limit for level in (pos.sl, pos.tp))


def order_frozen(market: Market, order: PendingOrder) -> bool:
    """True when a pending order's price lies within ``freeze_level`` points of the market."""
    spec = market.spec
    if spec.freeze_level <= 0:
        return False
    ref = market.ask if is_buy_type(order.type) else market.bid
    return abs(ref - order.price) <= spec.freeze_level * spec.point + spec.point / 2
