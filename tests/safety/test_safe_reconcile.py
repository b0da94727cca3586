"""Reconciliation on real XAUUSD M15 bars in the emulator: the broker is the truth."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from trademaestro.brokers.emulator.faults import GhostPosition
from trademaestro.execution.intents import CloseIntent, ModifyIntent
from trademaestro.execution.safety import LocalPosition, MemoryBook, StoreBook, reconcile
from trademaestro.persistence import Store
from trademaestro.persistence.journal import JournalState

from .conftest import BAR, MAGIC, SYMBOL, Env

BAR_TIME = 1711009800  # bar 100 of XAUUSD_M15.csv


def local_of(p: Any, strategy: str = "gold-ema") -> LocalPosition:
    """The local record of an emulator ledger position."""
    return LocalPosition(p.ticket, p.symbol, "buy" if p.is_buy else "sell", p.volume, p.sl,
                         p.tp, p.magic, strategy)


def close_intent(ticket: int, cid: str = "t1.s9x.x0") -> CloseIntent:
    return CloseIntent(strategy_id="gold-ema", symbol=SYMBOL, ticket=ticket, side="buy",
                       volume=0.1, magic=MAGIC, client_id=cid, reason="signal")


def test_safe_reconcile_clean(env: Env) -> None:
    env.executor.open(env.open_intent())
    book = MemoryBook()
    book.add(local_of(env.broker_positions()[0]))
    report = reconcile(env.safe, env.journal, book, {MAGIC: "gold-ema"})
    assert report.clean and report.broker_positions == report.local_positions == 1


def test_safe_reconcile_adopts_a_journalled_orphan(env: Env,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A crash after the fill and before any local record: the journal says SENT, the broker
    has the position; reconciliation resolves the journal and adopts the position."""
    intent = env.open_intent()
    env.journal.record_intent(client_id=intent.client_id, strategy_id="gold-ema", magic=MAGIC,
                              symbol=SYMBOL, action="open", reason="entry", intent={},
                              server_time=BAR_TIME)
    env.journal.mark_sent(intent.client_id)
    env.adapter.open_market(intent)
    (pos,) = env.broker_positions()
    book = MemoryBook()
    with caplog.at_level(logging.CRITICAL, logger="trademaestro.safety.reconcile"):
        report = reconcile(env.safe, env.journal, book, [MAGIC])
    assert report.kinds() == ["journal_resolved", "adopted"]
    assert report.resolved[0].state is JournalState.DONE
    assert [p.ticket for p in book.open_positions()] == [pos.ticket]
    assert book.open_positions()[0].strategy_id == "gold-ema"
    assert len([r for r in caplog.records if r.levelno == logging.CRITICAL]) == 2
    assert "adopted for gold-ema" in caplog.text
    assert reconcile(env.safe, env.journal, book, [MAGIC]).clean


def test_safe_reconcile_reports_unknown_client_ids(env: Env) -> None:
    stranger = env.open_intent("zz.manual.o9")
    env.adapter.open_market(stranger)
    env.adapter.open_market(replace(env.open_intent("t2.s9x.o0"), magic=7))
    book = MemoryBook()
    report = reconcile(env.safe, env.journal, book, {MAGIC: "gold-ema"})
    assert report.kinds() == ["orphan"]  # magic 7 is not ours: ignored
    assert report.discrepancies[0].client_id == "zz.manual.o9"
    assert not report.discrepancies[0].changed and book.open_positions() == []
    adopted = reconcile(env.safe, env.journal, book, {MAGIC: "gold-ema"}, adopt_unknown=True)
    assert adopted.discrepancies[0].changed
    assert [p.strategy_id for p in book.open_positions()] == ["gold-ema"]


def test_safe_reconcile_closes_locally_what_the_broker_closed(env: Env) -> None:
    env.executor.open(env.open_intent())
    (pos,) = env.broker_positions()
    book = MemoryBook()
    book.add(local_of(pos))
    env.advance()
    assert env.adapter.close_position(close_intent(pos.ticket)).ok  # bar 101: close at its bid
    report = reconcile(env.safe, env.journal, book, [MAGIC])
    assert report.kinds() == ["closed_at_broker"]
    assert book.status(pos.ticket) == "closed"
    assert book.close_time(pos.ticket) == BAR_TIME + 900
    assert "price 2206.25" in report.discrepancies[0].detail  # bar 101 open (bid)
    assert report.discrepancies[0].client_id == "t1.s9x.x0"


