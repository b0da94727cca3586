"""What crosses a process boundary when a ``MetaTrader5``-like object lives in another process.

Shared by the gateway (:mod:`.gateway`, a child process owning the terminal) and the emulator
server (:mod:`trademaestro.brokers.emulator.server`, a process owning one emulator):

* :func:`surface_of` — the constants and function names of a ``MetaTrader5``-like object, sent
  once when a connection starts (the far side caches the constants as attributes);
* :func:`portable` — a result made safe to pickle: the real package's ``PyStructSequence``
  results become the emulator's result types of the same name (identical field names and order,
  MT5_API.md §3); the emulator's own results pass through unchanged (they pickle as they are);
* :func:`portable_exception` — an exception that survives pickling (else a :class:`RemoteCallError`
  carrying its type name and message);
* :func:`failure_value` — what an MT5 function returns on failure (MT5_API.md §1.2).
"""

from __future__ import annotations

import copyreg
import pickle
from typing import Any

from trademaestro.brokers.emulator import results as _results
from trademaestro.core.errors import BrokerError

NO_IPC = (-10004, "No IPC connection")
"""``last_error`` after a broken pipe / before ``initialize`` (MT5_API.md §1.3)."""
IPC_TIMEOUT = (-10005, "IPC timeout")
"""``last_error`` after a call that timed out (MT5_API.md §1.3)."""
IPC_SEND_FAILED = (-10001, "IPC send failed")
IPC_RECV_FAILED = (-10002, "IPC recv failed")

FALSE_ON_FAILURE = frozenset(
    {"initialize", "login", "symbol_select", "market_book_add", "market_book_release"}
)
"""Functions that return ``False`` on failure; every other function returns ``None``."""

CONNECT_FUNCTIONS = frozenset({"initialize", "login"})
ORDER_FUNCTIONS = frozenset({"order_send", "order_check"})
STATE_CHANGING = frozenset({"order_send"})
"""Functions whose outcome is unknown when the call is lost (the trade may have happened)."""

MT5_FUNCTIONS: tuple[str, ...] = (
    "initialize", "login", "shutdown", "last_error", "version", "account_info",
    "terminal_info", "symbols_total", "symbols_get", "symbol_info", "symbol_info_tick",
    "symbol_select", "market_book_add", "market_book_get", "market_book_release",
    "copy_rates_from", "copy_rates_from_pos", "copy_rates_range", "copy_ticks_from",
    "copy_ticks_range", "positions_total", "positions_get", "orders_total", "orders_get",
    "history_orders_total", "history_orders_get", "history_deals_total", "history_deals_get",
    "order_calc_margin", "order_calc_profit", "order_check", "order_send",
)
"""The 32 functions of the ``MetaTrader5`` package (MT5_API.md §1.1)."""

_RESULT_TYPES: dict[str, type[Any]] = {t.__name__: t for t in _results.RESULT_TYPES}


class RemoteCallError(BrokerError):
    """An exception raised on the far side that could not be sent back as itself.

    Attributes:
        type_name: the qualified name of the original exception type.
    """

    def __init__(self, message: str, type_name: str = "Exception") -> None:
        super().__init__(message)
        self.type_name = type_name

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.type_name))


def failure_value(function: str) -> Any:
    """The value ``function`` returns on failure: ``False`` or ``None`` (MT5_API.md §1.2)."""
    return False if function in FALSE_ON_FAILURE else None


def surface_of(terminal: Any) -> tuple[dict[str, Any], tuple[str, ...]]:
    """``(constants, functions)`` of a ``MetaTrader5``-like object.

    ``constants``: every upper-case attribute holding an int/float/str (the 223 ``MetaTrader5``
    constants), plus ``__version__`` and ``__author__`` when present. ``functions``: those of
    :data:`MT5_FUNCTIONS` it has (the emulator has no ``market_book_*``), sorted.
    """
    constants: dict[str, Any] = {}
    for name in dir(terminal):
        if name.isupper() and not name.startswith("_"):
            value = getattr(terminal, name, None)
            if isinstance(value, int | float | str):
                constants[name] = value
    for dunder in ("__version__", "__author__"):
        if isinstance(getattr(terminal, dunder, None), str):
            constants[dunder] = getattr(terminal, dunder)
    functions = [n for n in MT5_FUNCTIONS if callable(getattr(terminal, n, None))]
    return constants, tuple(sorted(functions))


def portable(value: Any) -> Any:
    """``value`` in a form that pickles and rebuilds to an equal value of the same shape.

    A result of a foreign ``PyStructSequence`` type named like one of the 11 MT5 result types
    (the real package's) becomes the emulator's type of that name, recursively (``request``
    inside ``OrderSendResult``; tuples of positions); everything else is returned unchanged
    (the emulator's results, numbers, strings, numpy arrays all pickle as they are).
    """
    cls = type(value)
    if cls is tuple:
        if value and _foreign(value[0]):
            return tuple(portable(v) for v in value)
        return value
    if _foreign(value):
        target = _RESULT_TYPES[cls.__name__]
        return tuple.__new__(target, tuple(portable(v) for v in value))
    return value


def _foreign(value: Any) -> bool:
    cls = type(value)
    return (
        isinstance(value, tuple)
        and cls is not tuple
        and cls.__module__ != _results.__name__
        and cls.__name__ in _RESULT_TYPES
    )


def portable_exception(exc: BaseException) -> BaseException:
    """``exc`` made to survive a pickle round trip as itself.

    Exceptions whose ``__init__`` takes other arguments than their ``args`` (``DataError``,
    ``StrategyError``, ``OrderRejected``) do not unpickle by default; for such a type a
    reducer is registered (:mod:`copyreg`) that rebuilds the instance without calling
    ``__init__``: same type, ``args`` (hence message) and attributes. What still fails becomes
    a :class:`RemoteCallError` with the type name and message.
    """
    if _round_trips(exc):
        return exc
    copyreg.pickle(type(exc), _reduce_exception)
    if _round_trips(exc):
        return exc
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    return RemoteCallError(f"{name}: {exc}", name)


def _round_trips(exc: BaseException) -> bool:
    try:
        back = pickle.loads(pickle.dumps(exc))
    except Exception:  # any failure means "not portable"
        return False
    return type(back) is type(exc) and back.args == exc.args


def _reduce_exception(exc: BaseException) -> tuple[Any, ...]:
    return (_rebuild_exception, (type(exc), exc.args, dict(vars(exc))))


def _rebuild_exception(cls: type[BaseException], args: tuple[Any, ...],
                       state: dict[str, Any]) -> BaseException:
    """Unpickle an exception without calling its ``__init__`` (see :func:`portable_exception`)."""
    exc = cls.__new__(cls, *args)
    exc.args = args
    vars(exc).update(state)
    return exc
