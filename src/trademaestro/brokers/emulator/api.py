"""Calling-convention and error-model machinery shared by the emulator's API methods.

:func:`api` wraps a method the way the C extension behaves (MT5_API.md §1.1–1.2): keyword or
argument ``TypeError`` raised before the body for METH_VARARGS / METH_NOARGS functions; then
``last_error`` reset to ``(1, 'Success')``, the fault hook consulted, and the body run.
:class:`ArgError` / :class:`Fail` end the call with their ``last_error`` and the function's
failure value; :class:`PendingOverflow` becomes the ``SystemError`` of a pending exception.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Protocol

from .args import ArgError, PendingOverflow, no_keywords, system_error
from .config import EmulatorConfig
from .ledger import Ledger
from .state import Market

SUCCESS = (1, "Success")
NO_IPC = (-10004, "No IPC connection")
CALL_FAILED = (-1, "Terminal: Call failed")
INVALID_PARAMS = (-2, "Terminal: Invalid params")
AUTH_FAILED = (-6, "Terminal: Authorization failed")
API_DISABLED = (-8, "Auto-Trading using Python API disabled in Terminal")


class FaultHook(Protocol):
    """Seam for fault injection: consulted at the start of every API call (after the error
    reset). It may raise, or mutate the emulator; the default does nothing."""

    def before_call(self, function: str) -> None:
        """Called with the API function name (e.g. ``"order_send"``)."""


class NoFaults:
    """The default :class:`FaultHook`: no faults."""

    def before_call(self, function: str) -> None:
        """Do nothing."""


class Fail(Exception):
    """Internal: end the call with ``last_error = error`` and the function's failure value."""

    def __init__(self, error: tuple[int, str]) -> None:
        super().__init__(error[1])
        self.error = error


def api(kind: str, failure: Any = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap an API method with the C module's calling convention and error model.

    ``kind``: ``"noargs"`` (METH_NOARGS), ``"varargs"`` (positional only) or ``"kw"``.
    """

    noargs = kind == "noargs"
    varargs = kind == "varargs"

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        name = fn.__name__

        @wraps(fn)
        def call(self: EmulatorBase, *args: Any, **kwargs: Any) -> Any:
            if noargs:
                if kwargs:
                    raise TypeError(f"{name}() takes no keyword arguments")
                if args:
                    raise TypeError(f"{name}() takes no arguments ({len(args)} given)")
            elif varargs and kwargs:
                no_keywords(name, kwargs)
            self._error = SUCCESS
            faults = self.faults
            if faults.__class__ is not NoFaults:  # the default hook does nothing: skip the call
                faults.before_call(name)
            try:
                return fn(self, *args, **kwargs)
            except ArgError as exc:
                self._error = (exc.code, exc.message)
            except Fail as exc:
                self._error = exc.error
            except PendingOverflow as exc:
                self._error = (-2, exc.message)
                raise system_error(name, exc) from exc.cause
            return failure

        return call

    return decorate



class EmulatorBase:
    """State shared by the API mixins: configuration, ledger, error, connection, fault hook."""

    _config: EmulatorConfig
    _ledger: Ledger
    _error: tuple[int, str]
    _connected: bool
    faults: FaultHook

    def _online(self) -> None:
        if not self._connected:
            raise Fail(NO_IPC)

    def _market(self, symbol: Any) -> Market:
        if not isinstance(symbol, str):
            raise ArgError("Invalid arguments")
        self._online()
        market = self._ledger.markets.get(symbol)
        if market is None:
            raise Fail(CALL_FAILED)
        return market

    def _auth(self, login: Any, password: Any, server: Any) -> None:
        cfg = self._config
        if login is not None and login != cfg.login:
            raise Fail(AUTH_FAILED)
        if password is not None and cfg.password is not None and password != cfg.password:
            raise Fail(AUTH_FAILED)
        if server is not None and server != cfg.server:
            raise Fail(AUTH_FAILED)
