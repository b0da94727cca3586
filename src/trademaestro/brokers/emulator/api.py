"""Calling-convention and error-model machinery shared by the emulator's API methods.

:func:`api` wraps a method the way the C extension behaves (MT5_API.md §1.1–1.2): keyword or
argument ``TypeError`` raised before the body for METH_VARARGS / METH_NOARGS functions; then
``last_error`` reset to ``(1, 'Success')``, the fault hook consulted, and the body run.
:class:`ArgError` / :class:`Fail` end the call with their ``last_error`` and the function's
failure value; :class:`PendingOverflow` becomes the ``SystemError`` of a pending exception.

The fault hook (``emu.faults``) is skipped entirely while it is the default :class:`NoFaults`
(one class comparison per call). A hook with only ``before_call(function)`` is notified before the
body; a hook that also has ``intercept(emu, function, args, kwargs, proceed)`` (such as
:class:`~.faults.FaultPlan`) runs the call itself: it calls ``proceed()`` (the body) or not and
returns the call's value. Both may raise :class:`Fail` / :class:`ArgError` to end the call with
that ``last_error`` and the function's failure value.
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
IPC_RECV_FAILED = (-10002, "IPC recv failed")
IPC_TIMEOUT = (-10005, "IPC timeout")


class FaultHook(Protocol):
    """Seam for fault injection: consulted at the start of every API call (after the error
    reset; never for ``last_error``). It may raise, or mutate the emulator; the default does
    nothing. Optional extras, looked up by name: ``intercept(emu, function, args, kwargs,
    proceed) -> value`` replaces ``before_call`` and runs the call itself (see the module
    docstring); ``attach(emu)`` / ``detach(emu)`` are called when the hook is installed on /
    removed from an emulator (``emu.faults = hook``)."""

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
            faults = self._faults
            try:
                if faults.__class__ is NoFaults:  # the default hook does nothing: skip it
                    return fn(self, *args, **kwargs)
                return _hooked(self, faults, name, fn, args, kwargs)
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


def _hooked(emu: EmulatorBase, hook: FaultHook, name: str, fn: Callable[..., Any],
            args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run ``fn`` through a hook other than :class:`NoFaults`."""
    intercept = getattr(hook, "intercept", None)
    if intercept is None:
        hook.before_call(name)
        return fn(emu, *args, **kwargs)
    return intercept(emu, name, args, kwargs, lambda: fn(emu, *args, **kwargs))


class EmulatorBase:
    """State shared by the API mixins: configuration, ledger, error, connection, fault hook."""

    _config: EmulatorConfig
    _ledger: Ledger
    _error: tuple[int, str]
    _connected: bool
    _faults: FaultHook

    @property
    def faults(self) -> FaultHook:
        """The fault hook consulted by every API call (default :class:`NoFaults`). Assigning
        a hook detaches the previous one (its ``detach(emu)``, if any) and attaches the new
        one (its ``attach(emu)``, if any)."""
        return self._faults

    @faults.setter
    def faults(self, hook: FaultHook) -> None:
        old = getattr(self, "_faults", None)
        if old is not None and old is not hook:
            detach = getattr(old, "detach", None)
            if detach is not None:
                detach(self)
        self._faults = hook
        attach = getattr(hook, "attach", None)
        if attach is not None:
            attach(self)

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
