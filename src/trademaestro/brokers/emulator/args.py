"""Argument conversions of the ``MetaTrader5`` C extension (MT5_API.md §1.1, §1.2, §1.5).

Two kinds of failure exist, and both are reproduced:

* :class:`ArgError` — the C code sets ``last_error`` to ``(-2, message)`` and returns its failure
  value (``None``/``False``); no Python exception reaches the caller.
* :class:`PendingOverflow` — the C code called ``PyLong_As…``/``.timestamp()``, got a Python
  exception, set ``last_error`` to -2 and returned without clearing it: CPython then raises
  ``SystemError: <built-in function f> returned a result with an exception set`` whose
  ``__cause__`` is the original exception (e.g. ``magic=-1``, a date >= 2**31).

``PyArg_ParseTuple`` failures (wrong number of positional arguments, ``"i"``/``"d"`` type
errors) are ordinary ``TypeError``/``OverflowError`` raised before any state changes.
"""

from __future__ import annotations

import datetime as _dt
import operator
from typing import Any

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


class ArgError(Exception):
    """Client-side validation failure: ``last_error`` becomes ``(code, message)``."""

    def __init__(self, message: str, code: int = -2) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class PendingOverflow(Exception):
    """A Python exception the C code leaves pending (becomes ``SystemError`` with a cause)."""

    def __init__(self, cause: BaseException, message: str = "Invalid arguments") -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.message = message


def system_error(function: str, pending: PendingOverflow) -> SystemError:
    """The ``SystemError`` CPython raises for a builtin that returned with an exception set."""
    error = SystemError(f"<built-in function {function}> returned a result with an exception set")
    error.__cause__ = pending.cause
    return error


def check_arity(args: tuple[Any, ...], low: int, high: int) -> None:
    """``PyArg_ParseTuple``'s count check: ``TypeError`` with CPython's wording."""
    n = len(args)
    if low <= n <= high:
        return
    if low == high:
        word = "exactly"
    elif n < low:
        word = "at least"
    else:
        word = "at most"
    expected = low if n < low else high
    plural = "" if expected == 1 else "s"
    raise TypeError(f"function takes {word} {expected} argument{plural} ({n} given)")


def no_keywords(function: str, kwargs: dict[str, Any]) -> None:
    """``METH_VARARGS`` builtins reject keywords with this exact ``TypeError``."""
    if kwargs:
        raise TypeError(f"{function}() takes no keyword arguments")


def parse_i(value: Any) -> int:
    """``PyArg_ParseTuple`` format ``"i"``: an index-able object within C int range."""
    number = operator.index(value)
    if number > INT32_MAX:
        raise OverflowError("signed integer is greater than maximum")
    if number < INT32_MIN:
        raise OverflowError("signed integer is less than minimum")
    return number


def parse_k(value: Any) -> int:
    """Format ``"k"``: an ``int`` taken modulo 2**32 (no overflow check)."""
    if not isinstance(value, int):
        raise TypeError(f"integer argument expected, got {type(value).__name__}")
    return value & 0xFFFFFFFF


def parse_d(value: Any) -> float:
    """Format ``"d"``: anything with ``__float__`` or ``__index__`` (ints accepted)."""
    kind = type(value)
    if not (hasattr(kind, "__float__") or hasattr(kind, "__index__")):
        raise TypeError(f"must be real number, not {kind.__name__}")
    return float(value)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (what ``PyUnicode_AsWideChar`` counts on Windows)."""
    return len(text.encode("utf-16-le")) // 2


def wide_str(value: Any, message: str, limit: int = 29) -> str:
    """A ``str`` of at most ``limit`` UTF-16 code units (symbol, comment), else ``ArgError``."""
    if not isinstance(value, str) or len(value) > limit:  # UTF-16 units >= characters
        raise ArgError(message)
    if not value.isascii() and utf16_len(value) > limit:
        raise ArgError(message)
    return value


def to_time(value: Any, message: str) -> int:
    """A date argument as 32-bit seconds (MT5_API.md §1.5, §10.3).

    ``int`` as is; ``float`` truncated; ``datetime`` through ``.timestamp()`` (a naive datetime
    is read in the local zone of this machine, exactly like the C code) then truncated.
    Anything else → ``ArgError(message)``; out of int32 range → ``PendingOverflow``.
    """
    if isinstance(value, int):
        seconds = int(value)
    elif isinstance(value, float):
        try:
            seconds = int(value)
        except (OverflowError, ValueError) as exc:
            raise PendingOverflow(exc, message) from None
    elif isinstance(value, _dt.datetime):
        try:
            seconds = int(value.timestamp())
        except (OverflowError, ValueError, OSError) as exc:
            raise PendingOverflow(exc, message) from None
    else:
        raise ArgError(message)
    if not INT32_MIN <= seconds <= INT32_MAX:
        raise PendingOverflow(OverflowError("Python int too large to convert to C long"), message)
    return seconds


def unsigned(value: Any, message: str, bits: int = 64) -> int:
    """An unsigned request field: ``int`` only; negative or too large → ``PendingOverflow``."""
    if not isinstance(value, int):
        raise ArgError(message)
    if value < 0:
        raise PendingOverflow(OverflowError("can't convert negative int to unsigned"), message)
    if value >= 1 << bits:
        raise PendingOverflow(OverflowError("int too big to convert"), message)
    return int(value)


def signed64(value: Any, message: str) -> int:
    """A signed 64-bit request field (``expiration``): ``int`` only."""
    if not isinstance(value, int):
        raise ArgError(message)
    if not -(2**63) <= value < 2**63:
        raise PendingOverflow(
            OverflowError("Python int too large to convert to C long long"), message
        )
    return int(value)


def real(value: Any, message: str) -> float:
    """A float request field: ``float`` or subclass (``numpy.float64``); ``int`` rejected."""
    if not isinstance(value, float):
        raise ArgError(message)
    return float(value)
