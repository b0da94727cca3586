"""The order journal: one row per client id, committed transitions, the transition graph."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trademaestro.persistence import Store
from trademaestro.persistence.journal import JournalError, JournalState, OrderJournal

INTENT = {"strategy_id": "gold-ema", "symbol": "XAUUSD", "side": "buy", "volume": 0.1}
ALLOWED = {  # target -> sources (the module docstring's graph)
    "sent": {"pending", "not_executed"},
    "done": {"pending", "sent", "unknown"},
    "rejected": {"sent"},
    "unknown": {"pending", "sent", "unknown"},
    "not_executed": {"pending", "sent", "unknown"},
}


def journal_at(path: Path, scope: str = "acct", clock: list[float] | None = None) -> OrderJournal:
    ticks = clock if clock is not None else [1_700_000_000.0]
    return OrderJournal(path, scope=scope, now=lambda: ticks[0])


def record(journal: OrderJournal, cid: str = "g.s9x.o0", server_time: int | None = 1711009800):
    return journal.record_intent(client_id=cid, strategy_id="gold-ema", magic=4242,
                                 symbol="XAUUSD", action="open", reason="entry",
                                 intent=INTENT, server_time=server_time)


def test_safe_journal_lifecycle(tmp_path: Path) -> None:
    clock = [1_700_000_000.0]
    journal = journal_at(tmp_path / "j.sqlite", clock=clock)
    entry, created = record(journal)
    assert created and entry.state is JournalState.PENDING and entry.sends == 0
    assert entry.intent == INTENT and entry.server_time == 1711009800
    assert entry.created_at == entry.updated_at == 1_700_000_000.0
    clock[0] += 5
    sent = journal.mark_sent("g.s9x.o0", {"action": 1, "price": 2206.89})
    assert sent.state is JournalState.SENT and sent.sends == 1
    assert sent.request == {"action": 1, "price": 2206.89} and sent.updated_at == clock[0]
    done = journal.mark_done("g.s9x.o0", order_ticket=1000002, deal_ticket=500002,
                             position_ticket=1000002, volume=0.1, price=2206.89,
                             retcode=10009, comment="Request executed")
    assert (done.state, done.order_ticket, done.deal_ticket, done.position_ticket) == (
        JournalState.DONE, 1000002, 500002, 1000002)
    assert journal.unresolved() == []
    again, created = record(journal)  # the same client id: never a second row
    assert not created and again == done
    assert len(journal.entries()) == 1


def test_safe_journal_survives_reopen_and_shares_the_run_database(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    with Store(path):
        pass  # the run database creates the journal table too
    first = journal_at(path)
    record(first)
    first.mark_sent("g.s9x.o0")
    first.close()
    second = journal_at(path)
    (entry,) = second.unresolved()
    assert entry.state is JournalState.SENT and entry.sends == 1
    other = journal_at(path, scope="backtest-run-7")
    assert other.get("g.s9x.o0") is None and record(other)[1] is True


def test_safe_journal_refuses_bad_transitions(tmp_path: Path) -> None:
    journal = journal_at(tmp_path / "j.sqlite")
    record(journal)
    with pytest.raises(JournalError, match=r"g\.s9x\.o0 \(scope 'acct'\): cannot move to "
                                           r"rejected: found state pending; allowed from: sent"):
        journal.mark_rejected("g.s9x.o0", retcode=10016, comment="Invalid stops")
    with pytest.raises(JournalError, match="found no such client id"):
        journal.mark_sent("nope")
    with pytest.raises(JournalError, match="action 'buy'"):
        journal.record_intent(client_id="x", strategy_id="s", magic=1, symbol="XAUUSD",
                              action="buy", reason="r", intent={}, server_time=None)
    with pytest.raises(JournalError, match="scope"):
        OrderJournal(tmp_path / "j.sqlite", scope="")


_MOVES = ["sent", "done", "rejected", "unknown", "not_executed"]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(_MOVES), max_size=12))
def test_safe_journal_follows_the_transition_graph(tmp_path: Path, moves: list[str]) -> None:
    """Any sequence of requested moves: an allowed one changes the state, a refused one raises
    and changes nothing; DONE and REJECTED are final; ``sends`` counts the SENT moves."""
    journal = journal_at(tmp_path / f"{next(_ids)}.sqlite")
    record(journal)
    state, sends = "pending", 0
    for move in moves:
        call = {
            "sent": lambda: journal.mark_sent("g.s9x.o0"),
            "done": lambda: journal.mark_done("g.s9x.o0", order_ticket=1, deal_ticket=2,
                                              position_ticket=1, volume=0.1, price=1.0,
                                              retcode=10009),
            "rejected": lambda: journal.mark_rejected("g.s9x.o0", retcode=10016, comment="x"),
            "unknown": lambda: journal.mark_unknown("g.s9x.o0", error="lost"),
            "not_executed": lambda: journal.mark_not_executed("g.s9x.o0", resolution="absent"),
        }[move]
        if state in ALLOWED[move]:
            entry = call()
            state, sends = move, sends + (move == "sent")
        else:
            with pytest.raises(JournalError):
                call()
            entry = journal.get("g.s9x.o0")
            assert entry is not None
        assert entry.state.value == state and entry.sends == sends
    journal.close()


_ids = itertools.count()
