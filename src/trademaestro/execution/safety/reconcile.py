"""Reconciliation: the broker is the truth; local records are corrected to match it.

``reconcile(broker, journal, local, magics, executor=...)`` runs at start-up (before any strategy
may trade) and periodically. In order:

1. Every unresolved journal entry (PENDING/SENT/UNKNOWN) is resolved by look-up
   (:meth:`~.exactly_once.ExactlyOnceExecutor.resolve`).
2. Positions the local records hold open but the broker no longer shows: the close is looked up
   in the position's deals (``history_deals_get(position=...)``); found → closed locally with
   the closing deal's time; not found yet → left open and reported (the history may lag).
3. Positions open at the broker with one of our magic numbers but unknown locally: adopted when
   their comment carries a client id the journal knows (the strategy id comes from the
   journal); otherwise reported as orphans (adopted too when ``adopt_unknown``, under the
   strategy id that ``magics`` gives the magic number).
4. Positions known on both sides: volume (a partial close), SL and TP taken from the broker.
5. Pending orders at the broker with our magic whose client id the journal does not know:
   reported.

Every discrepancy is logged at CRITICAL with what was changed, and listed in the
:class:`ReconcileReport` (for tests and the monitor). Volumes lots, prices price units, times
server seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from trademaestro.brokers.mt5.adapter import client_id_of
from trademaestro.brokers.port import Position
from trademaestro.persistence.journal import JournalEntry, JournalState, OrderJournal

from .calls import SafeBroker
from .exactly_once import ExactlyOnceExecutor
from .lookup import DEAL_ENTRY_OUT_LIKE

log = logging.getLogger("trademaestro.safety.reconcile")
_VOLUME_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class LocalPosition:
    """A position the local records hold open (volume lots; sl/tp price, 0.0 = none)."""

    ticket: int
    symbol: str
    side: str
    volume: float
    sl: float
    tp: float
    magic: int
    strategy_id: str


class LocalBook(Protocol):
    """The local records reconciliation corrects (e.g. :class:`StoreBook`)."""

    def open_positions(self) -> list[LocalPosition]:
        """Positions believed open."""
        ...

    def mark_closed(self, position: LocalPosition, close_time: int) -> None:
        """Record the position closed at ``close_time`` (server seconds)."""
        ...

    def adopt(self, position: Position, strategy_id: str) -> None:
        """Record a broker position as ours and open."""
        ...

    def update(self, position: LocalPosition, broker: Position) -> None:
        """Take volume, SL and TP from the broker's position."""
        ...


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """One difference found, and what was done about it.

    ``kind``: ``journal_resolved``, ``closed_at_broker``, ``missing_at_broker``, ``adopted``,
    ``orphan``, ``updated``, ``orphan_order``.
    """

    kind: str
    ticket: int
    client_id: str | None
    magic: int
    symbol: str
    detail: str
    changed: bool


@dataclass(slots=True)
class ReconcileReport:
    """What one reconciliation pass found and changed."""

    discrepancies: list[Discrepancy] = field(default_factory=list)
    resolved: list[JournalEntry] = field(default_factory=list)
    broker_positions: int = 0
    local_positions: int = 0

    @property
    def clean(self) -> bool:
        """True when nothing differed."""
        return not self.discrepancies

    def kinds(self) -> list[str]:
        """The discrepancy kinds, in the order found."""
        return [d.kind for d in self.discrepancies]

    def add(self, item: Discrepancy) -> None:
        """Record and log (CRITICAL) one discrepancy."""
        self.discrepancies.append(item)
        log.critical(
            "reconcile %s: ticket %d client_id %s magic %d %s: %s (%s)", item.kind, item.ticket,
            item.client_id, item.magic, item.symbol, item.detail,
            "local records changed" if item.changed else "nothing changed",
        )


