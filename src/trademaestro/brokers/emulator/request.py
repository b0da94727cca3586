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
    values = []
    for key, convert, default in REQUEST_KEYS:
        if key in source:
            values.append(convert(source[key], f'Invalid "{key}" argument'))
        else:
            values.append(default)
    return tuple.__new__(TradeRequest, values)
