"""Scriptable, per-call fault injection for the MT5 emulator (:class:`FaultPlan`).

Usage::

    plan = FaultPlan()
    plan.add("order_send", LostReply())                    # the next order_send only
    plan.add("order_send", Requote(points=30), skip=2, times=None)   # from the 3rd on, forever
    plan.add("positions_get", GhostPosition(seconds=900), times=None)
    emu = MT5Emulator(config, faults=plan)                 # or: emu.faults = plan
    ...
    assert plan.fired == [("order_send", "lost_reply")]

or from plain data (a CLI option, a config file, a gateway child process)::

    plan = FaultPlan.from_spec([{"function": "order_send", "fault": "requote", "points": 30,
                                 "times": 2}])
    plan.extend([{"function": "positions_get", "fault": "ghost_position", "seconds": 900}])
    plan.to_spec()   # the rules back as plain data

Rules: each rule watches one API function. A call of that function for which the rule's
``when(args, kwargs)`` is true (or that has no ``when``) is *seen* by the rule; the rule applies
to the seen calls number ``skip + 1`` to ``skip + times`` (``times`` None: forever). Several
rules may apply to one call: every delaying fault (:class:`Latency`, :class:`Hang`) applies, in
the order the rules were added, then the first other fault decides the call's outcome; a later
outcome rule that also applies is not used up by that call. Every applied fault is appended to
:attr:`FaultPlan.fired` as ``(function, fault name)``. The fault semantics are in
:mod:`.fault_types`.

The plan is thread-safe (a hung call in one thread does not block the bookkeeping of others)
and belongs to one emulator at a time. With the default hook (:class:`~.api.NoFaults`) the
emulator's API calls never reach this module.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trademaestro.core.errors import ConfigError

from .fault_match import RequestMatch
from .fault_types import (
    API_FUNCTIONS,
    FAULT_TYPES,
    Call,
    ClosedPosition,
    Crash,
    Disconnect,
    Fault,
    GhostPosition,
    Hang,
    IpcTimeout,
    Latency,
    LostReply,
    Requote,
    Retcode,
)
from .state import Position

if TYPE_CHECKING:
    from .api import EmulatorBase

__all__ = [
    "API_FUNCTIONS",
    "FAULT_TYPES",
    "Crash",
    "Disconnect",
    "Fault",
    "FaultPlan",
    "GhostPosition",
    "Hang",
    "IpcTimeout",
    "Latency",
    "LostReply",
    "RequestMatch",
    "Requote",
    "Retcode",
]

When = Callable[[tuple[Any, ...], dict[str, Any]], bool]
_COMMON_KEYS = ("function", "fault", "times", "skip", "match")
_MATCH_FUNCTIONS = frozenset({"order_send", "order_check"})


@dataclass(slots=True)
class _Rule:
    function: str
    fault: Fault
    times: int | None
    skip: int
    when: When | None
    order: int
    seen: int = 0
    used: int = 0

    def exhausted(self) -> bool:
        return self.times is not None and self.used >= self.times


class FaultPlan:
    """A script of faults for the emulator's API calls (see the module docstring).

    Attributes:
        fired: ``(function, fault name)`` of every fault applied, in order (a delaying fault
            and the outcome fault of one call give two entries).
    """

    def __init__(self) -> None:
        self.fired: list[tuple[str, str]] = []
        self._rules: dict[str, list[_Rule]] = {}
        self._calls: dict[str, int] = {}
        self._lock = threading.RLock()
        self._emu: EmulatorBase | None = None
        self._closed: deque[ClosedPosition] = deque()
        self._ghost_horizon = 0.0
        self._added = 0

    # ------------------------------------------------------------------ scripting
    def add(self, function: str, fault: Fault, *, times: int | None = 1, skip: int = 0,
            when: When | None = None) -> FaultPlan:
        """Apply ``fault`` to the calls of ``function`` seen after the first ``skip``, ``times``
        of them (None: every one). ``when(args, kwargs)`` (the call's positional and keyword
        arguments) restricts the calls the rule sees. Returns the plan (for chaining).

        Raises:
            ConfigError: unknown function, a fault that does not fit the function (Requote and
                Retcode: ``order_send``; GhostPosition: ``positions_get``/``positions_total``),
                ``times`` not None or an integer >= 1, ``skip`` not an integer >= 0.
        """
        if function not in API_FUNCTIONS:
            raise ConfigError(f"fault function: found {function!r}; allowed: "
                              f"{sorted(API_FUNCTIONS)}")
        if not isinstance(fault, Fault):
            raise ConfigError(f"fault for {function}: found {fault!r}; allowed: a Fault "
                              f"({', '.join(sorted(FAULT_TYPES))})")
        if fault.functions is not None and function not in fault.functions:
            raise ConfigError(f"fault {fault.name!r} on {function!r}: allowed only on "
                              f"{sorted(fault.functions)}")
        if times is not None and (not isinstance(times, int) or isinstance(times, bool)
                                  or times < 1):
            raise ConfigError(f"fault times: found {times!r}; allowed: null (forever) or an "
                              "integer >= 1")
        if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
            raise ConfigError(f"fault skip: found {skip!r}; allowed: an integer >= 0")
        if when is not None and not callable(when):
            raise ConfigError(f"fault when: found {when!r}; allowed: None or a callable "
                              "(args, kwargs) -> bool")
        with self._lock:
            self._added += 1
            self._rules.setdefault(function, []).append(
                _Rule(function, fault, times, skip, when, self._added))
            if isinstance(fault, GhostPosition):
                self._ghost_horizon = max(self._ghost_horizon, float(fault.seconds))
                self._hook_closes()
        return self

    def clear(self) -> None:
        """Remove every rule and forget the closed positions. :attr:`fired`, the call counts
        and the emulator's state (a :class:`Disconnect` stays in effect) are kept."""
        with self._lock:
            self._rules.clear()
            self._closed.clear()
            self._ghost_horizon = 0.0
            self._unhook_closes()

    def calls(self, function: str) -> int:
        """How many calls of ``function`` the plan has seen (all of them, faulted or not)."""
        return self._calls.get(function, 0)

    def pending(self) -> int:
        """How many rules may still apply (rules with ``times`` None always count)."""
        with self._lock:
            return sum(1 for rules in self._rules.values() for r in rules if not r.exhausted())

    # ------------------------------------------------------------------ hook protocol
    def before_call(self, function: str) -> None:
        """Part of the :class:`~.api.FaultHook` protocol; the plan works in :meth:`intercept`,
        so this does nothing."""

    def attach(self, emu: EmulatorBase) -> None:
        """Called when the plan is installed on ``emu`` (``emu.faults = plan``); detaches it
        from a previous emulator."""
        with self._lock:
            if self._emu is not None and self._emu is not emu:
                self.detach(self._emu)
            self._emu = emu
            if self._ghost_horizon > 0.0:
                self._hook_closes()

    def detach(self, emu: EmulatorBase) -> None:
        """Called when the plan is removed from ``emu``."""
        with self._lock:
            if self._emu is emu:
                self._unhook_closes()
                self._emu = None

    def intercept(self, emu: Any, function: str, args: tuple[Any, ...],
                  kwargs: dict[str, Any], proceed: Callable[[], Any]) -> Any:
        """Run one API call under the plan: count it, pick the applicable rules, apply their
        faults (delays first, then at most one outcome fault) or just ``proceed()``."""
        delays: list[Fault] = []
        outcome: Fault | None = None
        closed: list[ClosedPosition] = []
        with self._lock:
            self._calls[function] = self._calls.get(function, 0) + 1
            rules = self._rules.get(function)
            if rules:
                delays, outcome = self._select(rules, args, kwargs)
                if isinstance(outcome, GhostPosition):
                    closed = list(self._closed)
        for fault in delays:
            fault.wait()
        if outcome is None:
            return proceed()
        return outcome.apply(Call(emu, function, args, kwargs, proceed, closed))

    def _select(self, rules: list[_Rule], args: tuple[Any, ...],
                kwargs: dict[str, Any]) -> tuple[list[Fault], Fault | None]:
        delays: list[Fault] = []
        outcome: Fault | None = None
        for rule in rules:
            if rule.exhausted() or (rule.when is not None and not rule.when(args, kwargs)):
                continue
            rule.seen += 1
            if rule.seen <= rule.skip:
                continue
            fault = rule.fault
            if fault.delays:
                delays.append(fault)
            elif outcome is None:
                outcome = fault
            else:
                continue
            rule.used += 1
            self.fired.append((rule.function, fault.name))
        rules[:] = [r for r in rules if not r.exhausted()]
        return delays, outcome

    # ------------------------------------------------------------------ closed positions
    def _hook_closes(self) -> None:
        if self._emu is not None:
            self._emu._ledger.on_close = self._record_close

    def _unhook_closes(self) -> None:
        emu = self._emu
        if emu is not None and emu._ledger.on_close == self._record_close:
            emu._ledger.on_close = None

    def _record_close(self, pos: Position, price: float, profit: float, time: int) -> None:
        """Ledger hook: remember a fully closed position (dropping the records older than the
        longest ghost duration)."""
        with self._lock:
            closed = self._closed
            while closed and closed[0].time + self._ghost_horizon <= time:
                closed.popleft()
            closed.append(ClosedPosition(time, pos.as_tuple(price, profit)))

    # ------------------------------------------------------------------ plain data
    @classmethod
    def from_spec(cls, spec: Any) -> FaultPlan:
        """Build a plan from plain data (JSON): a list of rules, each
        ``{"function": str, "fault": name, ...fault parameters, "times": int | null = 1,
        "skip": int = 0, "match": {request field: value}}``. Fault names and parameters:
        ``latency`` (``seconds``), ``hang`` (``seconds``: null or omitted = forever),
        ``disconnect``, ``ipc_timeout``, ``lost_reply``, ``requote`` (``points``), ``retcode``
        (``code``), ``ghost_position`` (``seconds``), ``crash``. ``match`` (``order_send`` /
        ``order_check`` only) applies the rule to requests with those field values
        (:class:`RequestMatch`).

        Raises:
            ConfigError: not a list, or a bad rule; the message names the rule as
                ``faults[i]`` (and the key), what was found and what is allowed.
        """
        return cls().extend(spec)

    def extend(self, spec: Any) -> FaultPlan:
        """Add the rules of a plain-data ``spec`` (the format of :meth:`from_spec`), all or
        none: a bad rule raises before any rule is added. Returns the plan.

        Raises:
            ConfigError: as :meth:`from_spec` (``faults[i]`` counts within ``spec``).
        """
        if not isinstance(spec, list):
            raise ConfigError(f"faults: found {type(spec).__name__}; allowed: a list of rule "
                              "objects")
        staged = FaultPlan()
        parsed = []
        for index, item in enumerate(spec):
            where = f"faults[{index}]"
            function, fault, times, skip, when = _parse_rule(item, where)
            try:
                staged.add(function, fault, times=times, skip=skip, when=when)
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc}") from None
            parsed.append((function, fault, times, skip, when))
        for function, fault, times, skip, when in parsed:
            self.add(function, fault, times=times, skip=skip, when=when)
        return self

    def to_spec(self) -> list[dict[str, Any]]:
        """The rules still in the plan as plain data accepted by :meth:`from_spec`, in the order
        they were added (each as added: its full ``times`` and ``skip``; exhausted rules are
        gone).

        Raises:
            ConfigError: a rule with a ``when`` that is not a :class:`RequestMatch`, or a
                ``Hang`` with a release event (no plain-data form).
        """
        out: list[dict[str, Any]] = []
        with self._lock:
            rules = sorted((r for rs in self._rules.values() for r in rs), key=lambda r: r.order)
        for rule in rules:
            item: dict[str, Any] = {"function": rule.function, "fault": rule.fault.name}
            item.update(rule.fault.params())
            item["times"] = rule.times
            item["skip"] = rule.skip
            if isinstance(rule.when, RequestMatch):
                item["match"] = rule.when.to_dict()
            elif rule.when is not None:
                raise ConfigError(f"fault rule {rule.function}/{rule.fault.name}: its `when` "
                                  "is a Python callable; allowed in a spec: a request match")
            out.append(item)
        return out


