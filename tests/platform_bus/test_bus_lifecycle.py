"""CommandBus: exact status sequences per path, dedupe across paths and restarts."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

from tests.platform_bus.helpers import FakeHandler, FakeSend, make_bus, open_cmd, queued, start_cmd
from trademaestro.persistence.platform_store import PlatformStore
from trademaestro.platform.bus import INTERRUPTED, CommandFailed
from trademaestro.platform.commands import CommandType

FILL = {"ticket": 1001, "price": 1912.35, "volume": 0.1, "retcode": 10009}


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_valid_command_received_executing_executed(tmp_path: Path) -> None:
    async def scenario() -> None:
        with PlatformStore(tmp_path / "p.sqlite") as store:
            handler = FakeHandler()
            bus, outbox, send = make_bus(store, handler)
            await bus.submit(json.dumps(open_cmd("c1")), "pusher")
            await bus.drain()
            assert await outbox.flush() is True
            assert send.sent == [("c1", "received", None), ("c1", "executing", None),
                                 ("c1", "executed", FILL)]
            assert [c.command_id for c in handler.handled] == ["c1"]
            record = store.get("c1")
            assert record is not None
            assert (record.status, record.result, record.sources, record.type) == (
                "executed", FILL, ["pusher"], "OPEN_POSITION")
            assert [r.state for r in store.reports()] == ["sent"] * 3

    run(scenario())


def test_start_strategy_reaches_handler_typed(tmp_path: Path) -> None:
    async def scenario() -> None:
        with PlatformStore(tmp_path / "p.sqlite") as store:
            handler = FakeHandler()
            bus, _, _ = make_bus(store, handler)
            await bus.submit(start_cmd("s1"), "heartbeat")
            await bus.drain()
            (command,) = handler.handled
            assert command.type is CommandType.START_STRATEGY
            assert command.parameters.strategy_id == "xauusd-m15-ema-cross"  # type: ignore[union-attr]
            assert queued(store, "s1") == [("received", None), ("executing", None),
                                           ("executed", {"ok": True})]

    run(scenario())


def test_invalid_command_failed_with_path_never_handled(tmp_path: Path) -> None:
    async def scenario() -> None:
        with PlatformStore(tmp_path / "p.sqlite") as store:
            handler = FakeHandler()
            bus, _, _ = make_bus(store, handler)
            await bus.submit(open_cmd("bad", volume=-0.1), "pusher")
            await bus.submit({"commandId": "bad2", "command": "FLY"}, "heartbeat")
            await bus.submit({"command": "CLOSE_ALL"}, "pusher")  # no id: dropped
            await bus.submit(b"\xff\xfe", "api")
            await bus.drain()
            assert handler.handled == []
            (q1, q2) = queued(store, "bad"), queued(store, "bad2")
            assert [s for s, _ in q1] == ["received", "failed"]
            assert q1[1][1] == {"jsonPath": "parameters.volume", "error":
                                "command bad: parameters.volume: found -0.1; allowed: a finite "
                                "number > 0"}
            assert [s for s, _ in q2] == ["received", "failed"]
            assert q2[1][1] is not None and q2[1][1]["jsonPath"] == "command"
            assert [c.command_id for c in store.commands()] == ["bad", "bad2"]
            assert store.get("bad2").type == "FLY"  # type: ignore[union-attr]

    run(scenario())


def test_handler_failures_never_kill_the_bus(tmp_path: Path) -> None:
    async def scenario() -> None:
        with PlatformStore(tmp_path / "p.sqlite") as store:
            handler = FakeHandler(errors={
                "f1": CommandFailed("market closed", {"retcode": 10018}),
                "f2": ZeroDivisionError("division by zero"),
            })
            bus, _, _ = make_bus(store, handler)
            for cid in ("f1", "f2", "ok"):
                await bus.submit(open_cmd(cid), "pusher")
            await bus.drain()
            assert queued(store, "f1") == [("received", None), ("executing", None),
                                           ("failed", {"retcode": 10018,
                                                       "error": "market closed"})]
            assert queued(store, "f2")[-1] == ("failed",
                                               {"error": "ZeroDivisionError: division by zero"})
            assert queued(store, "ok")[-1] == ("executed", FILL)

    run(scenario())


def test_duplicate_by_both_paths_executes_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        with PlatformStore(tmp_path / "p.sqlite") as store:
            handler = FakeHandler()
            bus, outbox, send = make_bus(store, handler)
            raw = open_cmd("dup")
            await bus.submit(json.dumps(raw), "pusher")
            await bus.submit(raw, "heartbeat")
            await bus.submit({"id": "dup", "type": "garbage"}, "heartbeat")  # same id, bad body
            await bus.drain()
            await outbox.flush()
            assert len(handler.handled) == 1
            assert send.statuses("dup") == ["received", "executing", "executed", "executed",
                                            "executed"]
            assert send.sent[-1] == ("dup", "executed", FILL)
            assert store.get("dup").sources == ["pusher", "heartbeat", "heartbeat"]  # type: ignore[union-attr]

    run(scenario())


def test_run_loop_processes_and_stops(tmp_path: Path) -> None:
    async def scenario() -> None:
        with PlatformStore(tmp_path / "p.sqlite") as store:
            handler = FakeHandler()
            bus, outbox, send = make_bus(store, handler)
            stop = asyncio.Event()
            for cid in ("r1", "r2", "r1"):
                await bus.submit(open_cmd(cid), "pusher")
            tasks = [asyncio.create_task(bus.run(stop)), asyncio.create_task(outbox.run(stop))]
            await bus.idle.wait()
            while store.pending_reports():
                await asyncio.sleep(0)  # yield to the outbox task (no fixed wait)
            stop.set()
            await asyncio.gather(*tasks)
            assert [c.command_id for c in handler.handled] == ["r1", "r2"]
            assert send.statuses("r1") == ["received", "executing", "executed", "executed"]
            assert send.statuses("r2") == ["received", "executing", "executed"]

    run(scenario())


def test_restart_mid_command_not_reexecuted_then_duplicate_rereported(tmp_path: Path) -> None:
    db = tmp_path / "p.sqlite"

    async def first_life() -> None:
        with PlatformStore(db) as store:
            handler = FakeHandler(entered=asyncio.Event(), block=asyncio.Event())
            bus, _, _ = make_bus(store, handler)
            stop = asyncio.Event()
            await bus.submit(open_cmd("mid"), "pusher")
            task = asyncio.create_task(bus.run(stop))
            assert handler.entered is not None
            await handler.entered.wait()
            task.cancel()  # the executor dies while the order is in flight
            with contextlib.suppress(asyncio.CancelledError):
                await task
            assert store.get("mid").status == "executing"  # type: ignore[union-attr]

    async def second_life() -> None:
        with PlatformStore(db) as store:
            handler = FakeHandler()
            bus, outbox, send = make_bus(store, handler)
            await bus.recover()
            await bus.submit(open_cmd("mid"), "heartbeat")  # the platform delivers it again
            await bus.drain()
            await outbox.flush()
            assert handler.handled == []
            interrupted = {"error": INTERRUPTED}
            # the first life's reports were never sent: all go now, in order
            assert send.sent == [("mid", "received", None), ("mid", "executing", None),
                                 ("mid", "failed", interrupted), ("mid", "failed", interrupted)]
            assert store.get("mid").sources == ["pusher", "heartbeat"]  # type: ignore[union-attr]

    run(first_life())
    run(second_life())


def test_restart_with_command_only_received_executes_it(tmp_path: Path) -> None:
    db = tmp_path / "p.sqlite"
    with PlatformStore(db) as store:  # crash between admission and `executing`
        store.admit("rcv", "OPEN_POSITION", "pusher", open_cmd("rcv"))

    async def second_life() -> None:
        with PlatformStore(db) as store:
            handler = FakeHandler()
            bus, _, _ = make_bus(store, handler)
            await bus.recover()
            await bus.recover()  # idempotent
            assert [c.command_id for c in handler.handled] == ["rcv"]
            assert queued(store, "rcv") == [("received", None), ("executing", None),
                                            ("executed", FILL)]

    run(second_life())


def test_duplicate_after_restart_rereports_recorded_status(tmp_path: Path) -> None:
    db = tmp_path / "p.sqlite"

    async def life(expect_calls: int) -> FakeSend:
        with PlatformStore(db) as store:
            handler = FakeHandler()
            bus, outbox, send = make_bus(store, handler)
            await bus.recover()
            await bus.submit(open_cmd("once"), "pusher")
            await bus.drain()
            await outbox.flush()
            assert len(handler.handled) == expect_calls
            return send

    first = asyncio.run(life(1))
    second = asyncio.run(life(0))
    assert first.statuses("once") == ["received", "executing", "executed"]
    assert second.sent == [("once", "executed", FILL)]


def test_secret_looking_keys_not_stored(tmp_path: Path) -> None:
    async def scenario() -> None:
        with PlatformStore(tmp_path / "p.sqlite") as store:
            bus, _, _ = make_bus(store, FakeHandler())
            raw = {**open_cmd("sec"), "apiSecret": "s3cr3t-value", "meta": {"X-API-Key": "k3y"}}
            await bus.submit(raw, "pusher")
            await bus.drain()
        text = b"".join(p.read_bytes() for p in tmp_path.iterdir())  # db, -wal, -shm
        assert b"1900.5" in text  # the command itself is stored...
        assert b"s3cr3t-value" not in text and b"k3y" not in text  # ...its secrets are not

    run(scenario())


def test_close_all_overtakes_a_slow_command_and_a_queue(tmp_path: Path) -> None:
    """The panic button never waits: a CLOSE_ALL runs while a slow command is still executing
    and ahead of the commands queued before it; it is admitted and reported like any other."""
    entered, release = asyncio.Event(), asyncio.Event()
    order: list[str] = []

    class SlowFirst(FakeHandler):
        async def handle(self, command):  # type: ignore[no-untyped-def]
            order.append(f"start {command.command_id}")
            if command.command_id == "slow":
                entered.set()
                await release.wait()
            order.append(f"end {command.command_id}")
            return await FakeHandler.handle(self, command)

    async def scenario() -> None:
        with PlatformStore(tmp_path / "p.sqlite") as store:
            handler = SlowFirst()
            bus, _, _ = make_bus(store, handler)
            stop = asyncio.Event()
            task = asyncio.create_task(bus.run(stop))
            await bus.submit(open_cmd("slow"), "pusher")
            await entered.wait()
            await bus.submit(open_cmd("queued"), "pusher")
            panic = {"commandId": "panic", "command": "EMERGENCY_STOP", "parameters": {}}
            await bus.submit(panic, "pusher")
            await bus.submit(json.dumps(panic), "heartbeat")  # the same command again
            while (record := store.get("panic")) is None or record.sources != [
                "pusher", "heartbeat"
            ]:
                await asyncio.sleep(0)
            assert record.status == "executed"
            assert store.get("slow").status == "executing"  # type: ignore[union-attr]
            assert store.get("queued") is None  # still waiting in the queue
            release.set()
            while store.get("queued") is None or store.get("queued").status != "executed":  # type: ignore[union-attr]
                await asyncio.sleep(0)
            stop.set()
            await task
            assert order == ["start slow", "start panic", "end panic", "end slow",
                             "start queued", "end queued"]
            assert queued(store, "panic") == [("received", None), ("executing", None),
                                              ("executed", {"ok": True}),
                                              ("executed", {"ok": True})]

    run(asyncio.wait_for(scenario(), 30))  # a lane that waits would hang: fail instead
