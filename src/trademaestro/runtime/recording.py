"""Recording what the executor does: orders, positions, deals and equity, into the store.

A :class:`Recorder` is the one place the shell writes trading records. ``NullRecorder`` keeps the
same interface without a database (benchmarks)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Protocol

from trademaestro.brokers.port import OrderOutcome
from trademaestro.execution.intents import CloseIntent, Intent, ModifyIntent, OpenIntent
from trademaestro.persistence.store import Store


class Recorder(Protocol):
    """Where the shell writes what happened (times are server seconds)."""

    def order(self, intent: Intent, outcome: OrderOutcome, time: int) -> None: ...
    def deals(self, deals: Sequence[dict[str, Any]]) -> None: ...
    def equity(self, points: Sequence[tuple[int, float, float]]) -> None: ...
    def position_closed(self, ticket: int, close_time: int) -> None: ...


class NullRecorder:
    """Records nothing (benchmarks and dry runs)."""

    def order(self, intent: Intent, outcome: OrderOutcome, time: int) -> None:
        return None

    def deals(self, deals: Sequence[dict[str, Any]]) -> None:
        return None

    def equity(self, points: Sequence[tuple[int, float, float]]) -> None:
        return None

    def position_closed(self, ticket: int, close_time: int) -> None:
        return None


class StoreRecorder:
    """Records into a :class:`~trademaestro.persistence.store.Store` run."""

    def __init__(self, store: Store, run_id: int) -> None:
        self.store = store
        self.run_id = run_id
        self._open: dict[int, _OpenPosition] = {}

    def order(self, intent: Intent, outcome: OrderOutcome, time: int) -> None:
        if isinstance(intent, OpenIntent):
            action, position = "open", (outcome.order if outcome.ok else None)
        elif isinstance(intent, CloseIntent):
            action, position = "close", intent.ticket
        else:
            action, position = "modify", intent.ticket
        reason = intent.reason
        self.store.record_order(
            self.run_id,
            client_id=intent.client_id,
            strategy_id=intent.strategy_id,
            magic=intent.magic,
            symbol=intent.symbol,
            action=action,
            reason=reason,
            time=time,
            request={"intent": dataclasses.asdict(intent), "request": outcome.request},
            result=outcome.result,
            retcode=outcome.retcode,
            error=None
            if outcome.ok
            else (str(outcome.error) if outcome.error else outcome.comment),
            order_ticket=outcome.order or None,
            deal_ticket=outcome.deal or None,
            position_ticket=position,
        )
        if isinstance(intent, OpenIntent) and outcome.ok:
            row = _OpenPosition(
                outcome.order,
                intent.symbol,
                intent.side,
                outcome.volume,
                time,
                outcome.price,
                intent.sl,
                intent.tp,
                intent.magic,
                intent.strategy_id,
            )
            self._open[outcome.order] = row
            self._write(row, "open")
        elif isinstance(intent, ModifyIntent) and outcome.ok and intent.ticket in self._open:
            row = dataclasses.replace(self._open[intent.ticket], sl=intent.sl, tp=intent.tp)
            self._open[intent.ticket] = row
            self._write(row, "open")

    def _write(self, row: _OpenPosition, status: str, close_time: int | None = None) -> None:
        self.store.upsert_position(
            self.run_id,
            ticket=row.ticket,
            symbol=row.symbol,
            side=row.side,
            volume=row.volume,
            open_time=row.open_time,
            open_price=row.open_price,
            sl=row.sl,
            tp=row.tp,
            magic=row.magic,
            strategy_id=row.strategy_id,
            status=status,
            close_time=close_time,
        )

    def deals(self, deals: Sequence[dict[str, Any]]) -> None:
        self.store.record_deals(self.run_id, deals)

    def equity(self, points: Sequence[tuple[int, float, float]]) -> None:
        self.store.record_equity(self.run_id, points)

    def position_closed(self, ticket: int, close_time: int) -> None:
        row = self._open.pop(ticket, None)
        if row is not None:
            self._write(row, "closed", close_time)


@dataclasses.dataclass(frozen=True, slots=True)
class _OpenPosition:
    """What the recorder knows of a position it opened (for the positions table)."""

    ticket: int
    symbol: str
    side: str
    volume: float
    open_time: int
    open_price: float
    sl: float
    tp: float
    magic: int
    strategy_id: str