def test_safe_reconcile_ghost_position_second_pass(env: Env) -> None:
    """The broker still lists a closed position for 900 s: the first pass sees it open and
    changes nothing; the pass after the ghost expired closes it locally."""
    env.plan.add("positions_get", GhostPosition(seconds=900), times=None)
    env.executor.open(env.open_intent())
    (pos,) = env.broker_positions()
    book = MemoryBook()
    book.add(local_of(pos))
    assert env.adapter.close_position(close_intent(pos.ticket)).ok  # closed at BAR_TIME
    first = reconcile(env.safe, env.journal, book, [MAGIC])
    assert first.clean and book.status(pos.ticket) == "open"
    assert first.broker_positions == 1 and env.broker_positions() == []
    env.advance()  # server time BAR_TIME + 900: the ghost is gone
    second = reconcile(env.safe, env.journal, book, [MAGIC])
    assert second.kinds() == ["closed_at_broker"] and second.broker_positions == 0
    assert book.status(pos.ticket) == "closed" and book.close_time(pos.ticket) == BAR_TIME


def test_safe_reconcile_takes_levels_and_volume_from_the_broker(env: Env) -> None:
    env.executor.open(env.open_intent(volume=0.2))
    (pos,) = env.broker_positions()
    book = MemoryBook()
    book.add(local_of(pos))
    env.adapter.modify_sltp(ModifyIntent(strategy_id="gold-ema", symbol=SYMBOL,
                                         ticket=pos.ticket, sl=2204.0, tp=2214.0, magic=MAGIC,
                                         client_id="t1.s9x.m0"))
    env.adapter.close_position(close_intent(pos.ticket))  # 0.1 of 0.2 lots
    report = reconcile(env.safe, env.journal, book, [MAGIC])
    assert report.kinds() == ["updated"]
    assert report.discrepancies[0].detail == (
        "volume 0.2 -> 0.1; sl 2201.89 -> 2204.0; tp 2216.89 -> 2214.0: taken from the broker")
    (mine,) = book.open_positions()
    assert (mine.volume, mine.sl, mine.tp) == (0.1, 2204.0, 2214.0)


def test_safe_reconcile_missing_without_history_is_left_open(env: Env) -> None:
    book = MemoryBook()
    book.add(LocalPosition(999, SYMBOL, "buy", 0.1, 0.0, 0.0, MAGIC, "gold-ema"))
    report = reconcile(env.safe, env.journal, book, [MAGIC])
    assert report.kinds() == ["missing_at_broker"] and book.status(999) == "open"


def test_safe_reconcile_with_the_run_store(env: Env, tmp_path: Path) -> None:
    env.executor.open(env.open_intent())
    (pos,) = env.broker_positions()
    with Store(tmp_path / "run.sqlite") as store:
        run_id = store.begin_run(
            mode="paper", strategy_id="gold-ema", strategy_name="Gold EMA", strategy_json="{}",
            symbol=SYMBOL, timeframe="M15", data_path="XAUUSD_M15.csv", bars=47165,
            data_from=1710916200, data_to=BAR_TIME, initial_balance=10_000.0, currency="USD",
            options={})
        store.upsert_position(run_id, ticket=pos.ticket, symbol=SYMBOL, side="buy", volume=0.1,
                              open_time=BAR_TIME, open_price=2206.89, sl=pos.sl, tp=pos.tp,
                              magic=MAGIC, strategy_id="gold-ema", status="open")
        env.advance()
        env.adapter.close_position(close_intent(pos.ticket))
        report = reconcile(env.safe, env.journal, StoreBook(store, run_id), [MAGIC])
        assert report.kinds() == ["closed_at_broker"]
        (row,) = store.load_positions(run_id)
        assert (row["status"], row["close_time"]) == ("closed", BAR_TIME + 900)
    assert BAR == 100
