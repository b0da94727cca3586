"""The shapes every entry filter shares: :class:`EntryContext` in, :class:`Verdict` out.

A filter is a small object with a ``name`` and a pure ``check(ctx) -> Verdict``: no I/O, no clock
reads (time comes in as ``ctx.time``, broker server time). :class:`~trademaestro.filters.chain.
FilterChain` runs them in a fixed order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from trademaestro.core.symbols import SymbolSpec


@dataclass(frozen=True, slots=True)
class Verdict:
    """One filter's decision on one entry.

    Attributes:
        name: the filter (``session``, ``spread``, ``volatility``, ``correlation``, ``news``,
            ``cooldown``).
        allow: False blocks the entry.
        multiplier: size factor when allowed, in (0, 1] for the shipped actions (1.0 = no effect).
        reason: why, in words, for the log and the report.
    """

    name: str
    allow: bool
    multiplier: float = 1.0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class EntryContext:
    """What the filters see of one candidate entry.

    Attributes:
        strategy_id: the strategy asking.
        symbol: the symbol to enter (broker spelling).
        side: ``buy`` or ``sell``.
        time: decision time, broker server time seconds (normally the close time of the last
            closed bar).
        bid, ask: the current quote, price units.
        spec: the symbol's specification (point, pip, currencies).
        atr: ATR by period on the last closed bar, price units; NaN (or absent) when unknown.
        last_trade_time: the strategy's last entry or exit on this symbol, server seconds; None
            when it has not traded it.
        open_symbols: symbols in which the account holds positions (any strategy).
    """

    strategy_id: str
    symbol: str
    side: Literal["buy", "sell"]
    time: int
    bid: float
    ask: float
    spec: SymbolSpec
    atr: Mapping[int, float] = field(default_factory=dict)
    last_trade_time: int | None = None
    open_symbols: frozenset[str] = frozenset()


class Filter(Protocol):
    """An entry filter: ``check`` is pure and cheap (a few µs) unless documented otherwise."""

    @property
    def name(self) -> str:
        """The filter's name, as in :attr:`Verdict.name`."""
        ...

    def check(self, ctx: EntryContext) -> Verdict:
        """The filter's decision on ``ctx``."""
        ...

    def describe(self) -> str:
        """One line describing the configured rule."""
        ...
