"""Local position records that reconciliation corrects (:class:`~.reconcile.LocalBook`).

- :class:`StoreBook`: the ``positions`` table of one run in the run database (:class:`Store`).
- :class:`MemoryBook`: a dict, for tests and for executors that keep no database.

Volumes lots, prices price units, times server seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from trademaestro.brokers.port import Position
from trademaestro.persistence.store import Store

from .reconcile import LocalPosition


@dataclass(slots=True)
class _Row:
    position: LocalPosition
    open_time: int
    open_price: float
    status: str = "open"
    close_time: int | None = None


class MemoryBook:
    """Local records held in memory (``rows`` by ticket; closed rows are kept)."""

    def __init__(self) -> None:
        self.rows: dict[int, _Row] = {}

    def add(self, position: LocalPosition, *, open_time: int = 0, open_price: float = 0.0) -> None:
        """Record a position open (what the executor does after a DONE open)."""
        self.rows[position.ticket] = _Row(position, open_time, open_price)

    def open_positions(self) -> list[LocalPosition]:
        """Positions believed open, by ticket."""
        return [r.position for _, r in sorted(self.rows.items()) if r.status == "open"]

    def status(self, ticket: int) -> str | None:
        """``open``, ``closed`` or None (unknown ticket)."""
        row = self.rows.get(ticket)
        return None if row is None else row.status

    def close_time(self, ticket: int) -> int | None:
        """The recorded close time of a closed position."""
        row = self.rows.get(ticket)
        return None if row is None else row.close_time

    def mark_closed(self, position: LocalPosition, close_time: int) -> None:
        """Record the position closed at ``close_time``."""
        row = self.rows[position.ticket]
        row.status, row.close_time = "closed", int(close_time)

    def adopt(self, position: Position, strategy_id: str) -> None:
        """Record a broker position as ours and open."""
        self.add(_local(position, strategy_id), open_time=position.time,
                 open_price=position.price_open)

    def update(self, position: LocalPosition, broker: Position) -> None:
        """Take volume, SL and TP from the broker."""
        row = self.rows[position.ticket]
        row.position = replace(row.position, volume=broker.volume, sl=broker.sl, tp=broker.tp)


class StoreBook:
    """The ``positions`` table of run ``run_id`` in ``store`` (each change one transaction)."""

    def __init__(self, store: Store, run_id: int) -> None:
        self.store = store
        self.run_id = run_id

    def open_positions(self) -> list[LocalPosition]:
        """Rows with status ``open``, by ticket."""
        return [
            LocalPosition(int(r["ticket"]), r["symbol"], r["side"], float(r["volume"]),
                          float(r["sl"]), float(r["tp"]), int(r["magic"]), r["strategy_id"])
            for r in self.store.load_positions(self.run_id) if r["status"] == "open"
        ]

    def _row(self, ticket: int) -> dict[str, Any]:
        for r in self.store.load_positions(self.run_id):
            if int(r["ticket"]) == ticket:
                return r
        raise KeyError(ticket)

    def mark_closed(self, position: LocalPosition, close_time: int) -> None:
        """Set status ``closed`` and the close time."""
        self._write(self._row(position.ticket), status="closed", close_time=int(close_time))

    def adopt(self, position: Position, strategy_id: str) -> None:
        """Insert (or replace) the broker position as open."""
        self.store.upsert_position(
            self.run_id, ticket=position.ticket, symbol=position.symbol, side=position.side,
            volume=position.volume, open_time=position.time, open_price=position.price_open,
            sl=position.sl, tp=position.tp, magic=position.magic, strategy_id=strategy_id,
            status="open",
        )

    def update(self, position: LocalPosition, broker: Position) -> None:
        """Take volume, SL and TP from the broker."""
        self._write(self._row(position.ticket), volume=broker.volume, sl=broker.sl,
                    tp=broker.tp)

    def _write(self, row: dict[str, Any], **changes: Any) -> None:
        merged = {**row, **changes}
        self.store.upsert_position(
            self.run_id, ticket=int(merged["ticket"]),
            symbol=str(merged["symbol"]), side=str(merged["side"]),
            volume=float(merged["volume"]),
            open_time=int(merged["open_time"]),
            open_price=float(merged["open_price"]),
            sl=float(merged["sl"]), tp=float(merged["tp"]),
            magic=int(merged["magic"]),
            strategy_id=str(merged["strategy_id"]), status=str(merged["status"]),
            close_time=merged["close_time"],
        )


def _local(position: Position, strategy_id: str) -> LocalPosition:
    return LocalPosition(position.ticket, position.symbol, position.side, position.volume,
                         position.sl, position.tp, position.magic, strategy_id)
