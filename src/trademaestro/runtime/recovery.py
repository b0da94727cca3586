"""Recovery mode: resuming a paper run after the executor died, against a broker that did not.

With an emulator server as the broker (``run --broker-address``), the replay clock, positions and
deals survive the executor. A restarted executor:

1. finds where the replay stands (the server's replay clock): at a bar's first tick the group is
   replayed again from its open (decisions are deterministic and their client ids journalled, so
   nothing already sent is sent twice); after a bar's close the next group is next;
2. warms every instance's bar store with the bars closed before that point (the same values a
   run that never stopped computed, so signals are unchanged);
3. re-learns the positions it holds at the broker with its magic numbers: the opening order record
   (any earlier run in the database) gives the initial stop and volume; a position without a
   record is adopted from what the broker shows (logged at CRITICAL).
"""

from __future__ import annotations

import bisect
import logging
import math

from trademaestro.execution.management import PositionMemo
from trademaestro.runtime.instance import StrategyInstance
from trademaestro.runtime.session import Session

log = logging.getLogger("trademaestro.recovery")


def reconcile_now(session: Session) -> int:
    """One reconciliation pass for every run of the session (the broker is the truth; every
    discrepancy is logged at CRITICAL by the pass); returns the number of discrepancies."""
    if session.safety is None or session.store is None:
        return 0
    from trademaestro.execution.safety.books import StoreBook
    from trademaestro.execution.safety.reconcile import reconcile

    safe, journal, executor = session.safety
    found = 0
    for slot in session.slots:
        if slot.run_id is None:
            continue
        plan = slot.instance.plan
        report = reconcile(
            safe,
            journal,
            StoreBook(session.store, slot.run_id),
            {plan.magic: plan.strategy_id},
            executor=executor,
        )
        found += len(report.discrepancies)
    return found


async def reconcile_every(session: Session, seconds: float) -> None:
    """Reconcile every ``seconds`` of wall time (an asyncio task; broker calls in a thread).
    A failed pass is logged and retried at the next period: it never stops the executor."""
    import asyncio

    while True:
        await asyncio.sleep(seconds)
        try:
            await asyncio.to_thread(reconcile_now, session)
        except Exception as exc:
            log.error("periodic reconciliation failed: %s; retrying in %s s", exc, seconds)


def start_group(session: Session) -> int:
    """The timeline group to resume from (0 for a fresh run)."""
    now = session.resume_time
    times = session.timeline.times
    if not now or not times:
        return 0
    g = bisect.bisect_right(times, now) - 1
    if g < 0:
        return 0
    return g if now == times[g] else g + 1


def recover(session: Session, g0: int) -> None:
    """Settle unresolved journal entries, warm the bar stores for group ``g0`` and re-learn the
    instances' open positions."""
    settle_journal(session)
    if g0 <= 0:
        return
    if session.risk_file is not None:
        session.risk_file.load_into(session.risk)
    t0 = session.timeline.times[g0] if g0 < len(session.timeline.times) else None
    for slot in session.slots:
        rates = slot.feed.rates
        j0 = int(rates["time"].searchsorted(t0)) if t0 is not None else len(rates)
        closed_before = max(j0 - 1, 0)  # bar j0-1 is fed by the pipeline at group g0
        store = slot.instance.store
        if len(store) < closed_before:
            store.extend(rates[len(store) : closed_before])
        relearn_positions(session, slot.instance)
    log.warning("recovery: resuming the replay at group %d (server time %d)", g0, t0 or 0)


def settle_journal(session: Session) -> None:
    """Resolve every journal entry whose outcome is unknown (sent, no reply recorded) by looking
    the client id up at the broker; each resolution is logged at CRITICAL."""
    executors = {id(s.instance.orders): s.instance.orders for s in session.slots}
    for executor in executors.values():
        if executor is not None:
            for entry in executor.resolve_all():
                log.critical(
                    "recovery: journal entry %s resolved: %s", entry.client_id, entry.state
                )


def relearn_positions(session: Session, instance: StrategyInstance) -> None:
    """Re-learn the positions ``instance`` holds at the broker (its symbol and magic number):
    initial stop and volume from the opening order record of any earlier run, else adopted as
    the broker shows it (CRITICAL)."""
    plan = instance.plan
    positions = session.adapter.positions(symbol=plan.symbol, magic=plan.magic)
    for pos in positions:
        if pos.ticket in instance.books.memos:
            continue
        record = session.store.opening_order(pos.ticket, plan.magic) if session.store else None
        if record is not None:
            intent = record["request"].get("intent", {})
            memo = PositionMemo(
                pos.ticket,
                pos.side,
                pos.price_open,
                float(intent.get("sl", 0.0)),
                float(intent.get("volume", pos.volume)),
                pos.time,
                math.nan,
            )
        else:
            memo = PositionMemo.from_position(pos, math.nan)
            log.critical(
                "recovery: adopted position %d of %s (magic %d) with no opening record: "
                "its current stop is taken as the initial stop",
                pos.ticket,
                plan.strategy_id,
                plan.magic,
            )
        instance.books.opened(memo)
        instance.books.volumes[pos.ticket] = pos.volume
    instance.maybe_open = bool(positions)
