"""The gateway's child process: builds the ``MetaTrader5``-like object from a picklable
:class:`TerminalFactory` and runs the calls the parent sends over its pipe.

Child protocol (pickled tuples over a duplex ``multiprocessing`` Pipe):

* at start the child sends ``("ready", pid, constants, functions)`` or ``("failed", exc)``;
* requests ``(seq, "call", name, args, kwargs)``, ``(seq, "attr", target, method, args,
  kwargs)`` (``terminal.<target>.<method>``: emulator replay/fault control),
  ``(seq, "many", [request, ...])`` (requests without their seq, run in order in one round
  trip; the first that raises ends the batch) and ``(seq, "close")``;
* replies ``(seq, status, value, last_error)``: status ``"ok"`` or ``"raise"`` (value is the
  exception), ``last_error`` the terminal's error right after an MT5 call (None for control);
  for ``"many"`` an ``"ok"`` value is the list of results, and ``last_error`` is the last MT5
  call's.

The child ignores SIGINT (the parent owns Ctrl-C and closes the gateway) and exits when its
parent dies.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Literal

from trademaestro.brokers.emulator import MT5Emulator
from trademaestro.brokers.emulator.server import (
    Address,
    EmulatorSpec,
    build_emulator,
    control_emulator,
)
from trademaestro.core.errors import ConfigError

from .gateway_wire import RemoteCallError, portable, portable_exception, surface_of

TerminalKind = Literal["metatrader5", "emulator", "remote"]
DEBUG_EXIT_CODE = 70
"""Exit code of a child that ended itself through ``debug_exit_on``."""


@dataclass(frozen=True)
class TerminalFactory:
    """A picklable recipe for the object the gateway child owns.

    Attributes:
        kind: ``"metatrader5"`` (the real package via ``loader.import_metatrader5``; Windows
            only), ``"emulator"`` (an :class:`MT5Emulator` built from ``emulator``; its state
            lives in the child and is LOST when the child is restarted) or ``"remote"`` (a
            :class:`RemoteTerminal` client of the emulator server at ``address``/``authkey``;
            the broker state outlives the child).
        emulator: the emulator recipe for kind ``"emulator"`` (default: ``EmulatorSpec()``).
        address, authkey: the emulator server for kind ``"remote"``.
        debug_hang_on: test aid: MT5 function names (or ``"replay.<method>"``) on which the
            child blocks forever before calling.
        debug_exit_on: test aid: names on which the child exits at once (``os._exit(70)``).

    Raises:
        ConfigError: an unknown kind, or kind ``"remote"`` without address and authkey.
    """

    kind: TerminalKind = "emulator"
    emulator: EmulatorSpec | None = None
    address: Address | None = None
    authkey: bytes | None = None
    debug_hang_on: tuple[str, ...] = ()
    debug_exit_on: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("metatrader5", "emulator", "remote"):
            raise ConfigError(f"TerminalFactory.kind: found {self.kind!r}; allowed: "
                              "'metatrader5', 'emulator', 'remote'")
        if self.kind == "remote" and (self.address is None or not self.authkey):
            raise ConfigError("TerminalFactory: kind 'remote' needs address and authkey "
                              f"(found address={self.address!r})")

    def build(self) -> Any:
        """Build the terminal object (in the child process).

        Raises:
            ConfigError: the real package is unavailable here; errors of
                :func:`build_emulator`; BrokerError: the emulator server is unreachable.
        """
        if self.kind == "metatrader5":
            from .loader import import_metatrader5

            return import_metatrader5()
        if self.kind == "remote":
            from .gateway_remote import RemoteTerminal

            assert self.address is not None and self.authkey is not None
            return RemoteTerminal(self.address, self.authkey)
        return build_emulator(self.emulator if self.emulator is not None else EmulatorSpec())


def control(terminal: Any, target: str, method: str, args: tuple[Any, ...],
            kwargs: dict[str, Any]) -> Any:
    """``terminal.<target>.<method>(*args, **kwargs)``: in the server for a RemoteTerminal,
    else on the emulator (:func:`~trademaestro.brokers.emulator.server.control_emulator`).

    Raises:
        ConfigError: the terminal is no emulator (the real package has no controls).
        AttributeError: no such control.
    """
    if hasattr(terminal, "control_call"):  # a RemoteTerminal: the server runs it
        return terminal.control_call(target, method, *args, **kwargs)
    if not isinstance(terminal, MT5Emulator):
        raise ConfigError(f"gateway control {target}.{method}: only the emulator has "
                          "controls (kinds 'emulator' and 'remote')")
    return control_emulator(terminal, target, method, args, kwargs)


def _watch_parent() -> None:
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(0)

    threading.Thread(target=watch, name="gateway-parent-watch", daemon=True).start()


def _debug(factory: TerminalFactory, name: str) -> None:
    if name in factory.debug_exit_on:
        os._exit(DEBUG_EXIT_CODE)
    if name in factory.debug_hang_on:
        threading.Event().wait()


def _run(terminal: Any, factory: TerminalFactory, msg: tuple[Any, ...]) -> tuple[Any, ...]:
    seq, op = msg[0], msg[1]
    error = None
    try:
        if op == "call":
            name, args, kwargs = msg[2], msg[3], msg[4]
            _debug(factory, name)
            try:
                value = portable(getattr(terminal, name)(*args, **kwargs))
            finally:
                error = terminal.last_error()
        elif op == "attr":
            target, method, args, kwargs = msg[2], msg[3], msg[4], msg[5]
            _debug(factory, f"{target}.{method}")
            value = control(terminal, target, method, args, kwargs)
        elif op == "many":
            values = []
            for request in msg[2]:
                _, status, one, one_error = _run(terminal, factory, (seq, *request))
                error = one_error if one_error is not None else error
                if status == "raise":
                    return (seq, "raise", one, error)
                values.append(one)
            value = values
        else:
            raise ValueError(f"unknown gateway request {op!r}")
    except Exception as exc:  # re-raised in the parent
        return (seq, "raise", portable_exception(exc), error)
    return (seq, "ok", value, error)


def child_main(conn: Connection, factory: TerminalFactory) -> None:
    """Entry point of the gateway child (see the module docstring for the protocol)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _watch_parent()
    try:
        terminal = factory.build()
        constants, functions = surface_of(terminal)
    except Exception as exc:  # reported to the parent, which raises it
        conn.send(("failed", portable_exception(exc)))
        return
    conn.send(("ready", os.getpid(), constants, functions))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            break
        if msg[1] == "close":
            conn.send((msg[0], "ok", None, None))
            break
        reply = _run(terminal, factory, msg)
        try:
            conn.send(reply)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            conn.send((reply[0], "raise", RemoteCallError(f"unpicklable result: {exc}"),
                       reply[3]))
        except (EOFError, OSError):
            break
    close = getattr(terminal, "close", None)
    if callable(close):
        close()
