"""The emulator server: one :class:`MT5Emulator` in its own process, served over a socket, so that
the "broker" (positions, deals, pending orders, the replay clock) outlives the executor
processes that talk to it, as a real MT5 terminal and trade server do.

* :class:`EmulatorSpec` — a picklable recipe for an emulator: an :class:`EmulatorConfig`, bar and
  tick files to load (:func:`trademaestro.data.load_bars` / ``load_ticks``) and a fault spec
  (opaque list of dicts handed to ``faults.FaultPlan.from_spec``). :func:`build_emulator` builds
  it; the gateway child uses the same recipe.
* :func:`serve` — run a server in the current process until a ``shutdown_server`` request,
  SIGTERM or SIGINT (the later ``trademaestro emulator-server`` command calls this).
* :class:`EmulatorServer` — start/stop such a server in a child process (spawn).
* The client is :class:`trademaestro.brokers.mt5.gateway_remote.RemoteTerminal`.

Concurrency: clients are served **concurrently**, one thread per connection, and every call is
run under one lock, so calls are serialized exactly as the one-threaded terminal serializes them.
Each connection is its own MT5 session: it must ``initialize`` before its calls succeed
(``-10004 No IPC connection`` otherwise), its ``shutdown`` ends only its own session, and
``last_error`` is sent back with every reply (so one client never sees another's error). The
server swaps the session's connection flag into the emulator (``MT5Emulator._connected``)
around each call, so the emulator's own error model decides every outcome.

A client that disappears mid-call does no harm: the call completes (its effects stand, as at a
real trade server), the reply is dropped and the connection's thread ends. A hang injected by
the fault plan blocks the lock, hence every client, for as long as it lasts: give hangs a finite
duration in server mode (the gateway in front times out and restarts itself meanwhile).

Wire protocol (pickled tuples over ``multiprocessing.connection``; HMAC challenge with
``authkey`` both ways, as ``Listener(authkey=...)`` does): requests ``("hello",)``,
``("call", name, args, kwargs)``, ``("attr", "replay"|"faults", method, args, kwargs)``,
``("shutdown_server",)``; replies ``(status, value, last_error)`` with status ``"ok"`` or
``"raise"`` (value is then the exception) and ``last_error`` None for non-MT5 requests.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import (
    Client,
    Connection,
    Listener,
    answer_challenge,
    deliver_challenge,
)
from types import FrameType
from typing import Any

from trademaestro.brokers.mt5.gateway_wire import (
    RemoteCallError,
    portable,
    portable_exception,
    surface_of,
)
from trademaestro.core.errors import BrokerError, ConfigError
from trademaestro.core.timeframes import Timeframe

from .api import NoFaults
from .config import EmulatorConfig
from .terminal import MT5Emulator

Address = str | tuple[str, int]
"""A Unix socket path, or ``(host, port)`` for TCP (port 0: any free port)."""


@dataclass(frozen=True, slots=True)
class BarFeed:
    """A bar file to load into the emulator: ``symbol``'s bars of ``timeframe`` (a
    ``TIMEFRAME_*`` value; None: inferred from the bar spacing) from ``path``."""

    symbol: str
    path: str
    timeframe: int | None = None
    skip_bad_rows: bool = False


@dataclass(frozen=True, slots=True)
class TickFeed:
    """A Dukascopy tick file to load: ``symbol``'s ticks, with bars of ``timeframe`` built
    from their bid."""

    symbol: str
    path: str
    timeframe: int = int(Timeframe.M1)
    skip_bad_rows: bool = False


@dataclass(frozen=True)
class EmulatorSpec:
    """A picklable recipe for one :class:`MT5Emulator` (see :func:`build_emulator`).

    ``faults`` is an opaque fault specification (a sequence of dicts) passed to
    ``trademaestro.brokers.emulator.faults.FaultPlan.from_spec``; empty means no faults.
    """

    config: EmulatorConfig = field(default_factory=EmulatorConfig)
    bars: tuple[BarFeed, ...] = ()
    ticks: tuple[TickFeed, ...] = ()
    faults: tuple[Mapping[str, Any], ...] = ()


def build_emulator(spec: EmulatorSpec) -> MT5Emulator:
    """Build the emulator of ``spec``: faults installed, bar and tick files loaded (replay clock
    not started: the driver calls ``replay.open_bar``/``tick``), not initialized.

    Raises:
        DataError: a bar or tick file that cannot be loaded (file and line).
        ConfigError: a bar file whose timeframe cannot be inferred and is not given; fault
            injection requested but ``brokers.emulator.faults`` not available.
        SymbolError: a symbol without specification.
    """
    from trademaestro.data import load_bars, load_ticks

    faults = None
    if spec.faults:
        try:
            from .faults import FaultPlan
        except ImportError as exc:  # pragma: no cover - the module ships with the emulator
            raise ConfigError(
                "EmulatorSpec.faults: found a fault specification; allowed: none, until "
                "trademaestro.brokers.emulator.faults (FaultPlan) is installed"
            ) from exc
        faults = FaultPlan.from_spec([dict(item) for item in spec.faults])
    emu = MT5Emulator(spec.config, faults=faults)
    for feed in spec.bars:
        loaded = load_bars(feed.path, skip_bad_rows=feed.skip_bad_rows)
        tf = feed.timeframe if feed.timeframe is not None else loaded.timeframe
        if tf is None:
            raise ConfigError(
                f"{feed.path}: the bar spacing is no MT5 timeframe; give BarFeed.timeframe "
                "(a TIMEFRAME_* value)"
            )
        emu.replay.load_rates(feed.symbol, int(tf), loaded.rates, has_spread=loaded.has_spread)
    for tfeed in spec.ticks:
        ticks = load_ticks(tfeed.path, skip_bad_rows=tfeed.skip_bad_rows).ticks
        emu.replay.load_ticks(tfeed.symbol, tfeed.timeframe, ticks)
    return emu


def control_emulator(emu: MT5Emulator, target: str, method: str, args: tuple[Any, ...],
                     kwargs: dict[str, Any]) -> Any:
    """``emu.<target>.<method>(*args, **kwargs)`` for ``target`` ``"replay"`` or ``"faults"``;
    a non-callable attribute (``replay.now``, ``faults.fired``) is returned as is, and a method
    returning its own object (``plan.extend``, for chaining) returns None. The first fault
    control on an emulator without a plan installs an empty :class:`FaultPlan`.

    Raises:
        AttributeError: another target, a private name, or no such attribute.
    """
    if target not in ("replay", "faults") or method.startswith("_"):
        raise AttributeError(f"no emulator control {target}.{method}; allowed: "
                             "replay.<method> or faults.<method>")
    if target == "faults" and type(emu.faults) is NoFaults:
        from .faults import FaultPlan

        emu.faults = FaultPlan()
    obj = getattr(emu, target)
    value = getattr(obj, method)
    if callable(value):
        value = value(*args, **kwargs)
    return None if value is obj else value


class _Stop(Exception):
    """Raised by the signal handler to leave ``accept``."""


class _Host:
    """The served emulator, its lock and the stop flag."""

    def __init__(self, emu: MT5Emulator, authkey: bytes) -> None:
        self.emu = emu
        self.authkey = authkey
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.constants, functions = surface_of(emu)
        self.functions = frozenset(functions)

    def handle(self, msg: Any, connected: bool) -> tuple[tuple[Any, Any, Any], bool]:
        """Run one request; returns (reply, the session's connection flag after it)."""
        try:
            op = msg[0]
            if op == "call":
                return self._call(msg[1], msg[2], msg[3], connected)
            if op == "attr":
                return self._attr(msg[1], msg[2], msg[3], msg[4]), connected
            if op == "hello":
                info = {"constants": self.constants, "functions": tuple(sorted(self.functions)),
                        "pid": os.getpid()}
                return ("ok", info, None), connected
            if op == "shutdown_server":
                self.stop.set()
                return ("ok", None, None), connected
            raise ValueError(f"unknown request {op!r}")
        except Exception as exc:
            return ("raise", portable_exception(exc), None), connected

    def _call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any],
              connected: bool) -> tuple[tuple[Any, Any, Any], bool]:
        if name not in self.functions:
            raise AttributeError(f"the MetaTrader5 surface has no function {name!r}")
        emu = self.emu
        with self.lock:
            emu._connected = connected
            try:
                value: Any = getattr(emu, name)(*args, **kwargs)
                status = "ok"
            except Exception as exc:
                value, status = portable_exception(exc), "raise"
            connected = emu._connected
            error = emu.last_error()
        return (status, portable(value), error), connected

    def _attr(self, target: str, method: str, args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> tuple[Any, Any, Any]:
        with self.lock:
            value = control_emulator(self.emu, target, method, args, kwargs)
        return ("ok", value, None)


def _session(host: _Host, conn: Connection) -> None:
    """Serve one client connection until it closes or the server stops."""
    connected = False
    try:
        deliver_challenge(conn, host.authkey)
        answer_challenge(conn, host.authkey)
        while not host.stop.is_set():
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                return
            except Exception as exc:
                conn.send(("raise", RemoteCallError(f"bad request: {exc}"), None))
                continue
            reply, connected = host.handle(msg, connected)
            try:
                conn.send(reply)
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                conn.send(("raise", RemoteCallError(f"unpicklable reply: {exc}"), reply[2]))
            if host.stop.is_set():
                return
    except (EOFError, OSError, multiprocessing.AuthenticationError):
        return  # the client went away (mid-call or not), or failed authentication
    finally:
        conn.close()


def _wake(address: Address) -> None:
    """Connect once to our own listener so that a blocked ``accept`` returns."""
    with contextlib.suppress(OSError):
        Client(address).close()


def _prepare_unix(address: Address) -> None:
    """Remove a stale Unix socket file at ``address``; refuse one a live server listens on."""
    if os.name != "posix" or not isinstance(address, str) or not os.path.exists(address):
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(address)
    except OSError:
        os.unlink(address)  # nobody listens: a leftover of a killed server
        return
    finally:
        probe.close()
    raise ConfigError(f"emulator server address {address}: a server already listens there")


def serve(spec: EmulatorSpec, address: Address, authkey: bytes,
          ready: Connection | None = None) -> None:
    """Build the emulator of ``spec`` and serve it at ``address`` until a ``shutdown_server``
    request, SIGTERM or SIGINT (signals only when called in the main thread).

    ``ready``: optional connection that receives ``("ready", actual_address, pid)`` once the
    server listens (the actual port when ``address`` asked for port 0), or
    ``("failed", exception)`` when the emulator cannot be built.

    Raises:
        The errors of :func:`build_emulator` (also sent to ``ready``); ConfigError for an
        address a live server already holds; OSError when the address cannot be bound.
    """
    try:
        if not authkey:
            raise ConfigError("emulator server authkey: found an empty key; allowed: bytes")
        host = _Host(build_emulator(spec), bytes(authkey))
        _prepare_unix(address)
        listener = Listener(address)
    except Exception as exc:
        if ready is not None:
            ready.send(("failed", portable_exception(exc)))
        raise
    bound: Address = listener.address
    if threading.current_thread() is threading.main_thread():
        def on_signal(signum: int, frame: FrameType | None) -> None:
            host.stop.set()
            raise _Stop

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    _watch_parent(host, bound)
    if ready is not None:
        ready.send(("ready", bound, os.getpid()))
        ready.close()
    try:
        while not host.stop.is_set():
            conn = listener.accept()
            if host.stop.is_set():
                conn.close()
                break
            threading.Thread(target=_serve_then_wake, args=(host, conn, bound),
                             name="emulator-session", daemon=True).start()
    except _Stop:
        pass
    finally:
        listener.close()


def _serve_then_wake(host: _Host, conn: Connection, bound: Address) -> None:
    _session(host, conn)
    if host.stop.is_set():
        _wake(bound)


def _watch_parent(host: _Host, bound: Address) -> None:
    """When started by a Python parent (:class:`EmulatorServer`), stop when it dies."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        host.stop.set()
        _wake(bound)

    threading.Thread(target=watch, name="emulator-parent-watch", daemon=True).start()


def _server_main(spec: EmulatorSpec, address: Address, authkey: bytes, ready: Connection) -> None:
    with contextlib.suppress(Exception):  # a start failure was sent to ``ready``
        serve(spec, address, authkey, ready)


class EmulatorServer:
    """An emulator server in a child process (multiprocessing, spawn context).

    Args:
        spec: the emulator to host.
        address: Unix socket path or ``(host, port)``; default ``("127.0.0.1", 0)`` (a free
            port; read :attr:`address` after :meth:`start`).
        authkey: shared secret of the HMAC handshake; default 32 random bytes.
        start_timeout: seconds to wait for the server to listen (building the emulator loads
            the bar files).

    Usage: ``with EmulatorServer(spec) as server: RemoteTerminal(server.address,
    server.authkey)``.
    """

    def __init__(self, spec: EmulatorSpec, address: Address | None = None,
                 authkey: bytes | None = None, *, start_timeout: float = 60.0) -> None:
        self.spec = spec
        self.address: Address = address if address is not None else ("127.0.0.1", 0)
        self.authkey = authkey if authkey is not None else os.urandom(32)
        self.start_timeout = start_timeout
        self._process: multiprocessing.process.BaseProcess | None = None

    @property
    def pid(self) -> int | None:
        """The server process id (None before :meth:`start`)."""
        return self._process.pid if self._process is not None else None

    def is_alive(self) -> bool:
        """Whether the server process runs."""
        return self._process is not None and self._process.is_alive()

    def join(self, timeout: float | None = None) -> int | None:
        """Wait up to ``timeout`` seconds for the server process to end (after a
        ``shutdown_server`` request or a signal); returns its exit code (None: still running
        or never started)."""
        process = self._process
        if process is None:
            return None
        process.join(timeout)
        return process.exitcode

    def start(self) -> Address:
        """Start the server process and wait until it listens; returns the bound address.

        Raises:
            The error that kept the emulator from being built (DataError, ConfigError, ...);
            BrokerError if the process died or did not listen within ``start_timeout``.
        """
        ctx = multiprocessing.get_context("spawn")
        receiver, sender = ctx.Pipe(duplex=False)
        process = ctx.Process(target=_server_main, name="tm-emulator-server", daemon=True,
                              args=(self.spec, self.address, self.authkey, sender))
        process.start()
        sender.close()
        self._process = process
        try:
            if not receiver.poll(self.start_timeout):
                raise BrokerError(f"emulator server did not listen within {self.start_timeout} s")
            msg = receiver.recv()
        except EOFError:
            msg = ("failed", BrokerError(f"emulator server died at start "
                                         f"(exit code {process.exitcode})"))
        except BaseException:
            self.stop(timeout=1.0)
            raise
        finally:
            receiver.close()
        if msg[0] != "ready":
            self.stop(timeout=1.0)
            raise msg[1]
        self.address = msg[1]
        return self.address

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server: a ``shutdown_server`` request, then SIGTERM, then SIGKILL, each
        given ``timeout`` seconds. Idempotent."""
        process = self._process
        if process is None:
            return
        if process.is_alive():
            with contextlib.suppress(Exception):
                conn = Client(self.address, authkey=self.authkey)
                conn.send(("shutdown_server",))
                conn.close()
            process.join(timeout)
        if process.is_alive():
            process.terminate()
            process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join(timeout)
        self._process = None

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
