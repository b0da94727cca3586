"""Finding a journalled intent at the broker by its client id (order comment ``"tm <id>"``) and
magic number: the look-up that resolves an unknown outcome before anything is re-sent.

Where each action leaves a trace (MT5_API.md §2.6-2.7, §3.5-3.7, §10.8 hedging):

- open: an open position with that comment and magic (``positions_get``); an active order
  (``orders_get``); a history order in state PARTIAL/FILLED (``history_orders_get``); an IN deal
  (``history_deals_get``). A position opened and already closed is found in the history.
- close: a history order in state PARTIAL/FILLED or an OUT/INOUT/OUT_BY deal carrying the comment.
- modify (SLTP creates no order): the position's SL and TP equal the requested levels within
  half a tick.

History windows are ``[server_time - lookback, now + 1 day]`` in server seconds (``now`` = the
symbol's last quote time; ``+ 1 day`` per §10.3). Deal and order comments are the request's
comment on the brokers we know and on the emulator; a broker that rewrites comments defeats the
look-up (it then reports NOT_EXECUTED only after ``looks`` tries, see
:class:`~.exactly_once.LookupConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trademaestro.brokers.mt5.adapter import order_comment
from trademaestro.persistence.journal import JournalEntry

from .calls import SafeBroker

ORDER_STATE_PARTIAL, ORDER_STATE_FILLED = 3, 4
ACTIVE_ORDER_STATES = frozenset({0, 1, 7, 8, 9})  # STARTED PLACED REQUEST_ADD/MODIFY/CANCEL
DEAL_ENTRY_IN = 0
DEAL_ENTRY_OUT_LIKE = frozenset({1, 2, 3})  # OUT, INOUT, OUT_BY
DAY = 86_400


@dataclass(frozen=True, slots=True)
class Found:
    """Where an intent was found executed (tickets 0 when unknown; volume lots; price units;
    ``time`` server seconds, 0 when unknown)."""

    where: str
    order: int
    deal: int
    position: int
    volume: float
    price: float
    time: int = 0


def window(broker: SafeBroker, entry: JournalEntry, lookback: int) -> tuple[int, int]:
    """``(date_from, date_to)`` server seconds for the history look-up of ``entry``."""
    now = broker.quote(entry.symbol).time
    start = entry.server_time if entry.server_time is not None else now
    return int(start) - int(lookback), max(int(now), int(start)) + DAY


def _ours(record: Any, comment: str, magic: int) -> bool:
    return bool(record.comment == comment and int(record.magic) == magic)


def find(broker: SafeBroker, entry: JournalEntry, lookback: int) -> Found | None:
    """Look ``entry`` up at the broker; None when no trace of it exists.

    Raises:
        BrokerError: a look-up call failed after its retries (the outcome stays unknown).
    """
    if entry.action == "modify":
        return _find_modify(broker, entry)
    comment = order_comment(entry.client_id)
    magic = int(entry.magic)
    opening = entry.action == "open"
    date_from, date_to = window(broker, entry, lookback)
    deals = [d for d in broker.raw("history_deals_get", date_from, date_to)
             if _ours(d, comment, magic)
             and (d.entry == DEAL_ENTRY_IN if opening else d.entry in DEAL_ENTRY_OUT_LIKE)]
    if deals:
        volume = sum(float(d.volume) for d in deals)
        price = sum(float(d.price) * float(d.volume) for d in deals) / volume
        first = deals[0]
        return Found("history deals", int(first.order), int(first.ticket),
                     int(first.position_id), volume, price, int(first.time))
    if opening:
        for p in broker.raw("positions_get"):
            if _ours(p, comment, magic):
                return Found("open position", int(p.ticket), 0, int(p.identifier),
                             float(p.volume), float(p.price_open), int(p.time))
        for o in broker.raw("orders_get"):
            if _ours(o, comment, magic) and int(o.state) in ACTIVE_ORDER_STATES:
                return Found("active order", int(o.ticket), 0, int(o.position_id),
                             float(o.volume_initial), float(o.price_open), int(o.time_setup))
    for o in broker.raw("history_orders_get", date_from, date_to):
        if _ours(o, comment, magic) and int(o.state) in (ORDER_STATE_PARTIAL, ORDER_STATE_FILLED):
            filled = float(o.volume_initial) - float(o.volume_current)
            return Found("history order", int(o.ticket), 0, int(o.position_id), filled,
                         float(o.price_open), int(o.time_done))
    return None


def _find_modify(broker: SafeBroker, entry: JournalEntry) -> Found | None:
    ticket = int(entry.intent["ticket"])
    spec = broker.symbol_spec(entry.symbol)
    half_tick = spec.tick_size / 2
    for p in broker.raw("positions_get", ticket=ticket):
        if int(p.ticket) != ticket:
            continue
        sl, tp = float(entry.intent["sl"]), float(entry.intent["tp"])
        if abs(float(p.sl) - sl) < half_tick and abs(float(p.tp) - tp) < half_tick:
            return Found("position levels", 0, 0, ticket, float(p.volume), 0.0, 0)
    return None
