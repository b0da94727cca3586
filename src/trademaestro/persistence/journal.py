"""The exactly-once order journal: every order intent, written before it is sent.

One row per (``scope``, ``client_id``) in the ``order_journal`` table of a SQLite database (WAL,
see :mod:`.engine`; it may be the run database). ``scope`` separates independent order streams
whose client ids could repeat, e.g. ``"live:51234567@Broker-Server"`` for an account, or one per
backtest run. Every write below is its own committed transaction, so what the journal says
survives a crash of the process right after the call returns.

States and the only transitions allowed::

    PENDING ──► SENT ──► DONE | REJECTED | UNKNOWN
       │          │                          │
       └──────────┴──► DONE | NOT_EXECUTED ◄─┘   (resolution by look-up)
    NOT_EXECUTED ──► SENT                        (the same intent sent again)

- PENDING: journalled, not yet handed to ``order_send``;
- SENT: written immediately before ``order_send`` (``sends`` counts the sends);
- DONE: executed, with order/deal/position tickets; REJECTED: refused with a retcode;
- UNKNOWN: no readable answer (lost reply, timeout): must be resolved before anything is re-sent;
- NOT_EXECUTED: a look-up proved it was not executed: it may be sent again.

A transition from any other state raises :class:`JournalError` and changes nothing (the UPDATE is
conditional on the current state, so two writers cannot both win).

Times: ``created_at`` / ``updated_at`` wall-clock UTC epoch seconds; ``server_time`` broker
server seconds; volumes lots; prices price units.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from trademaestro.core.errors import TradeMaestroError
from trademaestro.persistence.engine import make_engine, writer
from trademaestro.persistence.jsontext import dumps, loads_dict
from trademaestro.persistence.models import ORDER_ACTIONS, JournalRecord


class JournalError(TradeMaestroError):
    """A journal write refused: an unknown client id, a transition from a state that does not
    allow it, or a bad argument (the message names the client id, what was found and what is
    allowed)."""


class JournalState(StrEnum):
    """The state of a journalled intent (module docstring)."""

    PENDING = "pending"
    SENT = "sent"
    DONE = "done"
    REJECTED = "rejected"
    UNKNOWN = "unknown"
    NOT_EXECUTED = "not_executed"


UNRESOLVED = (JournalState.PENDING, JournalState.SENT, JournalState.UNKNOWN)
"""States whose outcome at the broker is not known: resolved by look-up before any re-send."""
FINAL = (JournalState.DONE, JournalState.REJECTED)

_SOURCES: dict[JournalState, tuple[JournalState, ...]] = {
    JournalState.SENT: (JournalState.PENDING, JournalState.NOT_EXECUTED),
    JournalState.DONE: (JournalState.PENDING, JournalState.SENT, JournalState.UNKNOWN),
    JournalState.REJECTED: (JournalState.SENT,),
    JournalState.UNKNOWN: (JournalState.SENT, JournalState.PENDING, JournalState.UNKNOWN),
    JournalState.NOT_EXECUTED: (JournalState.PENDING, JournalState.SENT, JournalState.UNKNOWN),
}
"""Allowed source states of each target state."""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One journalled intent as stored (see :class:`~.models.JournalRecord` for units)."""

    client_id: str
    strategy_id: str
    magic: int
    symbol: str
    action: str
    reason: str
    intent: dict[str, Any]
    request: dict[str, Any] | None
    result: dict[str, Any] | None
    state: JournalState
    created_at: float
    updated_at: float
    server_time: int | None
    sends: int
    retcode: int | None
    comment: str | None
    error: str | None
    order_ticket: int | None
    deal_ticket: int | None
    position_ticket: int | None
    volume: float | None
    price: float | None
    resolution: str | None

    @property
    def unresolved(self) -> bool:
        """True for PENDING, SENT and UNKNOWN."""
        return self.state in UNRESOLVED


