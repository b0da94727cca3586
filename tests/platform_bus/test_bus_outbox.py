"""Outbox: reports sent strictly in order, kept through failures and restarts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.platform_bus.helpers import FakeSend
from trademaestro.persistence.platform_store import PlatformStore, PlatformStoreError
from trademaestro.platform.outbox import Outbox

REPORTS = [("a", "received", None), ("a", "executing", None), ("b", "received", None),
           ("a", "executed", {"ticket": 5}), ("b", "failed", {"error": "x"})]


def fill(outbox: Outbox) -> None:
    for cid, status, result in REPORTS:
        outbox.enqueue(cid, status, result)


def test_flush_stops_at_first_failure_and_keeps_order(tmp_path: Path) -> None:
    async def scenario() -> None:
        with PlatformStore(tmp_path / "o.sqlite") as store:
            send = FakeSend(fail_on={3, 4})
            outbox = Outbox(store, send)
            fill(outbox)
            assert await outbox.flush() is False  # calls 1, 2 ok; 3 fails
            assert send.sent == REPORTS[:2]
            assert await outbox.flush() is False  # call 4 fails on the same report
            assert send.sent == REPORTS[:2]
            pending = store.pending_reports()
            assert [(p.command_id, p.status) for p in pending] == [
                ("b", "received"), ("a", "executed"), ("b", "failed")]
            assert (pending[0].attempts, pending[0].last_error) == (
                2, "ConnectionError: send 4 refused")
            assert [p.attempts for p in pending[1:]] == [0, 0]
            assert await outbox.flush() is True
            assert send.sent == REPORTS
            assert store.pending_reports() == []

    asyncio.run(scenario())


def test_pending_reports_survive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "o.sqlite"

    async def life(send: FakeSend) -> bool:
        with PlatformStore(db) as store:
            outbox = Outbox(store, send)
            if not store.reports():
                fill(outbox)
            return await outbox.flush()

    first = FakeSend(fail_on={2})
    assert asyncio.run(life(first)) is False
    assert first.sent == REPORTS[:1]
    second = FakeSend()
    assert asyncio.run(life(second)) is True
    assert second.sent == REPORTS[1:]  # resumed at the report that failed, in order


def test_permanent_error_drops_one_report_fatal_stops(tmp_path: Path) -> None:
    class NotFound(Exception):
        pass

    class Unauthorized(Exception):
        pass

    async def scenario() -> None:
        with PlatformStore(tmp_path / "o.sqlite") as store:
            send = FakeSend(fail_on={2}, error=NotFound)
            outbox = Outbox(store, send, is_permanent=lambda e: isinstance(e, NotFound),
                            is_fatal=lambda e: isinstance(e, Unauthorized))
            fill(outbox)
            assert await outbox.flush() is True
            assert send.sent == [REPORTS[0], *REPORTS[2:]]
            assert [r.state for r in store.reports()] == ["sent", "dropped", "sent", "sent",
                                                         "sent"]
            send.fail_on, send.error = {send.calls + 1}, Unauthorized
            outbox.enqueue("c", "received")
            stop = asyncio.Event()
            await outbox.run(stop)  # returns by itself on the fatal error
            assert isinstance(outbox.fatal, Unauthorized)
            assert await outbox.flush() is False  # stays stopped
            assert [(p.command_id, p.attempts) for p in store.pending_reports()] == [("c", 1)]

    asyncio.run(scenario())


def test_run_retries_with_backoff_until_sent(tmp_path: Path) -> None:
    async def scenario() -> None:
        with PlatformStore(tmp_path / "o.sqlite") as store:
            send = FakeSend(fail_on={1, 2, 3})
            outbox = Outbox(store, send, backoff=(0.0, 0.0))
            fill(outbox)
            stop = asyncio.Event()
            task = asyncio.create_task(outbox.run(stop))
            while store.pending_reports():
                await asyncio.sleep(0)
            stop.set()
            await task
            assert send.sent == REPORTS
            assert store.reports()[0].attempts == 4

    asyncio.run(scenario())


def test_backoff_delays_double_up_to_the_cap(tmp_path: Path) -> None:
    with PlatformStore(tmp_path / "o.sqlite") as store:
        outbox = Outbox(store, FakeSend(), backoff=(0.5, 3.0))
        delays = []
        for failures in range(6):
            outbox.failures = failures
            delays.append(outbox.delay())
        assert delays == [0.0, 0.5, 1.0, 2.0, 3.0, 3.0]
        with pytest.raises(ValueError, match="backoff"):
            Outbox(store, FakeSend(), backoff=(2.0, 1.0))
        with pytest.raises(PlatformStoreError, match="report status 'done'"):
            outbox.enqueue("a", "done")


def test_store_refuses_bad_transitions(tmp_path: Path) -> None:
    with PlatformStore(tmp_path / "o.sqlite") as store:
        with pytest.raises(PlatformStoreError, match="no such command id"):
            store.transition("nope", "executing")
        store.admit("a", "CLOSE_ALL", "pusher", {"id": "a"})
        with pytest.raises(PlatformStoreError, match="found status received; allowed from: "
                                                     "executing"):
            store.transition("a", "executed", {})
        store.transition("a", "failed", {"error": "x"})
        with pytest.raises(PlatformStoreError, match="found status failed"):
            store.transition("a", "executing")
        assert [r.status for r in store.reports()] == ["received", "failed"]


def test_commands_given_on_the_machine_are_not_reported_to_the_platform(tmp_path: Path) -> None:
    """A ``cli`` or ``api`` command has an id the platform never sent (it would answer 404):
    its statuses are recorded, not reported — until a platform path delivers the same id."""
    with PlatformStore(tmp_path / "o.sqlite") as store:
        for source in ("cli", "api"):
            store.admit(source, "CLOSE_ALL", source, {"id": source})
            store.transition(source, "executing")
            store.transition(source, "executed", {"tickets": []})
            assert store.get(source).status == "executed"  # type: ignore[union-attr]
        assert store.reports() == []
        store.admit("cli", "CLOSE_ALL", "heartbeat", {"id": "cli"})  # the platform knows it
        assert [(r.command_id, r.status, r.result) for r in store.reports()] == [
            ("cli", "executed", {"tickets": []})
        ]
