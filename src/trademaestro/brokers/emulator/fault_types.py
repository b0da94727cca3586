"""The faults a :class:`~.faults.FaultPlan` can inject into one emulator API call.

Each fault reproduces a documented failure of the real ``MetaTrader5`` package or trade server
(MT5_API.md §1.2–1.3 ``last_error`` codes, §1.6 / §10.1 blocking calls, §5.9 / §6.5–6.8 trade
retcodes and result shapes):

=================  ==========================================================================
fault              effect on the call it is applied to
=================  ==========================================================================
``Latency``        sleeps ``seconds`` (wall clock), then the call runs normally
``Hang``           blocks (forever, ``seconds``, or until ``release`` is set), then runs
``Disconnect``     fails with ``(-10004, 'No IPC connection')``, and so does every later call
                   until ``initialize()`` succeeds again
``IpcTimeout``     fails with ``(-10005, 'IPC timeout')``; nothing runs
``LostReply``      the call RUNS (an order is executed), then fails with
                   ``(-10002, 'IPC recv failed')``: the caller does not learn the outcome
``Requote``        ``order_send`` answers retcode 10004 ``Requote`` with bid/ask moved by
                   ``points``; nothing executed
``Retcode``        ``order_send`` answers a failure retcode (10021, 10024, 10031, 10018,
                   10016, 10006, …) with its standard comment; nothing executed
``GhostPosition``  ``positions_get`` / ``positions_total`` still show positions closed less
                   than ``seconds`` ago (emulator clock), with their last values
``Crash``          terminates the hosting process at once with exit code 70
=================  ==========================================================================

A failing call returns the function's failure value (``None``; ``False`` for ``initialize``,
``login`` and ``symbol_select``) and sets ``last_error``, exactly like the package.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from trademaestro.core.errors import ConfigError

from .api import IPC_RECV_FAILED, IPC_TIMEOUT, NO_IPC, Fail
from .trading import COMMENTS

if TYPE_CHECKING:
    from .terminal import MT5Emulator

CRASH_EXIT_CODE = 70
"""Exit status of a process terminated by :class:`Crash` (``EX_SOFTWARE``)."""

API_FUNCTIONS: frozenset[str] = frozenset((
    "initialize", "login", "shutdown", "version", "account_info", "terminal_info",
    "symbols_total", "symbols_get", "symbol_info", "symbol_info_tick", "symbol_select",
    "copy_rates_from", "copy_rates_from_pos", "copy_rates_range", "copy_ticks_from",
    "copy_ticks_range", "positions_total", "positions_get", "orders_total", "orders_get",
    "history_orders_total", "history_deals_total", "history_orders_get", "history_deals_get",
    "order_calc_margin", "order_calc_profit", "order_check", "order_send",
))
"""The emulator functions a fault can be attached to (every API function but ``last_error``,
which never fails and does not reset the error)."""

RETCODE_FAULTS: frozenset[int] = frozenset(
    code for code in COMMENTS if code not in (0, 10004, 10008, 10009, 10010))
"""Retcodes :class:`Retcode` accepts: the failure retcodes with a standard comment (10004 is
:class:`Requote`; 10008/10009/10010 are successes)."""


@dataclass(slots=True)
class ClosedPosition:
    """A fully closed position as it was last seen (for :class:`GhostPosition`).

    ``time``: server time (seconds) of the closing deal; ``position``: the ``TradePosition``
    with ``price_current`` = the close price and ``profit`` = the realised profit."""

    time: int
    position: Any


@dataclass(slots=True)
class Call:
    """One intercepted API call: the emulator, the function name, its arguments, ``proceed``
    (runs the function's body and returns its value) and the plan's record of closed
    positions (oldest first)."""

    emu: MT5Emulator
    function: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    proceed: Callable[[], Any]
    closed: Sequence[ClosedPosition]


def _seconds(owner: str, field: str, value: Any, *, positive: bool = False) -> None:
    ok = (isinstance(value, int | float) and not isinstance(value, bool)
          and math.isfinite(value) and (value > 0 if positive else value >= 0))
    if not ok:
        bound = "> 0" if positive else ">= 0"
        raise ConfigError(f"{owner}.{field}: found {value!r}; allowed: a finite number of "
                          f"seconds {bound}")


class Fault:
    """Base of the faults. ``name`` is the fault's name in specs and in
    :attr:`~.faults.FaultPlan.fired`; ``functions`` the API functions it may be attached to
    (None: any); ``delays`` marks faults that only delay the call (they combine with one
    outcome fault on the same call)."""

    name: ClassVar[str] = ""
    functions: ClassVar[frozenset[str] | None] = None
    delays: ClassVar[bool] = False

    def apply(self, call: Call) -> Any:
        """Produce the call's outcome (run ``call.proceed()`` or not); may raise
        :class:`~.api.Fail` to fail the call with that ``last_error``."""
        raise NotImplementedError

    def wait(self) -> None:
        """The delay of a ``delays`` fault (nothing for the others)."""

    def params(self) -> dict[str, Any]:
        """The fault's parameters as plain data (for :meth:`~.faults.FaultPlan.to_spec`).

        Raises:
            ConfigError: a parameter that has no plain-data form (a ``Hang`` release event).
        """
        return {}


@dataclass(frozen=True, slots=True)
class Latency(Fault):
    """Sleep ``seconds`` of wall-clock time before the call, which then runs normally (the
    package's IPC round trip is slow; MT5_API.md §1.6: it blocks the caller meanwhile)."""

    seconds: float
    name: ClassVar[str] = "latency"
    delays: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _seconds("Latency", "seconds", self.seconds)

    def wait(self) -> None:
        """Sleep ``seconds``."""
        time.sleep(self.seconds)

    def apply(self, call: Call) -> Any:
        """Sleep, then run the call."""
        self.wait()
        return call.proceed()

    def params(self) -> dict[str, Any]:
        """``{"seconds": ...}``."""
        return {"seconds": self.seconds}


@dataclass(frozen=True, slots=True)
class Hang(Fault):
    """Block the call: forever (``seconds`` None, no ``release``), for ``seconds`` (wall
    clock), or until ``release`` (a ``threading.Event``) is set, whichever comes first; then
    the call runs normally.

    A real hung call never returns and, since the package holds the GIL (MT5_API.md §1.6,
    §10.1), freezes the whole process. This fault is meant for the gateway child process, where
    the parent's per-call timeout expires and the child is killed; in-process it blocks only the
    calling thread. Tests use ``release`` so that no thread is left blocked.
    """

    seconds: float | None = None
    release: threading.Event | None = None
    name: ClassVar[str] = "hang"
    delays: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.seconds is not None:
            _seconds("Hang", "seconds", self.seconds)
        if self.release is not None and not isinstance(self.release, threading.Event):
            raise ConfigError(f"Hang.release: found {type(self.release).__name__}; allowed: "
                              "None or a threading.Event")

    def wait(self) -> None:
        """Block as configured."""
        event = self.release if self.release is not None else threading.Event()
        event.wait(self.seconds)

    def apply(self, call: Call) -> Any:
        """Block, then run the call."""
        self.wait()
        return call.proceed()

    def params(self) -> dict[str, Any]:
        """``{"seconds": ...}`` (None: forever)."""
        if self.release is not None:
            raise ConfigError("Hang.release: a threading.Event has no plain-data form; "
                              "allowed in a spec: Hang(seconds) only")
        return {"seconds": self.seconds}


@dataclass(frozen=True, slots=True)
class Disconnect(Fault):
    """The terminal pipe breaks: this call and every later call fail with ``(-10004, 'No IPC
    connection')`` (``None``/``False``) until ``initialize()`` succeeds again (MT5_API.md §1.3,
    §10.2). ``terminal_info().connected`` (the broker link) stays as configured."""

    name: ClassVar[str] = "disconnect"

    def apply(self, call: Call) -> Any:
        """Drop the connection and fail the call."""
        call.emu._connected = False
        raise Fail(NO_IPC)


@dataclass(frozen=True, slots=True)
class IpcTimeout(Fault):
    """The call fails with ``(-10005, 'IPC timeout')`` (MT5_API.md §1.3); nothing runs and the
    connection stays up."""

    name: ClassVar[str] = "ipc_timeout"

    def apply(self, call: Call) -> Any:
        """Fail the call."""
        raise Fail(IPC_TIMEOUT)


@dataclass(frozen=True, slots=True)
class LostReply(Fault):
    """The call runs to completion at the terminal (for ``order_send``: the order is executed,
    the position opened or closed), then its reply is lost: the call returns ``None``/``False``
    with ``(-10002, 'IPC recv failed')`` (MT5_API.md §1.3, §6.5: no result object after an IPC
    failure). The caller must find out from positions and history what happened."""

    name: ClassVar[str] = "lost_reply"

    def apply(self, call: Call) -> Any:
        """Run the call, then fail it."""
        call.proceed()
        raise Fail(IPC_RECV_FAILED)


def _refusal(call: Call, code: int, points: int | None) -> Any:
    """An ``OrderSendResult`` refusing the call's request with ``code`` (client-side checks
    first, as the package does: bad arguments, no IPC connection, Python trading disabled)."""
    emu = call.emu
    req = emu._trade_request(call.args, call.kwargs)
    bid = ask = 0.0
    if points is not None:
        market = emu._ledger.markets.get(req.symbol)
        if market is not None and market.bid > 0.0:
            spec = market.spec
            move = points * spec.point
            bid, ask = round(market.bid + move, spec.digits), round(market.ask + move, spec.digits)
    return emu._server.refuse(req, code, bid, ask)


@dataclass(frozen=True, slots=True)
class Requote(Fault):
    """``order_send`` answers ``OrderSendResult(retcode=10004, comment='Requote')`` with
    ``bid``/``ask`` = the current quote moved by ``points`` (signed, points of the symbol;
    0.0/0.0 when the symbol has no quote); deal and order 0, nothing executed (MT5_API.md §5.9,
    §6.5 failure shape). The emulator's own quote does not change."""

    points: int
    name: ClassVar[str] = "requote"
    functions: ClassVar[frozenset[str] | None] = frozenset({"order_send"})

    def __post_init__(self) -> None:
        if not isinstance(self.points, int) or isinstance(self.points, bool) or not self.points:
            raise ConfigError(f"Requote.points: found {self.points!r}; allowed: a non-zero "
                              "integer number of points")

    def apply(self, call: Call) -> Any:
        """Answer the requote."""
        return _refusal(call, 10004, self.points)

    def params(self) -> dict[str, Any]:
        """``{"points": ...}``."""
        return {"points": self.points}


@dataclass(frozen=True, slots=True)
class Retcode(Fault):
    """``order_send`` answers a failure ``OrderSendResult`` with retcode ``code`` and its
    standard comment (10021 ``Off quotes``, 10024 ``Too many requests``, 10031 ``No
    connection``, 10018 ``Market closed``, 10016 ``Invalid stops``, 10006 ``Request
    rejected``, or any other of :data:`RETCODE_FAULTS`): deal and order 0, volume, price, bid
    and ask 0.0, the request echoed; nothing executed (MT5_API.md §5.9, §6.5, §6.8)."""

    code: int
    name: ClassVar[str] = "retcode"
    functions: ClassVar[frozenset[str] | None] = frozenset({"order_send"})

    def __post_init__(self) -> None:
        if not isinstance(self.code, int) or self.code not in RETCODE_FAULTS:
            raise ConfigError(f"Retcode.code: found {self.code!r}; allowed: one of "
                              f"{sorted(RETCODE_FAULTS)}")

    def apply(self, call: Call) -> Any:
        """Answer the refusal."""
        return _refusal(call, self.code, None)

    def params(self) -> dict[str, Any]:
        """``{"code": ...}``."""
        return {"code": self.code}


@dataclass(frozen=True, slots=True)
class GhostPosition(Fault):
    """``positions_get`` / ``positions_total`` still report every position fully closed (by
    a close order, close-by, SL/TP or stop-out) while the emulator's server time is less than
    the closing deal's time + ``seconds``, with its last values (``price_current`` = close
    price, ``profit`` = realised profit). Ghosts come after the open positions, oldest close
    first, and obey the ``symbol``/``group``/``ticket`` filters. Only closes that happened
    while the plan was installed are known. Trading a ghost gets the server's real answer
    (10036 ``Position already closed``)."""

    seconds: float
    name: ClassVar[str] = "ghost_position"
    functions: ClassVar[frozenset[str] | None] = frozenset({"positions_get",
                                                            "positions_total"})

    def __post_init__(self) -> None:
        _seconds("GhostPosition", "seconds", self.seconds, positive=True)

    def visible(self, call: Call) -> list[Any]:
        """The ghosts visible now (``TradePosition`` tuples), filtered like the call."""
        emu = call.emu
        now = emu._ledger.time()
        open_tickets = emu._ledger.positions
        ghosts = [c.position for c in call.closed
                  if now < c.time + self.seconds and c.position.ticket not in open_tickets]
        if call.function == "positions_get" and call.kwargs:
            kw = call.kwargs
            symbol, group, ticket = kw.get("symbol"), kw.get("group"), kw.get("ticket")
            ghosts = [g for g in ghosts if emu._keep(g.symbol, g.ticket, symbol, group, ticket)]
        return ghosts

    def apply(self, call: Call) -> Any:
        """Run the call and add the visible ghosts to its answer."""
        result = call.proceed()
        if result is None:
            return None
        ghosts = self.visible(call)
        if call.function == "positions_total":
            return int(result) + len(ghosts)
        return tuple(result) + tuple(ghosts)

    def params(self) -> dict[str, Any]:
        """``{"seconds": ...}``."""
        return {"seconds": self.seconds}


@dataclass(frozen=True, slots=True)
class Crash(Fault):
    """Terminate the hosting process immediately (``os._exit(70)``: no cleanup, no flush) at
    the start of the call. Meant for the gateway child process; in tests run it in a
    subprocess."""

    name: ClassVar[str] = "crash"

    def apply(self, call: Call) -> Any:
        """Exit the process with :data:`CRASH_EXIT_CODE`."""
        os._exit(CRASH_EXIT_CODE)


FAULT_TYPES: dict[str, type[Fault]] = {cls.name: cls for cls in (
    Latency, Hang, Disconnect, IpcTimeout, LostReply, Requote, Retcode, GhostPosition, Crash)}
"""Fault classes by spec name."""
