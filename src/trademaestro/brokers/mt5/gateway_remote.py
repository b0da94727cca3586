"""``RemoteTerminal``: an object behaving like the ``MetaTrader5`` module, whose calls run in an
emulator server (:mod:`trademaestro.brokers.emulator.server`) over a socket.

Error model, like the real package's pipe to its terminal (MT5_API.md §1.2-1.3): a call whose
request cannot be sent returns the function's failure value with ``last_error``
``(-10001, 'IPC send failed')``, one whose reply does not arrive ``(-10002, 'IPC recv failed')``;
afterwards every call fails with ``(-10004, 'No IPC connection')`` until ``initialize``
reconnects (``(-10003, 'IPC initialize failed, ...')`` when the server cannot be reached).
Exceptions the far side raises (``TypeError`` for bad arguments, ``SystemError``) are re-raised
here as themselves.

Not thread-safe on its own (one call at a time per instance; the gateway holds a lock).
"""

from __future__ import annotations

from collections.abc import Callable
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Connection
from typing import Any

from trademaestro.brokers.emulator import results as _results
from trademaestro.core.errors import BrokerError

from .gateway_wire import IPC_RECV_FAILED, IPC_SEND_FAILED, NO_IPC, failure_value

Address = str | tuple[str, int]
SUCCESS = (1, "Success")


VALUE_ATTRIBUTES: dict[str, frozenset[str]] = {
    "replay": frozenset({"now", "has_positions"}),
    "faults": frozenset({"fired"}),
}
"""The non-method attributes of the emulator's controls: read (one round trip) on access."""


class ControlProxy:
    """``terminal.replay`` / ``terminal.faults`` of a remote or gateway-hosted emulator: every
    attribute is a method forwarded as ``call(target, method, *args, **kwargs)``, except the
    values of :data:`VALUE_ATTRIBUTES` (``replay.now``, ``replay.has_positions``,
    ``faults.fired``), which are read when accessed."""

    def __init__(self, call: Callable[..., Any], target: str) -> None:
        self._call = call
        self._target = target
        self._values = VALUE_ATTRIBUTES.get(target, frozenset())

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._values:
            return self._call(self._target, name)

        def forward(*args: Any, **kwargs: Any) -> Any:
            return self._call(self._target, name, *args, **kwargs)

        forward.__name__ = name
        self.__dict__[name] = forward
        return forward


class RemoteTerminal:
    """A client of an emulator server that behaves like the ``MetaTrader5`` module.

    Args:
        address: the server's Unix socket path or ``(host, port)``.
        authkey: the server's key.

    Attributes: the 223 constants and ``__version__`` (from the server, at connection), the 11
    result types, every MT5 function as a method, ``last_error()`` (local: the error of this
    client's last call), :attr:`replay` / :attr:`faults` control proxies.

    Raises:
        BrokerError: (constructor) the server cannot be reached or refuses the key (code -10003).
    """

    AccountInfo = _results.AccountInfo
    TerminalInfo = _results.TerminalInfo
    SymbolInfo = _results.SymbolInfo
    Tick = _results.Tick
    TradePosition = _results.TradePosition
    TradeOrder = _results.TradeOrder
    TradeDeal = _results.TradeDeal
    TradeRequest = _results.TradeRequest
    OrderSendResult = _results.OrderSendResult
    OrderCheckResult = _results.OrderCheckResult
    BookInfo = _results.BookInfo

    def __init__(self, address: Address, authkey: bytes) -> None:
        self._address = address
        self._authkey = authkey
        self._conn: Connection | None = None
        self._error: tuple[int, str] = SUCCESS
        self._functions: frozenset[str] = frozenset()
        self._connect()
        hello = self._request(("hello",))
        for name, value in hello["constants"].items():
            setattr(self, name, value)
        self._functions = frozenset(hello["functions"])
        self.server_pid: int = hello["pid"]
        self.replay = ControlProxy(self.control_call, "replay")
        self.faults = ControlProxy(self.control_call, "faults")

    # -- connection ----------------------------------------------------------------------------
    def _connect(self) -> None:
        try:
            self._conn = Client(self._address, authkey=self._authkey)
        except (OSError, EOFError, ValueError, AuthenticationError) as exc:
            raise BrokerError(f"emulator server at {self._address!r} not reachable: {exc}",
                              code=-10003) from exc

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def close(self) -> None:
        """Close the connection (the server keeps running)."""
        self._drop()

    # -- MT5 surface ---------------------------------------------------------------------------
    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_") or name not in self._functions:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

        def forward(*args: Any, **kwargs: Any) -> Any:
            return self._mt5_call(name, args, kwargs)

        forward.__name__ = name
        self.__dict__[name] = forward
        return forward

    def last_error(self) -> tuple[int, str]:
        """``(code, description)`` of this client's last MT5 call (never fails)."""
        return self._error

    def _mt5_call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self._conn is None:
            if name != "initialize":
                self._error = NO_IPC
                return failure_value(name)
            try:
                self._connect()
            except BrokerError as exc:
                self._error = (-10003, f"IPC initialize failed, {exc}")
                return False
        conn = self._conn
        assert conn is not None
        try:
            conn.send(("call", name, args, kwargs))
        except (OSError, EOFError):
            self._drop()
            self._error = IPC_SEND_FAILED
            return failure_value(name)
        try:
            status, value, error = conn.recv()
        except (OSError, EOFError):
            self._drop()
            self._error = IPC_RECV_FAILED
            return failure_value(name)
        if error is not None:
            self._error = tuple(error)
        if status == "raise":
            raise value
        return value

    # -- control (not part of the MT5 surface) ---------------------------------------------------
    def control_call(self, target: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """``emu.<target>.<method>(*args, **kwargs)`` in the server (``target`` "replay" or
        "faults"); a non-callable attribute (``replay.now``) is returned as is.

        Raises:
            BrokerError: the server cannot be reached (code -10004); whatever the method raised.
        """
        return self._request(("attr", target, method, args, kwargs))

    def replay_call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``emu.replay.<method>(*args, **kwargs)`` in the server."""
        return self.control_call("replay", method, *args, **kwargs)

    def shutdown_server(self) -> None:
        """Ask the server to stop (it finishes the call in progress, then exits)."""
        self._request(("shutdown_server",))
        self._drop()

    def _request(self, msg: tuple[Any, ...]) -> Any:
        """A control request; reconnects once if the connection was lost."""
        if self._conn is None:
            self._connect()
        conn = self._conn
        assert conn is not None
        try:
            conn.send(msg)
            status, value, _ = conn.recv()
        except (OSError, EOFError) as exc:
            self._drop()
            raise BrokerError(f"emulator server at {self._address!r}: connection lost ({exc})",
                              code=NO_IPC[0]) from exc
        if status == "raise":
            raise value
        return value