def _entry(row: JournalRecord) -> JournalEntry:
    return JournalEntry(
        client_id=row.client_id, strategy_id=row.strategy_id, magic=row.magic,
        symbol=row.symbol, action=row.action, reason=row.reason,
        intent=loads_dict(row.intent_json) or {}, request=loads_dict(row.request_json),
        result=loads_dict(row.result_json), state=JournalState(row.state),
        created_at=row.created_at, updated_at=row.updated_at, server_time=row.server_time,
        sends=row.sends, retcode=row.retcode, comment=row.comment, error=row.error,
        order_ticket=row.order_ticket, deal_ticket=row.deal_ticket,
        position_ticket=row.position_ticket, volume=row.volume, price=row.price,
        resolution=row.resolution,
    )


class OrderJournal:
    """The journal of one ``scope`` in the SQLite database at ``path`` (or on ``engine``).

    Args:
        target: a database file path (created with its table when missing) or an Engine.
        scope: the order stream (non-empty text, at most 200 characters).
        now: wall-clock UTC epoch seconds (tests inject a fixed clock).

    Raises:
        JournalError: an empty or too long scope.
        sqlalchemy.exc.OperationalError: the file cannot be opened.
    """

    def __init__(
        self,
        target: str | Path | Engine,
        *,
        scope: str = "default",
        now: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(scope, str) or not 0 < len(scope) <= 200:
            raise JournalError(f"scope: found {scope!r}; allowed: text of 1..200 characters")
        self._owned = not isinstance(target, Engine)
        self.engine = make_engine(Path(target)) if not isinstance(target, Engine) else target
        JournalRecord.metadata.create_all(self.engine, tables=[JournalRecord.__table__])  # type: ignore[list-item]
        self.scope = scope
        self._now = now

    def close(self) -> None:
        """Dispose of the engine when the journal opened it."""
        if self._owned:
            self.engine.dispose()

    # -- reads ------------------------------------------------------------------------------
    def get(self, client_id: str) -> JournalEntry | None:
        """The entry of ``client_id`` in this scope, or None."""
        with Session(self.engine) as session:
            row = session.scalar(self._select().where(JournalRecord.client_id == client_id))
            return None if row is None else _entry(row)

    def entries(self, *states: JournalState) -> list[JournalEntry]:
        """Entries of this scope (in the given states, or all), in journalling order."""
        query = self._select().order_by(JournalRecord.id)
        if states:
            query = query.where(JournalRecord.state.in_([s.value for s in states]))
        with Session(self.engine) as session:
            return [_entry(row) for row in session.scalars(query)]

    def unresolved(self) -> list[JournalEntry]:
        """PENDING, SENT and UNKNOWN entries (to resolve at start-up and after a lost reply)."""
        return self.entries(*UNRESOLVED)

    def _select(self) -> Any:
        return select(JournalRecord).where(JournalRecord.scope == self.scope)

    # -- writes -----------------------------------------------------------------------------
    def record_intent(
        self,
        *,
        client_id: str,
        strategy_id: str,
        magic: int,
        symbol: str,
        action: str,
        reason: str,
        intent: Mapping[str, Any],
        server_time: int | None,
    ) -> tuple[JournalEntry, bool]:
        """Journal an intent as PENDING in its own committed transaction.

        Returns ``(entry, created)``: ``created`` False when the client id was already
        journalled, in which case ``entry`` is the stored one, unchanged (never a second row).

        Raises:
            JournalError: an empty client id or an action other than open/close/modify.
        """
        if not client_id:
            raise JournalError("client_id: found ''; allowed: a non-empty client id")
        if action not in ORDER_ACTIONS:
            raise JournalError(
                f"{client_id}: action {action!r}; allowed: {', '.join(ORDER_ACTIONS)}"
            )
        now = self._now()
        row = {
            "scope": self.scope, "client_id": client_id, "strategy_id": strategy_id,
            "magic": int(magic), "symbol": symbol, "action": action, "reason": reason,
            "intent_json": dumps(intent, "intent"), "state": JournalState.PENDING.value,
            "created_at": now, "updated_at": now, "server_time": server_time, "sends": 0,
        }
        statement = sqlite_insert(JournalRecord).values(row).on_conflict_do_nothing(
            index_elements=["scope", "client_id"]
        )
        with Session(writer(self.engine)) as session, session.begin():
            created = session.connection().execute(statement).rowcount == 1
        entry = self.get(client_id)
        assert entry is not None
        return entry, created

    def mark_sent(self, client_id: str, request: Mapping[str, Any] | None = None) -> JournalEntry:
        """PENDING/NOT_EXECUTED → SENT, counting one more send; call right before order_send."""
        values: dict[str, Any] = {"sends": JournalRecord.sends + 1}
        if request is not None:
            values["request_json"] = dumps(request, "request")
        return self._move(client_id, JournalState.SENT, values)

    def mark_done(
        self,
        client_id: str,
        *,
        order_ticket: int | None,
        deal_ticket: int | None,
        position_ticket: int | None,
        volume: float | None,
        price: float | None,
        retcode: int | None,
        comment: str | None = None,
        request: Mapping[str, Any] | None = None,
        result: Any = None,
        resolution: str | None = None,
    ) -> JournalEntry:
        """→ DONE with the tickets (from SENT, or from PENDING/UNKNOWN by a look-up)."""
        values: dict[str, Any] = {
            "order_ticket": order_ticket, "deal_ticket": deal_ticket,
            "position_ticket": position_ticket, "volume": volume, "price": price,
            "retcode": retcode, "comment": comment, "resolution": resolution,
        }
        self._answer(values, request, result)
        return self._move(client_id, JournalState.DONE, values)

    def mark_rejected(
        self,
        client_id: str,
        *,
        retcode: int | None,
        comment: str | None,
        error: str | None = None,
        request: Mapping[str, Any] | None = None,
        result: Any = None,
    ) -> JournalEntry:
        """SENT → REJECTED: the broker refused (retcode) or the request never left (error)."""
        values: dict[str, Any] = {"retcode": retcode, "comment": comment, "error": error}
        self._answer(values, request, result)
        return self._move(client_id, JournalState.REJECTED, values)

    def mark_unknown(
        self, client_id: str, *, error: str, request: Mapping[str, Any] | None = None,
        retcode: int | None = None,
    ) -> JournalEntry:
        """→ UNKNOWN: no readable answer; nothing may be re-sent until it is resolved."""
        values: dict[str, Any] = {"error": error, "retcode": retcode}
        self._answer(values, request, None)
        return self._move(client_id, JournalState.UNKNOWN, values)

    def mark_not_executed(self, client_id: str, *, resolution: str) -> JournalEntry:
        """PENDING/SENT/UNKNOWN → NOT_EXECUTED: a look-up proved no execution."""
        return self._move(client_id, JournalState.NOT_EXECUTED, {"resolution": resolution})

    @staticmethod
    def _answer(values: dict[str, Any], request: Mapping[str, Any] | None, result: Any) -> None:
        if request is not None:
            values["request_json"] = dumps(request, "request")
        if result is not None:
            values["result_json"] = dumps(result, "result")

    def _move(
        self, client_id: str, target: JournalState, values: dict[str, Any]
    ) -> JournalEntry:
        sources = [s.value for s in _SOURCES[target]]
        statement = (
            update(JournalRecord)
            .where(
                JournalRecord.scope == self.scope,
                JournalRecord.client_id == client_id,
                JournalRecord.state.in_(sources),
            )
            .values(state=target.value, updated_at=self._now(), **values)
        )
        with Session(writer(self.engine)) as session, session.begin():
            changed = session.connection().execute(statement).rowcount
        if changed != 1:
            current = self.get(client_id)
            found = "no such client id" if current is None else f"state {current.state.value}"
            raise JournalError(
                f"{client_id} (scope {self.scope!r}): cannot move to {target.value}: found "
                f"{found}; allowed from: {', '.join(sources)}"
            )
        entry = self.get(client_id)
        assert entry is not None
        return entry
