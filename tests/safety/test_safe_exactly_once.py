"""Exactly-once orders on real XAUUSD M15 bars in the emulator: lost replies, IPC timeouts,
crashes between journal write and send and between fill and reply, lagging history. The
invariant in every test: one intent, at most one execution at the broker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from trademaestro.brokers.emulator.faults import Disconnect, IpcTimeout, LostReply, Retcode
from trademaestro.data.loaders import LoadedBars
from trademaestro.execution.intents import CloseIntent, ModifyIntent
from trademaestro.execution.safety import LookupConfig
from trademaestro.persistence.journal import JournalState

from .conftest import BAR, MAGIC, SYMBOL, Env, ask_of, make_env

CID = "t1.s9x.o0"


def ours(env: Env, cid: str = CID) -> list[Any]:
    return [p for p in env.broker_positions() if p.comment == f"tm {cid}"]


def test_safe_open_journals_done_and_is_never_sent_twice(env: Env) -> None:
    intent = env.open_intent()
    outcome = env.executor.open(intent)
    (pos,) = ours(env)
    assert outcome.ok and outcome.order == pos.ticket and outcome.extra["state"] == "done"
    entry = env.journal.get(CID)
    assert entry is not None and entry.state is JournalState.DONE and entry.sends == 1
    assert (entry.order_ticket, entry.position_ticket, entry.price) == (
        pos.ticket, pos.ticket, ask_of(env.bars, BAR))
    assert entry.server_time == int(env.bars.rates[BAR]["time"])
    assert entry.request is not None and entry.request["comment"] == f"tm {CID}"
    again = env.executor.open(intent)
    assert again.ok and again.order == pos.ticket and again.extra["journal"] == "replayed"
    assert env.plan.calls("order_send") == 1 and len(env.broker_positions()) == 1


def test_safe_lost_reply_resolved_done_one_position(env: Env) -> None:
    """The order is filled and the reply lost: resolved by look-up, never re-sent."""
    env.plan.add("order_send", LostReply())
    outcome = env.executor.open(env.open_intent())
    (pos,) = env.broker_positions()
    assert outcome.ok and outcome.extra["journal"] == "resolved"
    assert outcome.order == pos.ticket and outcome.retcode == 10009
    assert outcome.price == pos.price_open == 2206.89 and outcome.volume == 0.1
    entry = env.journal.get(CID)
    assert entry is not None and entry.state is JournalState.DONE and entry.sends == 1
    assert entry.resolution == "found: history deals" and entry.position_ticket == pos.ticket
    assert entry.deal_ticket is not None and entry.deal_ticket > 0
    assert env.plan.calls("order_send") == 1 and env.sleeps == []
    env.executor.open(env.open_intent())  # the strategy retries the same decision
    assert env.plan.calls("order_send") == 1 and len(env.broker_positions()) == 1


def test_safe_ipc_timeout_not_executed_then_sent_once(env: Env) -> None:
    """The order never reached the terminal: two look-ups (2 s apart) find nothing, then the
    same intent is sent again under the same client id."""
    env.plan.add("order_send", IpcTimeout())
    outcome = env.executor.open(env.open_intent())
    assert outcome.ok and outcome.extra["state"] == "done"
    assert env.plan.calls("order_send") == 2 and len(ours(env)) == 1
    assert env.sleeps == [2.0]  # the settle delay between the two look-ups
    entry = env.journal.get(CID)
    assert entry is not None and entry.state is JournalState.DONE and entry.sends == 2
    assert env.plan.calls("history_deals_get") == 2


def test_safe_crash_between_journal_write_and_send(env: Env) -> None:
    """A previous process journalled the intent (PENDING) and died before sending."""
    intent = env.open_intent()
    env.journal.record_intent(client_id=CID, strategy_id=intent.strategy_id, magic=MAGIC,
                              symbol=SYMBOL, action="open", reason="entry", intent={},
                              server_time=int(env.bars.rates[BAR]["time"]))
    outcome = env.executor.open(intent)
    assert outcome.ok and len(ours(env)) == 1 and env.plan.calls("order_send") == 1
    entry = env.journal.get(CID)
    assert entry is not None and entry.state is JournalState.DONE and entry.sends == 1


def test_safe_crash_between_fill_and_reply(env: Env) -> None:
    """A previous process sent (SENT) and died before the reply: the order was filled."""
    intent = env.open_intent()
    env.journal.record_intent(client_id=CID, strategy_id=intent.strategy_id, magic=MAGIC,
                              symbol=SYMBOL, action="open", reason="entry", intent={},
                              server_time=int(env.bars.rates[BAR]["time"]))
    env.journal.mark_sent(CID)
    assert env.adapter.open_market(intent).ok  # what the dead process had sent
    sends = env.plan.calls("order_send")
    (resolved,) = env.executor.resolve_all()  # start-up: recovery mode
    assert resolved.state is JournalState.DONE and resolved.resolution == "found: history deals"
    outcome = env.executor.open(intent)
    assert outcome.ok and outcome.extra["journal"] == "replayed"
    assert env.plan.calls("order_send") == sends and len(ours(env)) == 1


def test_safe_lookup_failure_leaves_unknown_and_sends_nothing(env: Env) -> None:
    env.plan.add("order_send", LostReply())
    env.plan.add("history_deals_get", Disconnect(), times=None)
    outcome = env.executor.open(env.open_intent())
    assert not outcome.ok and outcome.extra["disposition"] == "unknown_outcome"
    entry = env.journal.get(CID)
    assert entry is not None and entry.state is JournalState.UNKNOWN
    assert env.plan.calls("order_send") == 1 and len(env.broker_positions()) == 1
    again = env.executor.open(env.open_intent())  # still unknown: not re-sent
    assert again.extra["journal"] == "unresolved" and env.plan.calls("order_send") == 1
    env.plan.clear()
    env.now[0] += 60.0  # the breaker opened meanwhile; it half-opens after 60 s
    (resolved,) = env.executor.resolve_all()
    assert resolved.state is JournalState.DONE and len(env.broker_positions()) == 1


def test_safe_lagging_history_found_on_the_second_look(xau: LoadedBars,
                                                       tmp_path: Path) -> None:
    """The broker's lists lag: the first look sees nothing, the look after the settle delay
    finds the fill."""
    env = make_env(xau, tmp_path, lookup=LookupConfig(looks=3, settle_delay=1.5))
    hidden = {"on": False}
    real = env.emu.history_deals_get, env.emu.history_orders_get, env.emu.positions_get

    def lag(fn: Any) -> Any:
        return lambda *a, **k: () if hidden["on"] else fn(*a, **k)

    env.emu.history_deals_get, env.emu.history_orders_get, env.emu.positions_get = (
        lag(f) for f in real)
    env.on_sleep.append(lambda _s: hidden.update(on=False))
    env.plan.add("order_send", LostReply())
    hidden["on"] = True
    send = env.adapter.mt5.order_send

    def lagged_send(request: Any) -> Any:
        result = send(request)
        hidden["on"] = True
        return result

    env.emu.order_send = lagged_send  # type: ignore[method-assign]
    outcome = env.executor.open(env.open_intent())
    assert outcome.ok and env.sleeps == [1.5] and len(env.broker_positions()) == 1
    entry = env.journal.get(CID)
    assert entry is not None and entry.sends == 1 and entry.state is JournalState.DONE


def test_safe_permanent_rejection_is_final(env: Env) -> None:
    env.plan.add("order_send", Retcode(10016))
    outcome = env.executor.open(env.open_intent())
    assert not outcome.ok and outcome.retcode == 10016
    entry = env.journal.get(CID)
    assert entry is not None and entry.state is JournalState.REJECTED and entry.retcode == 10016
    replay = env.executor.open(env.open_intent())
    assert replay.retcode == 10016 and replay.extra["journal"] == "replayed"
    assert env.plan.calls("order_send") == 1 and env.broker_positions() == []


def test_safe_partial_close_lost_reply_closes_once(env: Env) -> None:
    env.executor.open(env.open_intent(volume=0.2))
    (pos,) = env.broker_positions()
    close = CloseIntent(strategy_id="gold-ema", symbol=SYMBOL, ticket=pos.ticket, side="buy",
                        volume=0.1, magic=MAGIC, client_id="t1.s9x.p0", reason="partial")
    env.plan.add("order_send", LostReply())
    outcome = env.executor.close(close)
    assert outcome.ok and outcome.extra["journal"] == "resolved"
    (left,) = env.broker_positions()
    assert left.ticket == pos.ticket and left.volume == pytest.approx(0.1, abs=1e-9)
    assert env.executor.close(close).extra["journal"] == "replayed"
    (left,) = env.broker_positions()
    assert left.volume == pytest.approx(0.1, abs=1e-9)
    entry = env.journal.get("t1.s9x.p0")
    assert entry is not None and entry.position_ticket == pos.ticket
    assert entry.volume == pytest.approx(0.1, abs=1e-9) and entry.price == 2206.84  # the bid


def test_safe_modify_lost_reply_resolved_by_levels(env: Env) -> None:
    env.executor.open(env.open_intent())
    (pos,) = env.broker_positions()
    modify = ModifyIntent(strategy_id="gold-ema", symbol=SYMBOL, ticket=pos.ticket,
                          sl=2203.0, tp=2215.0, magic=MAGIC, client_id="t1.s9x.m0")
    env.plan.add("order_send", LostReply())
    outcome = env.executor.modify(modify)
    assert outcome.ok and outcome.extra["journal"] == "resolved"
    entry = env.journal.get("t1.s9x.m0")
    assert entry is not None and entry.resolution == "found: position levels"
    (pos,) = env.broker_positions()
    assert (pos.sl, pos.tp) == (2203.0, 2215.0) and env.plan.calls("order_send") == 2
