"""The MT5 gateway: the ``MetaTrader5``-like object lives in a child process, and every call
crosses a pipe with a hard timeout.

Why (MT5_API.md §1.6, §10.1): the ``MetaTrader5`` package never releases the GIL and a call can
hang, so neither a thread nor ``asyncio.to_thread`` can bound it. Here the parent waits on the
pipe with ``multiprocessing.connection.wait`` (which releases the GIL: an event loop that calls
the gateway from a worker thread stays responsive) and gives up after the call type's timeout.

* A call that times out makes the gateway WEDGED: the child is killed (SIGKILL), a new one is
  started, and the call raises :class:`GatewayTimeout` (``outcome_unknown`` True: an
  ``order_send`` may or may not have been executed).
* A child that dies during a call (crash, exit) gives :class:`GatewayCrashed` and a restart;
  its ``outcome_unknown`` is True for ``order_send`` only.
* Restarts back off: the first after a run of successful calls is immediate, the next ones wait
  ``base · 2^(n-2)`` seconds (capped at ``max``) before the new child is started; the wait is
  spent by the next call. A successful call resets the run.
* **After a restart the new child is NOT initialized**: every MT5 call fails with
  ``(-10004, 'No IPC connection')`` until the caller calls ``initialize`` (and ``login``)
  again, exactly as after a broken pipe to a real terminal. With kind ``"emulator"`` the new
  child also starts from a fresh emulator (the broker state was in the killed child); kind
  ``"remote"`` keeps the broker in the emulator server.

``last_error()`` is answered locally: the child returns the terminal's ``last_error`` with every
reply; after a timeout it is ``(-10005, 'IPC timeout')``, after a crash
``(-10004, 'No IPC connection')``.

Thread-safe: one call at a time (a lock), as the real package serializes calls anyway.

Limits: the timeout bounds the wait for the reply; writing a request larger than the pipe
buffer (about 64 KiB: only bulk replay control such as ``replay.load_rates``, never an MT5
call) to a child that is already hung blocks until the child is killed. Each child is a spawned
interpreter (about 0.5 s to start with the emulator and a bar file).
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any, NoReturn, cast

from trademaestro.brokers.emulator import results as _results
from trademaestro.core.errors import ConfigError

from .gateway_child import TerminalFactory, child_main
from .gateway_errors import GatewayClosed, GatewayCrashed, GatewayError, GatewayTimeout
from .gateway_remote import ControlProxy
from .gateway_wire import CONNECT_FUNCTIONS, IPC_TIMEOUT, MT5_FUNCTIONS, NO_IPC, ORDER_FUNCTIONS

__all__ = [
    "DEFAULT_TIMEOUTS",
    "Gateway",
    "GatewayClosed",
    "GatewayCrashed",
    "GatewayError",
    "GatewayTimeout",
    "TerminalFactory",
    "call_type",
]

DEFAULT_TIMEOUTS: dict[str, float] = {
    "query": 5.0,
    "order": 10.0,
    "connect": 60.0,
    "control": 60.0,
    "start": 60.0,
}
"""Seconds per call type: ``query`` (every MT5 function not listed below), ``order``
(``order_send``, ``order_check``), ``connect`` (``initialize``, ``login``), ``control`` (replay
and fault control of the emulator: loading a bar file can take a while), ``start`` (a new
child: import, build, handshake). A key may also be an MT5 function name (overrides its type)."""


def call_type(function: str) -> str:
    """The timeout key of ``function``: ``connect``, ``order``, ``control`` (names with a
    dot, e.g. ``replay.run_bar``) or ``query``."""
    if function in CONNECT_FUNCTIONS:
        return "connect"
    if function in ORDER_FUNCTIONS:
        return "order"
    return "control" if "." in function else "query"


class Gateway:
    """The ``MetaTrader5`` surface, served by a child process (multiprocessing, spawn).

    Args:
        factory: what the child builds (:class:`TerminalFactory`).
        timeouts: overrides of :data:`DEFAULT_TIMEOUTS` (seconds, > 0).
        backoff: ``(base, max)`` seconds of the restart backoff.
        close_grace: seconds :meth:`close` waits for the child before killing it.

    The constructor starts the child and waits for it (``start`` timeout), then exposes the
    child's constants as attributes, the 11 result types, every MT5 function as a method, plus
    :meth:`replay_call` / :attr:`replay` and :meth:`faults_call` / :attr:`faults` (emulator
    control). Use :meth:`close` (or ``with``) to stop the child.

    Raises:
        ConfigError: a bad timeout or backoff value.
        GatewayTimeout / GatewayCrashed: from any call (see the module docstring).
        GatewayClosed: a call after :meth:`close`.
        The error the child raised while building the terminal (DataError, ConfigError, ...).
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

    def __init__(self, factory: TerminalFactory, *, timeouts: Mapping[str, float] | None = None,
                 backoff: tuple[float, float] = (0.5, 30.0), close_grace: float = 5.0) -> None:
        self.factory = factory
        self.timeouts = _check_timeouts(timeouts or {})
        if not (0 <= backoff[0] <= backoff[1] and math.isfinite(backoff[1])):
            raise ConfigError(f"Gateway backoff: found {backoff!r}; allowed: (base, max) "
                              "seconds with 0 <= base <= max")
        if not (isinstance(close_grace, int | float) and 0 < close_grace < math.inf):
            raise ConfigError(f"Gateway close_grace: found {close_grace!r}; allowed: seconds > 0")
        self.backoff = backoff
        self.close_grace = close_grace
        self._ctx = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._ready = False
        self._closed = False
        self._seq = 0
        self._functions: frozenset[str] = frozenset()
        self._error: tuple[int, str] = (1, "Success")
        self._start_after = 0.0
        self._run = 0  # restarts since the last successful call
        self._stats = {"calls": 0, "timeouts": 0, "crashes": 0, "restarts": 0, "starts": 0}
        self._latency: dict[str, float] = {}
        self._current: tuple[str, float] | None = None  # (function, monotonic start)
        self.replay = ControlProxy(self.control_call, "replay")
        self.faults = ControlProxy(self.control_call, "faults")
        with self._lock:
            try:
                self._ensure_ready()
            except BaseException:
                self._closed = True
                self._kill()
                raise

    # -- MT5 surface ---------------------------------------------------------------------------
    def __getattr__(self, name: str) -> Callable[..., Any]:
        functions = self.__dict__.get("_functions", frozenset())
        if name.startswith("_") or name not in functions:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

        def forward(*args: Any, **kwargs: Any) -> Any:
            return self.call(name, *args, **kwargs)

        forward.__name__ = name
        self.__dict__[name] = forward
        return forward

    def last_error(self) -> tuple[int, str]:
        """The terminal's ``last_error`` after the latest call (local; see the module doc)."""
        return self._error

    def call(self, function: str, *args: Any, **kwargs: Any) -> Any:
        """Run the MT5 function ``function(*args, **kwargs)`` in the child and return its result.

        Raises:
            AttributeError: not an MT5 function of this terminal.
            GatewayTimeout, GatewayCrashed, GatewayClosed; whatever the function raised
            (``TypeError`` for bad arguments, ``SystemError``), re-raised as itself.
        """
        if function == "last_error":
            return self._error
        if function not in self._functions:
            raise AttributeError(f"the terminal has no MT5 function {function!r}")
        return self._exchange(function, ("call", function, args, kwargs))

    def control_call(self, target: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """``terminal.<target>.<method>(*args, **kwargs)`` in the child (``target`` ``"replay"``
        or ``"faults"``; a non-callable attribute such as ``replay.now`` is returned).

        Raises:
            ConfigError: the terminal has no such control (the real package has none).
            GatewayTimeout (``control`` timeout), GatewayCrashed, GatewayClosed.
        """
        return self._exchange(f"{target}.{method}", ("attr", target, method, args, kwargs))

    def call_many(self, requests: Sequence[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        """Run several calls in the child in one round trip, in order; their results.

        Args:
            requests: ``(name, args)`` pairs: an MT5 function (``"copy_ticks_from"``) or an
                emulator control (``"replay.tick_batch"``), with positional arguments.

        The timeout is the sum of the calls' own; ``last_error()`` is the last MT5 call's.

        Raises:
            AttributeError: an unknown MT5 function (nothing is sent).
            The first exception a call raised (the calls after it are not run);
            GatewayTimeout, GatewayCrashed, GatewayClosed as :meth:`call`.
        """
        wire: list[tuple[Any, ...]] = []
        for name, args in requests:
            target, dot, method = name.partition(".")
            if dot:
                wire.append(("attr", target, method, tuple(args), {}))
            elif name in self._functions:
                wire.append(("call", name, tuple(args), {}))
            else:
                raise AttributeError(f"the terminal has no MT5 function {name!r}")
        label = "+".join(name for name, _ in requests) or "many"
        timeout = sum(self._timeout(name) for name, _ in requests)
        return cast(list[Any], self._exchange(label, ("many", wire), timeout))

    def replay_call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``emu.replay.<method>(*args, **kwargs)`` in the child (e.g. ``"open_bar"``)."""
        return self.control_call("replay", method, *args, **kwargs)

    def faults_call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``emu.faults.<method>(*args, **kwargs)`` in the child (scripting fault plans)."""
        return self.control_call("faults", method, *args, **kwargs)

    # -- health --------------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        """The child's process id (None while no child runs)."""
        process = self._process
        return process.pid if process is not None else None

    def health(self) -> dict[str, Any]:
        """``{"state": "ready"|"starting"|"down"|"closed", "kind", "pid", "calls", "timeouts",
        "crashes", "restarts", "starts", "failure_run", "last_error", "latency": {function:
        seconds of its last completed call}, "in_call": None or {"function", "seconds"} (the
        call in progress, for a watchdog)}``."""
        if self._closed:
            state = "closed"
        elif self._process is None:
            state = "down"
        else:
            state = "ready" if self._ready else "starting"
        current = self._current
        in_call = None if current is None else {
            "function": current[0], "seconds": time.monotonic() - current[1]}
        return {"state": state, "kind": self.factory.kind, "pid": self.pid, **self._stats,
                "failure_run": self._run, "last_error": self._error,
                "latency": dict(self._latency), "in_call": in_call}

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the child: a ``close`` request, then SIGKILL after ``close_grace`` seconds (also
        when a call in another thread holds the gateway: that call then raises
        :class:`GatewayClosed`). Idempotent."""
        self._closed = True
        if not self._lock.acquire(timeout=self.close_grace):
            process = self._process  # a call holds the gateway: it sees the death, cleans up
            if process is not None:
                with contextlib.suppress(ValueError):
                    process.kill()
            return
        try:
            process, conn = self._process, self._conn
            if process is not None and conn is not None and self._ready:
                with contextlib.suppress(OSError, EOFError, ValueError):
                    conn.send((-1, "close"))
                    if conn.poll(self.close_grace):
                        conn.recv()
                process.join(self.close_grace)
            self._kill()
        finally:
            self._lock.release()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals (called with the lock held) --------------------------------------------------
    def _timeout(self, function: str) -> float:
        return self.timeouts.get(function) or self.timeouts[call_type(function)]

    def _exchange(
        self, function: str, request: tuple[Any, ...], timeout: float | None = None
    ) -> Any:
        with self._lock:
            self._ensure_ready()
            conn = self._conn
            assert conn is not None
            self._seq += 1
            seq = self._seq
            try:
                conn.send((seq, *request))
            except (OSError, EOFError, ValueError):
                self._crashed(function)
            self._stats["calls"] += 1
            start = time.monotonic()
            self._current = (function, start)
            try:
                _, status, value, error = self._receive(
                    function, timeout or self._timeout(function), seq
                )
            finally:
                self._current = None
            self._latency[function] = time.monotonic() - start
            self._run = 0
            if error is not None:
                self._error = tuple(error)
        if status == "raise":
            raise value
        return value

    def _receive(self, function: str, timeout: float, seq: int | None) -> tuple[Any, ...]:
        """The child's next reply (to ``seq``), or GatewayTimeout / GatewayCrashed."""
        conn, process = self._conn, self._process
        assert conn is not None and process is not None
        start = time.monotonic()
        deadline = start + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not wait([conn, process.sentinel], remaining):
                self._stats["timeouts"] += 1
                self._error = IPC_TIMEOUT
                self._replace()
                raise GatewayTimeout(function, time.monotonic() - start, timeout)
            try:
                if not conn.poll(0):
                    self._crashed(function)
                reply: tuple[Any, ...] = conn.recv()
            except (EOFError, OSError):
                self._crashed(function)
            if seq is None or reply[0] == seq:
                return reply

    def _crashed(self, function: str) -> NoReturn:
        process = self._process
        exitcode = None
        if process is not None:
            process.join(0.5)
            exitcode = process.exitcode
        self._stats["crashes"] += 1
        self._error = NO_IPC
        self._replace()
        raise GatewayCrashed(function, exitcode)

    def _ensure_ready(self) -> None:
        if self._closed:
            raise GatewayClosed("the gateway is closed", function="start")
        if self._process is None:
            delay = self._start_after - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._spawn()
        if self._ready:
            return
        reply = self._receive("start", self.timeouts["start"], None)
        if reply[0] == "failed":
            self._run += 1
            self._start_after = time.monotonic() + self._delay()
            self._kill()
            raise reply[1]
        _, _pid, constants, functions = reply
        self.__dict__.update(constants)
        self._functions = frozenset(functions)
        self._ready = True

    def _spawn(self) -> None:
        parent_end, child_end = self._ctx.Pipe()
        process = self._ctx.Process(target=child_main, args=(child_end, self.factory),
                                    name="tm-mt5-gateway", daemon=True)
        process.start()
        child_end.close()
        self._process, self._conn, self._ready = process, parent_end, False
        self._stats["starts"] += 1

    def _delay(self) -> float:
        base, cap = self.backoff
        return 0.0 if self._run <= 1 else min(base * 2 ** (self._run - 2), cap)

    def _replace(self) -> None:
        """Kill the child; start the next one now, or after the backoff (lazily)."""
        self._kill()
        if self._closed:
            raise GatewayClosed("the gateway was closed during the call", function="close")
        self._stats["restarts"] += 1
        self._run += 1
        delay = self._delay()
        self._start_after = time.monotonic() + delay
        if delay == 0:
            self._spawn()

    def _kill(self) -> None:
        process, conn = self._process, self._conn
        self._process, self._conn, self._ready = None, None, False
        if process is not None:
            if process.is_alive():
                process.kill()
            process.join(5.0)
            with contextlib.suppress(ValueError):
                process.close()
        if conn is not None:
            conn.close()


def _check_timeouts(overrides: Mapping[str, float]) -> dict[str, float]:
    allowed = set(DEFAULT_TIMEOUTS) | set(MT5_FUNCTIONS)
    merged = dict(DEFAULT_TIMEOUTS)
    for key, value in overrides.items():
        if key not in allowed:
            raise ConfigError(f"gateway timeouts.{key}: unknown key; allowed: "
                              f"{', '.join(DEFAULT_TIMEOUTS)} or an MT5 function name")
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise ConfigError(f"gateway timeouts.{key}: found {value!r}; allowed: seconds > 0")
        merged[key] = float(value)
    return merged
