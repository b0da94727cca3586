"""Parsing of ``order_send``/``order_check`` requests exactly as the C code does (MT5_API.md §6.1).

The request is one positional ``dict`` (or subclass) or the fields as keyword arguments. Keys are
read in the fixed order of :data:`REQUEST_KEYS`; the first bad value wins and is the only error
reported. Missing keys default to 0 / 0.0 / ''; unknown keys are ignored; ``None`` values are
errors. Integer fields need ``int`` (``bool`` passes, ``numpy.int64`` does not); float fields
need ``float`` (``numpy.float64`` passes, ``int`` does not); strings at most 29 UTF-16 units.
Negative unsigned values leave a pending ``OverflowError`` (→ ``SystemError``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .args import ArgError, real, signed64, unsigned, wide_str
from .results import TradeRequest


def _u64(value: Any, message: str) -> int:
    return unsigned(value, message, 64)


def _u32(value: Any, message: str) -> int:
    return unsigned(value, message, 32)


def _str(value: Any, message: str) -> str:
    return wide_str(value, message)


_Converter = Callable[[Any, str], Any]

REQUEST_KEYS: tuple[tuple[str, _Converter, Any], ...] = (
    ("action", _u32, 0),
    ("magic", _u64, 0),
    ("order", _u64, 0),
    ("symbol", _str, ""),
    ("volume", real, 0.0),
    ("price", real, 0.0),
    ("stoplimit", real, 0.0),
    ("sl", real, 0.0),
    ("tp", real, 0.0),
    ("deviation", _u64, 0),
    ("type", _u32, 0),
    ("type_filling", _u32, 0),
    ("type_time", _u32, 0),
    ("expiration", signed64, 0),
    ("comment", _str, ""),
    ("position", _u64, 0),
    ("position_by", _u64, 0),
)
"""(key, converter, default) in the order the C code reads them."""


_U32 = 0xFFFFFFFF
_U64 = 0xFFFFFFFFFFFFFFFF
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
_MESSAGES = {key: f'Invalid "{key}" argument' for key, _, _ in REQUEST_KEYS}


def parse_request(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The :class:`TradeRequest` of an ``order_send``/``order_check`` call.

    Raises:
        ArgError: ``Unnamed arguments not allowed`` (dict and keywords mixed),
            ``Invalid number of arguments``, ``Invalid arguments`` (not a dict) or
            ``Invalid "<key>" argument``.
        PendingOverflow: negative or too large unsigned value.
    """
    if args and kwargs:
        raise ArgError("Unnamed arguments not allowed")
    if kwargs:
        source: dict[str, Any] = kwargs
    else:
        if len(args) != 1:
            raise ArgError("Invalid number of arguments")
        if not isinstance(args[0], dict):
            raise ArgError("Invalid arguments")
        source = args[0]
    if type(source) is dict:
        return parse_plain(source)
    values = []
    for key, convert, default in REQUEST_KEYS:
        if key in source:
            values.append(convert(source[key], _MESSAGES[key]))
        else:
            values.append(default)
    return tuple.__new__(TradeRequest, values)


def parse_plain(source: dict[str, Any]) -> Any:
    """:func:`parse_request` of an exact ``dict``, unrolled in :data:`REQUEST_KEYS` order.

    Each value of the expected exact type and range passes as is; anything else goes through
    the general converter, which returns the same value or raises the same error as the loop
    (a missing key yields the default, which passes its own check unchanged).
    """
    get = source.get
    m = _MESSAGES
    action = get("action", 0)
    if type(action) is not int or not 0 <= action <= _U32:
        action = _u32(action, m["action"])
    magic = get("magic", 0)
    if type(magic) is not int or not 0 <= magic <= _U64:
        magic = _u64(magic, m["magic"])
    order = get("order", 0)
    if type(order) is not int or not 0 <= order <= _U64:
        order = _u64(order, m["order"])
    symbol = get("symbol", "")
    if type(symbol) is not str or len(symbol) > 29 or not symbol.isascii():
        symbol = _str(symbol, m["symbol"])
    volume = get("volume", 0.0)
    if type(volume) is not float:
        volume = real(volume, m["volume"])
    price = get("price", 0.0)
    if type(price) is not float:
        price = real(price, m["price"])
    stoplimit = get("stoplimit", 0.0)
    if type(stoplimit) is not float:
        stoplimit = real(stoplimit, m["stoplimit"])
    sl = get("sl", 0.0)
    if type(sl) is not float:
        sl = real(sl, m["sl"])
    tp = get("tp", 0.0)
    if type(tp) is not float:
        tp = real(tp, m["tp"])
    deviation = get("deviation", 0)
    if type(deviation) is not int or not 0 <= deviation <= _U64:
        deviation = _u64(deviation, m["deviation"])
    type_ = get("type", 0)
    if type(type_) is not int or not 0 <= type_ <= _U32:
        type_ = _u32(type_, m["type"])
    type_filling = get("type_filling", 0)
    if type(type_filling) is not int or not 0 <= type_filling <= _U32:
        type_filling = _u32(type_filling, m["type_filling"])
    type_time = get("type_time", 0)
    if type(type_time) is not int or not 0 <= type_time <= _U32:
        type_time = _u32(type_time, m["type_time"])
    expiration = get("expiration", 0)
    if type(expiration) is not int or not _I64_MIN <= expiration <= _I64_MAX:
        expiration = signed64(expiration, m["expiration"])
    comment = get("comment", "")
    if type(comment) is not str or len(comment) > 29 or not comment.isascii():
        comment = _str(comment, m["comment"])
    position = get("position", 0)
    if type(position) is not int or not 0 <= position <= _U64:
        position = _u64(position, m["position"])
    position_by = get("position_by", 0)
    if type(position_by) is not int or not 0 <= position_by <= _U64:
        position_by = _u64(position_by, m["position_by"])
    return tuple.__new__(TradeRequest, (
        action, magic, order, symbol, volume, price, stoplimit, sl, tp, deviation, type_,
        type_filling, type_time, expiration, comment, position, position_by,
    ))
