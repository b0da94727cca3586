"""Exactly-once orders: journal first, send once, resolve every unknown outcome by look-up.

``ExactlyOnceExecutor.open/close/modify(intent) -> OrderOutcome``:

1. A client id already journalled is never sent again while its outcome is recorded: DONE or
   REJECTED returns the recorded outcome (``extra["journal"] == "replayed"``); PENDING, SENT or
   UNKNOWN is first resolved by look-up (:mod:`.lookup`): found → DONE, returned; not found →
   NOT_EXECUTED, and only then sent again (same client id, same comment).
2. A new intent is journalled PENDING in its own committed transaction (with the server time of
   the symbol's quote, the start of later history look-ups). A new entry is refused before
   that when the breaker halts entries (:class:`~.errors.CircuitOpenError`).
3. SENT is committed right before ``order_send`` (through :class:`~.calls.SafeBroker`, whose
   retries only resend what was certainly not executed).
4. The answer: SUCCESS → DONE with the tickets; PERMANENT, or TRANSIENT/CONNECTION after the last
   attempt → REJECTED (nothing was executed; the strategy decides again); UNKNOWN_OUTCOME →
   UNKNOWN, then resolved at once (``LookupConfig.looks`` look-ups ``settle_delay`` seconds
   apart, surviving a lagging history). Found → DONE; not found → NOT_EXECUTED → sent again,
   at most ``max_sends`` sends in all. A look-up that itself fails leaves the entry UNKNOWN and
   returns the unknown outcome: reconciliation resolves it later; nothing is re-sent before.

So one intent never makes two positions: a send happens only from PENDING (never sent) or
NOT_EXECUTED (proved absent at the broker).

Tickets on hedging accounts (§10.8): an open's position ticket is its order ticket
(``OrderOutcome.order``); a close/modify's position is the intent's ticket.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass

from trademaestro.brokers.port import OrderOutcome
from trademaestro.core.errors import BrokerError, ConfigError
from trademaestro.execution.intents import CloseIntent, Intent, ModifyIntent, OpenIntent
from trademaestro.persistence.journal import (
    FINAL,
    JournalEntry,
    JournalState,
    OrderJournal,
)

from .calls import SafeBroker
from .classify import Disposition
from .errors import CircuitOpenError
from .lookup import Found, find

log = logging.getLogger("trademaestro.safety.exactly_once")
TRADE_RETCODE_DONE = 10009


@dataclass(frozen=True, slots=True)
class LookupConfig:
    """How unknown outcomes are resolved.

    Attributes:
        lookback: seconds of history before the intent's server time searched (>= 0).
        looks: look-ups before concluding NOT_EXECUTED (>= 1).
        settle_delay: seconds between look-ups (a lagging history gets that long to show it).
        max_sends: sends of one intent in one call, the first included (>= 1).

    Raises:
        ConfigError: a value out of range.
    """

    lookback: int = 7 * 86_400
    looks: int = 2
    settle_delay: float = 2.0
    max_sends: int = 2

    def __post_init__(self) -> None:
        for name, ok in (("lookback", self.lookback >= 0), ("looks", self.looks >= 1),
                         ("settle_delay", self.settle_delay >= 0),
                         ("max_sends", self.max_sends >= 1)):
            if not ok:
                raise ConfigError(
                    f"LookupConfig.{name}: found {getattr(self, name)!r}; allowed: >= "
                    f"{0 if name in ('lookback', 'settle_delay') else 1}"
                )


def _action(intent: Intent) -> str:
    if isinstance(intent, OpenIntent):
        return "open"
    return "close" if isinstance(intent, CloseIntent) else "modify"


def recorded_outcome(entry: JournalEntry, journal: str) -> OrderOutcome:
    """The OrderOutcome a journal entry records (``extra["journal"] = journal``)."""
    done = entry.state is JournalState.DONE
    retcode = entry.retcode if entry.retcode is not None or not done else TRADE_RETCODE_DONE
    error = None
    if not done and entry.error is not None:
        error = (0, entry.error)
    order = entry.order_ticket or 0
    if done and entry.action == "open" and entry.position_ticket:
        order = entry.position_ticket  # hedging: the position ticket is the opening order's
    return OrderOutcome(
        ok=done, retcode=retcode, comment=entry.comment or entry.resolution or "",
        order=order, deal=entry.deal_ticket or 0, volume=entry.volume or 0.0,
        price=entry.price or 0.0, request=entry.request or entry.intent, error=error,
        extra={"journal": journal, "state": entry.state.value,
               "disposition": (Disposition.SUCCESS if done else
                               Disposition.UNKNOWN_OUTCOME if entry.unresolved
                               else Disposition.PERMANENT).value},
    )


class ExactlyOnceExecutor:
    """Sends intents through ``broker`` with the exactly-once protocol over ``journal``.

    Args:
        broker: the safe broker (retries, breaker).
        journal: the order journal of this account/run scope.
        lookup: resolution settings.
        sleep: the settle-delay sleep (default: the broker's backoff sleep, injected in tests).
    """

    def __init__(
        self,
        broker: SafeBroker,
        journal: OrderJournal,
        *,
        lookup: LookupConfig | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.broker = broker
        self.journal = journal
        self.lookup = lookup if lookup is not None else LookupConfig()
        self.sleep = sleep if sleep is not None else broker.sleep
        self.sends = 0

    def open(self, intent: OpenIntent) -> OrderOutcome:
        """Open a market position exactly once (see the module docstring).

        Raises:
            CircuitOpenError: a new (never journalled or NOT_EXECUTED) entry while entries are
                halted; nothing is written or sent.
        """
        return self._execute(intent)

    def close(self, intent: CloseIntent) -> OrderOutcome:
        """Close (part of) a position exactly once."""
        return self._execute(intent)

    def modify(self, intent: ModifyIntent) -> OrderOutcome:
        """Set a position's SL/TP exactly once."""
        return self._execute(intent)

    # -- protocol ---------------------------------------------------------------------------
    def _execute(self, intent: Intent) -> OrderOutcome:
        entry = self.journal.get(intent.client_id)
        opening = isinstance(intent, OpenIntent)
        if entry is None:
            if opening and not self.broker.entries_allowed():
                raise CircuitOpenError(
                    f"{intent.client_id}: new entry refused: circuit breaker "
                    f"{self.broker.breaker.state.value}", code=None)
            entry, created = self.journal.record_intent(
                client_id=intent.client_id, strategy_id=intent.strategy_id,
                magic=intent.magic, symbol=intent.symbol, action=_action(intent),
                reason=intent.reason, intent=asdict(intent),
                server_time=self._server_time(intent.symbol),
            )
            if not created:  # journalled meanwhile by another writer: treat as known
                return self._known(intent, entry)
            log.info("%s journalled PENDING (%s %s %s)", intent.client_id, entry.action,
                     intent.symbol, intent.strategy_id)
            return self._send_loop(intent, entry)
        return self._known(intent, entry)

    def _known(self, intent: Intent, entry: JournalEntry) -> OrderOutcome:
        if entry.state in FINAL:
            log.info("%s already journalled %s: recorded outcome returned, not re-sent",
                     entry.client_id, entry.state.value)
            return recorded_outcome(entry, "replayed")
        if entry.unresolved:
            entry = self.resolve(entry)
            if entry.state is JournalState.DONE:
                return recorded_outcome(entry, "resolved")
            if entry.state is not JournalState.NOT_EXECUTED:
                return recorded_outcome(entry, "unresolved")
        if isinstance(intent, OpenIntent) and not self.broker.entries_allowed():
            raise CircuitOpenError(
                f"{intent.client_id}: re-send refused: circuit breaker "
                f"{self.broker.breaker.state.value}", code=None)
        return self._send_loop(intent, entry)

    def _send_loop(self, intent: Intent, entry: JournalEntry) -> OrderOutcome:
        for _ in range(self.lookup.max_sends):
            outcome, entry = self._send_once(intent, entry)
            if entry.state is not JournalState.UNKNOWN:
                return outcome
            entry = self.resolve(entry)
            if entry.state is JournalState.DONE:
                return recorded_outcome(entry, "resolved")
            if entry.state is not JournalState.NOT_EXECUTED:
                return outcome  # look-up failed: stays UNKNOWN, never re-sent blindly
        log.error("%s: outcome still not executed after %d sends; giving up for now",
                  entry.client_id, self.lookup.max_sends)
        return outcome

    def _send_once(self, intent: Intent, entry: JournalEntry) -> tuple[OrderOutcome,
                                                                          JournalEntry]:
        cid = intent.client_id
        entry = self.journal.mark_sent(cid)
        self.sends += 1
        log.info("%s SENT (send #%d)", cid, entry.sends)
        if isinstance(intent, OpenIntent):
            outcome = self.broker.open_market(intent)
        elif isinstance(intent, CloseIntent):
            outcome = self.broker.close_position(intent)
        else:
            outcome = self.broker.modify_sltp(intent)
        disposition = Disposition(outcome.extra.get("disposition", Disposition.UNKNOWN_OUTCOME))
        if disposition is Disposition.SUCCESS:
            position = outcome.order if isinstance(intent, OpenIntent) else intent.ticket
            entry = self.journal.mark_done(
                cid, order_ticket=outcome.order or None, deal_ticket=outcome.deal or None,
                position_ticket=position or None, volume=outcome.volume, price=outcome.price,
                retcode=outcome.retcode, comment=outcome.comment, request=outcome.request,
                result=outcome.result)
            log.info("%s DONE order=%d deal=%d", cid, outcome.order, outcome.deal)
        elif disposition is Disposition.UNKNOWN_OUTCOME:
            error = str(outcome.error) if outcome.error is not None else outcome.comment
            entry = self.journal.mark_unknown(cid, error=error, request=outcome.request,
                                              retcode=outcome.retcode)
            log.error("%s UNKNOWN outcome (%s): resolving by look-up before any re-send",
                      cid, error)
        else:
            entry = self.journal.mark_rejected(
                cid, retcode=outcome.retcode, comment=outcome.comment,
                error=None if outcome.error is None else str(outcome.error),
                request=outcome.request, result=outcome.result)
            log.warning("%s REJECTED (%s, retcode %s)", cid, disposition.value, outcome.retcode)
        outcome.extra.update(journal="sent", state=entry.state.value)
        return outcome, entry

    # -- resolution -------------------------------------------------------------------------
    def resolve(self, entry: JournalEntry) -> JournalEntry:
        """Resolve a PENDING/SENT/UNKNOWN entry by look-up: DONE when found, NOT_EXECUTED when
        ``looks`` look-ups found nothing; unchanged (UNKNOWN) when a look-up call failed.
        Entries in other states are returned as they are."""
        if not entry.unresolved:
            return entry
        cid = entry.client_id
        for look in range(1, self.lookup.looks + 1):
            try:
                found = find(self.broker, entry, self.lookup.lookback)
            except BrokerError as exc:
                log.error("%s: look-up failed (%s): outcome stays unknown", cid, exc)
                if entry.state is not JournalState.UNKNOWN:
                    return self.journal.mark_unknown(cid, error=f"look-up failed: {exc}")
                return entry
            if found is not None:
                return self._found(entry, found, look)
            if look < self.lookup.looks:
                self.sleep(self.lookup.settle_delay)
        log.warning("%s: not found at the broker after %d look-ups: NOT_EXECUTED", cid,
                    self.lookup.looks)
        return self.journal.mark_not_executed(
            cid, resolution=f"not found after {self.lookup.looks} look-ups")

    def _found(self, entry: JournalEntry, found: Found, look: int) -> JournalEntry:
        position = found.position or (found.order if entry.action == "open" else 0)
        if entry.action != "open":
            position = int(entry.intent.get("ticket", position))
        log.warning("%s: found at the broker (%s, look %d): DONE order=%d deal=%d position=%d",
                    entry.client_id, found.where, look, found.order, found.deal, position)
        return self.journal.mark_done(
            entry.client_id, order_ticket=found.order or None, deal_ticket=found.deal or None,
            position_ticket=position or None, volume=found.volume, price=found.price,
            retcode=None, comment=f"resolved by look-up: {found.where}",
            resolution=f"found: {found.where}")

    def resolve_all(self) -> list[JournalEntry]:
        """Resolve every unresolved entry of the journal (start-up, recovery)."""
        return [self.resolve(e) for e in self.journal.unresolved()]

    def _server_time(self, symbol: str) -> int | None:
        try:
            return int(self.broker.quote(symbol).time)
        except BrokerError as exc:
            log.warning("no server time for %s (%s): history look-ups start from now", symbol,
                        exc)
            return None
