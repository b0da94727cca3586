"""A strategy instance's own books: which positions it opened, what they realized, when.

The broker is the truth: positions that vanished or shrank since the last look are settled from
their deals (``history_deals_get(position=...)``), so closes done by the broker itself (SL, TP,
stop-out) are counted exactly like the executor's own. Amounts are in the account currency
(profit + commission + swap + fee); days are broker server days.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from trademaestro.brokers.port import Position
from trademaestro.core.servertime import server_day
from trademaestro.execution.management import PositionMemo

log = logging.getLogger("trademaestro.accounting")

_OUT_ENTRIES = (1, 3)  # DEAL_ENTRY_OUT, DEAL_ENTRY_OUT_BY


@dataclass
class Books:
    """Per-instance records kept across bars.

    Attributes:
        memos: what the executor remembers of each position it opened (by ticket).
        volumes: the last seen volume of each open position (by ticket), lots.
        counted: deal tickets already counted.
        results: net result of each fully closed position, oldest first (Kelly statistics).
        realized_day, realized_today: the server day and the P/L realized in it.
        last_trade_time: the last entry or exit of the instance, server seconds.
    """

    memos: dict[int, PositionMemo] = field(default_factory=dict)
    volumes: dict[int, float] = field(default_factory=dict)
    counted: set[int] = field(default_factory=set)
    results: list[float] = field(default_factory=list)
    open_results: dict[int, float] = field(default_factory=dict)
    realized_day: int = -1
    realized_today: float = 0.0
    last_trade_time: int | None = None

    def opened(self, memo: PositionMemo) -> None:
        """Remember a position the executor just opened (its entry deal is counted when the
        position is settled: ``history_deals_get(position=...)`` returns it too)."""
        self.memos[memo.ticket] = memo
        self.volumes[memo.ticket] = memo.initial_volume
        self.open_results[memo.ticket] = 0.0
        self.last_trade_time = memo.open_time

    def realized(self, now: int) -> float:
        """P/L realized in the server day of ``now``."""
        if server_day(now) != self.realized_day:
            return 0.0
        return self.realized_today

    def changed(self, positions: list[Position]) -> list[int]:
        """Tickets of remembered positions that closed or shrank since the last look."""
        current = {p.ticket: p.volume for p in positions}
        out = []
        for ticket, volume in self.volumes.items():
            now_volume = current.get(ticket)
            if now_volume is None or now_volume < volume - 1e-9:
                out.append(ticket)
        return out

    def forget_closed(self, positions: list[Position]) -> None:
        """Drop remembered positions that are no longer open (without reading deals)."""
        if len(positions) == len(self.volumes):
            return
        current = {p.ticket for p in positions}
        for ticket in [t for t in self.volumes if t not in current]:
            self.volumes.pop(ticket, None)
            self.memos.pop(ticket, None)
            self.open_results.pop(ticket, None)

    def settle(self, ticket: int, deals: list[dict[str, Any]], positions: list[Position]) -> bool:
        """Count the new deals of ``ticket``; returns True when the position is fully closed."""
        for deal in deals:
            self._count(deal)
        still_open = next((p for p in positions if p.ticket == ticket), None)
        if still_open is not None:
            self.volumes[ticket] = still_open.volume
            return False
        self.volumes.pop(ticket, None)
        self.memos.pop(ticket, None)
        self.results.append(round(self.open_results.pop(ticket, 0.0), 2))
        return True

    def _count(self, deal: dict[str, Any]) -> None:
        ticket = int(deal["ticket"])
        if ticket in self.counted:
            return
        self.counted.add(ticket)
        amount = (
            float(deal["profit"])
            + float(deal["commission"])
            + float(deal["swap"])
            + float(deal.get("fee", 0.0))
        )
        pid = int(deal["position_id"])
        if pid in self.open_results:
            self.open_results[pid] += amount
        time = int(deal["time"])
        day = server_day(time)
        if day != self.realized_day:
            if day < self.realized_day:
                return  # a deal of an earlier day: not part of today's tally
            self.realized_day, self.realized_today = day, 0.0
        self.realized_today += amount
        if int(deal["entry"]) in _OUT_ENTRIES:
            self.last_trade_time = max(self.last_trade_time or time, time)