def reconcile(
    broker: SafeBroker,
    journal: OrderJournal,
    local: LocalBook,
    magics: Mapping[int, str] | Iterable[int],
    *,
    executor: ExactlyOnceExecutor | None = None,
    adopt_unknown: bool = False,
) -> ReconcileReport:
    """One reconciliation pass (module docstring).

    Args:
        magics: our magic numbers, or a mapping magic -> strategy id (used for orphans).
        executor: resolves journal entries (default: one over ``broker`` and ``journal``).
        adopt_unknown: also adopt positions with our magic whose client id is unknown.

    Raises:
        BrokerError: a broker read failed after its retries; nothing after that step changed
            (run again later).
    """
    owners = dict(magics) if isinstance(magics, Mapping) else {m: f"magic:{m}" for m in magics}
    executor = executor or ExactlyOnceExecutor(broker, journal)
    report = ReconcileReport()
    for entry in journal.unresolved():
        resolved = executor.resolve(entry)
        report.resolved.append(resolved)
        report.add(Discrepancy(
            "journal_resolved", resolved.position_ticket or 0, entry.client_id, entry.magic,
            entry.symbol, f"{entry.state.value} -> {resolved.state.value}"
            f" ({resolved.resolution or resolved.error})",
            resolved.state is not entry.state))
    at_broker = {p.ticket: p for p in broker.positions() if p.magic in owners}
    believed = {p.ticket: p for p in local.open_positions()}
    report.broker_positions, report.local_positions = len(at_broker), len(believed)
    for ticket, mine in believed.items():
        if ticket not in at_broker:
            _gone(broker, local, mine, report)
    for ticket, theirs in at_broker.items():
        mine_or_none = believed.get(ticket)
        if mine_or_none is None:
            _unknown(journal, local, theirs, owners, adopt_unknown, report)
        else:
            _compare(broker, local, mine_or_none, theirs, report)
    for order in broker.raw("orders_get"):
        cid = client_id_of(order.comment)
        if int(order.magic) in owners and (cid is None or journal.get(cid) is None):
            report.add(Discrepancy(
                "orphan_order", int(order.ticket), cid, int(order.magic), order.symbol,
                "pending order with our magic and no journalled client id", False))
    return report


def _gone(broker: SafeBroker, local: LocalBook, mine: LocalPosition,
          report: ReconcileReport) -> None:
    closes = [d for d in broker.position_deals(mine.ticket) if d["entry"] in DEAL_ENTRY_OUT_LIKE]
    if not closes:
        report.add(Discrepancy(
            "missing_at_broker", mine.ticket, None, mine.magic, mine.symbol,
            "open locally, not at the broker, no close in its deals yet: left open", False))
        return
    last = max(closes, key=lambda d: (d["time"], d["ticket"]))
    local.mark_closed(mine, int(last["time"]))
    report.add(Discrepancy(
        "closed_at_broker", mine.ticket, client_id_of(str(last["comment"])), mine.magic,
        mine.symbol, f"closed at the broker at {last['time']} (deal {last['ticket']} price "
        f"{last['price']}): closed locally", True))


def _unknown(journal: OrderJournal, local: LocalBook, theirs: Position, owners: Mapping[int, str],
             adopt_unknown: bool, report: ReconcileReport) -> None:
    cid = client_id_of(theirs.comment)
    entry = journal.get(cid) if cid is not None else None
    if entry is not None and entry.state is JournalState.DONE:
        local.adopt(theirs, entry.strategy_id)
        report.add(Discrepancy(
            "adopted", theirs.ticket, cid, theirs.magic, theirs.symbol,
            f"open at the broker ({theirs.side} {theirs.volume} lots at {theirs.price_open}), "
            f"unknown locally; journal {entry.state.value}: adopted for {entry.strategy_id}",
            True))
        return
    what = "no client id in its comment" if cid is None else (
        "a client id the journal does not know" if entry is None
        else f"journal state {entry.state.value}")
    if adopt_unknown:
        local.adopt(theirs, owners[theirs.magic])
    report.add(Discrepancy(
        "orphan", theirs.ticket, cid, theirs.magic, theirs.symbol,
        f"our magic with {what} (comment {theirs.comment!r})"
        + (f": adopted for {owners[theirs.magic]}" if adopt_unknown else ": reported only"),
        adopt_unknown))


def _compare(broker: SafeBroker, local: LocalBook, mine: LocalPosition, theirs: Position,
             report: ReconcileReport) -> None:
    tick = broker.symbol_spec(theirs.symbol).tick_size
    differs = []
    if abs(mine.volume - theirs.volume) > _VOLUME_EPS:
        differs.append(f"volume {mine.volume} -> {theirs.volume}")
    if abs(mine.sl - theirs.sl) >= tick / 2:
        differs.append(f"sl {mine.sl} -> {theirs.sl}")
    if abs(mine.tp - theirs.tp) >= tick / 2:
        differs.append(f"tp {mine.tp} -> {theirs.tp}")
    if differs:
        local.update(mine, theirs)
        report.add(Discrepancy(
            "updated", mine.ticket, client_id_of(theirs.comment), mine.magic, mine.symbol,
            "; ".join(differs) + ": taken from the broker", True))
