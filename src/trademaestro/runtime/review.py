"""The last look before an entry is sent: a hook the executor can give every strategy instance
(remote control: the platform's LLM supervisor, :mod:`trademaestro.platform.pretrade`).

The instance calls ``review(EntryReview)`` for each entry intent that passed the gate and was
sized; a returned text blocks that entry (logged with the reason), None lets it go. Exits and
position management are never reviewed: a reviewer can stop a trade, never hold one open.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from trademaestro.brokers.port import Position
from trademaestro.core.symbols import SymbolSpec
from trademaestro.execution.intents import OpenIntent
from trademaestro.filters.chain import FilterChain


@dataclass(frozen=True, slots=True)
class EntryReview:
    """What is known about an entry just before it is sent.

    Attributes:
        intent: the sized entry (volume in lots; sl/tp prices, 0.0 = none; price = the quote).
        timeframe: the strategy's timeframe name (``M15``).
        bid, ask: the current quote, price units.
        spec: the symbol's specification (point, pip).
        atr: the volatility filter's ATR at the closed bar (price units), when it has one.
        filters: the strategy's filter chain (its bounds).
        daily_loss_pct: today's loss of the strategy in % of the day-start equity (positive =
            loss), when its books are kept; None otherwise.
        daily_loss_limit_pct: its daily loss limit in % (None: no limit in percent).
        positions: the account's open positions (any magic number).
    """

    intent: OpenIntent
    timeframe: str
    bid: float
    ask: float
    spec: SymbolSpec
    atr: float | None
    filters: FilterChain
    daily_loss_pct: float | None
    daily_loss_limit_pct: float | None
    positions: tuple[Position, ...]

    @property
    def spread_points(self) -> float:
        """The spread now, in points."""
        return (self.ask - self.bid) / self.spec.point

    def pips(self, level: float) -> float | None:
        """Distance from the entry price to ``level`` in pips (None for no level)."""
        if level <= 0 or not math.isfinite(level):
            return None
        return abs(self.intent.price - level) / self.spec.pip


ReviewFn = Callable[[EntryReview], str | None]
"""Returns why the entry must not be sent, or None to send it."""
