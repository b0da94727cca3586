"""Orders for the tick pipeline: the tick event, intents (incl. "flatten"), how they are sent,
the periodic-order decision of the stress test and soak, and process memory figures.

Kept apart from :mod:`trademaestro.runtime.tickpipe` (the stages themselves).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import psutil

from trademaestro.brokers.mt5.adapter import MT5Adapter
from trademaestro.brokers.port import OrderOutcome
from trademaestro.core.errors import ConfigError
from trademaestro.execution.intents import CloseIntent, ModifyIntent, OpenIntent

log = logging.getLogger("trademaestro.tickpipe")


class TickEvent(NamedTuple):
    """One replayed tick: ``symbol``, its index ``k`` in the symbol's loaded ticks, server time
    ``time_msc`` (ms), ``bid``/``ask`` (price units), ``enqueued`` (``time.perf_counter`` s)."""

    symbol: str
    k: int
    time_msc: int
    bid: float
    ask: float
    enqueued: float


@dataclass(frozen=True, slots=True)
class FlattenIntent:
    """Close every open position of ``magic`` on ``symbol`` (resolved at execution time: the
    tickets need not be known when deciding). Each close carries ``client_id``."""

    strategy_id: str
    symbol: str
    magic: int
    client_id: str
    reason: str = "flatten"


PipeIntent = OpenIntent | CloseIntent | ModifyIntent | FlattenIntent
DecideFn = Callable[[str, TickEvent], Sequence[PipeIntent] | Awaitable[Sequence[PipeIntent]]]
ExecuteFn = Callable[[PipeIntent], Sequence[OrderOutcome] | Awaitable[Sequence[OrderOutcome]]]


def send_intent(adapter: MT5Adapter, intent: PipeIntent) -> list[OrderOutcome]:
    """Send ``intent`` through ``adapter``: one order for open/close/modify, one close per
    matching position for a :class:`FlattenIntent`. Raises what the adapter raises."""
    if isinstance(intent, OpenIntent):
        return [adapter.open_market(intent)]
    if isinstance(intent, CloseIntent):
        return [adapter.close_position(intent)]
    if isinstance(intent, ModifyIntent):
        return [adapter.modify_sltp(intent)]
    return [
        adapter.close_position(
            CloseIntent(
                intent.strategy_id,
                p.symbol,
                p.ticket,
                p.side,
                p.volume,
                intent.magic,
                intent.client_id,
                "signal",
            )
        )
        for p in adapter.positions(symbol=intent.symbol, magic=intent.magic)
    ]


class PeriodicOrders:
    """A decision for stress tests: every ``period`` seconds of tick time, counted per symbol
    from ``anchors[symbol]`` (server ms), alternately open a buy of ``volume`` lots and flatten.
    Boundaries crossed between two ticks seen are all acted on (a catch-up), so the intents of
    a symbol depend only on the last tick seen: :meth:`expected` of it. With ``max_catch_up``
    a larger jump (a gap in the data, a replay loop) gives one action instead of many (then
    :meth:`expected` no longer holds)."""

    def __init__(
        self,
        anchors: Mapping[str, int],
        *,
        period: float = 30.0,
        volume: float = 0.01,
        magic: int = 424242,
        strategy_id: str = "stress",
        max_catch_up: int | None = None,
    ) -> None:
        if not period > 0 or not volume > 0:
            raise ConfigError(
                f"PeriodicOrders: found period {period}, volume {volume}; "
                "allowed: > 0 s and > 0 lots"
            )
        self.anchors = dict(anchors)
        self.period_ms = period * 1000.0
        self.volume, self.magic, self.strategy_id = volume, magic, strategy_id
        self.done = dict.fromkeys(self.anchors, 0)
        self.max_catch_up = max_catch_up

    def expected(self, symbol: str, time_msc: int) -> int:
        """Intents decided for ``symbol`` once its tick at ``time_msc`` has been seen."""
        return max(0, math.floor((time_msc - self.anchors[symbol]) / self.period_ms))

    def __call__(self, symbol: str, tick: TickEvent) -> list[PipeIntent]:
        """The intents due at ``tick`` (client ids ``p<symbol[:3]><n>``)."""
        due = self.expected(symbol, tick.time_msc)
        if self.max_catch_up is not None and due - self.done[symbol] > self.max_catch_up:
            self.done[symbol] = due - 1
        out: list[PipeIntent] = []
        while self.done[symbol] < due:
            n = self.done[symbol] = self.done[symbol] + 1
            cid = f"p{symbol[:3]}{n}"
            if n % 2:
                out.append(
                    OpenIntent(
                        self.strategy_id,
                        symbol,
                        "buy",
                        self.volume,
                        0.0,
                        0.0,
                        self.magic,
                        cid,
                        tick.ask,
                        "periodic",
                    )
                )
            else:
                out.append(FlattenIntent(self.strategy_id, symbol, self.magic, cid))
        return out


def process_rss(*pids: int | None) -> int:
    """Resident set size in bytes of this process plus the processes ``pids`` (None and
    processes that ended are skipped), through psutil."""
    total = int(psutil.Process().memory_info().rss)
    for pid in pids:
        if pid is None:
            continue
        with contextlib.suppress(psutil.Error):
            total += int(psutil.Process(pid).memory_info().rss)
    return total