def _parse_rule(item: Any, where: str) -> tuple[str, Fault, int | None, int, When | None]:
    """(function, fault, times, skip, when) of one spec rule."""
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: found {type(item).__name__}; allowed: an object with "
                          '"function" and "fault"')
    function = item.get("function")
    if not isinstance(function, str) or function not in API_FUNCTIONS:
        raise ConfigError(f"{where}.function: found {function!r}; allowed: "
                          f"{sorted(API_FUNCTIONS)}")
    name = item.get("fault")
    kind = FAULT_TYPES.get(name) if isinstance(name, str) else None
    if kind is None:
        raise ConfigError(f"{where}.fault: found {name!r}; allowed: {sorted(FAULT_TYPES)}")
    params = _PARAMS[kind.name]
    param_names = {p for p, _ in params}
    unknown = sorted(set(item) - set(_COMMON_KEYS) - param_names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown} for fault {name!r}; allowed: "
                          f"{sorted(set(_COMMON_KEYS) | param_names)}")
    missing = [p for p, required in params if required and p not in item]
    if missing:
        raise ConfigError(f"{where}: fault {name!r} needs {missing}")
    try:
        fault = kind(**{p: item[p] for p, _ in params if p in item})
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    when: When | None = None
    if "match" in item:
        if function not in _MATCH_FUNCTIONS:
            raise ConfigError(f"{where}.match: allowed only for {sorted(_MATCH_FUNCTIONS)}, "
                              f"found on {function!r}")
        when = RequestMatch.from_dict(item["match"], f"{where}.match")
    return function, fault, item.get("times", 1), item.get("skip", 0), when


_PARAMS: dict[str, tuple[tuple[str, bool], ...]] = {
    "latency": (("seconds", True),), "hang": (("seconds", False),), "disconnect": (),
    "ipc_timeout": (), "lost_reply": (), "requote": (("points", True),),
    "retcode": (("code", True),), "ghost_position": (("seconds", True),), "crash": (),
}
"""Parameters (name, required) of each fault in a spec."""
