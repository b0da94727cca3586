"""One strategy instance's work at one closed bar, as it moves through the bar's phases.

The phases (:class:`~trademaestro.runtime.instance.StrategyInstance`), in this order per bar:
``manage`` (read the broker, settle, decide exits and position management) → ``execute`` (send
those) → ``gate`` (entry gate, sizing, decision core, last look) → ``execute`` (send the
entries). The staged runtimes run each phase in its own stage; backtests run them in a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trademaestro.brokers.port import Quote
from trademaestro.execution.decide import BarInput
from trademaestro.execution.intents import Intent, Side
from trademaestro.runtime.barstore import BarStore


@dataclass(slots=True)
class BarWork:
    """The state one bar's phases hand on.

    Attributes:
        i: the closed bar's index in ``store``.
        entry: the entry signal per side at bar ``i``; exit_rule: the exit conditions hold.
        store: the bars the signals came from (the instance's, or an intrabar scratch copy).
        wants_entry: an entry signal on one side, not yet acted on in this bar.
        quote: the broker's quote read by the manage phase (price units, server time).
        bar: the decision core's input built from it.
        open_count: the instance's positions left open for the entry gate: after the exits,
            minus the management closes the broker accepted.
        intents: what the next execute phase sends, in order (emptied by it).
        frees: per intent, True when it closes a remaining position entirely (a management
            close: once accepted it frees a ``maxPositions`` slot).
        entering: ``intents`` are the bar's entries (the last phase).
    """

    i: int
    entry: dict[Side, bool]
    exit_rule: bool
    store: BarStore
    wants_entry: bool
    quote: Quote | None = None
    bar: BarInput | None = None
    open_count: int = 0
    intents: list[Intent] = field(default_factory=list)
    frees: list[bool] = field(default_factory=list)
    entering: bool = False
