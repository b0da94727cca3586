"""The watchdog: stall detection on an injected clock, one restart per stall, StageTask."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from trademaestro.core.errors import ConfigError
from trademaestro.runtime.watchdog import StageTask, Watchdog


class FakeClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Restarts:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self) -> None:
        self.calls.append(CLOCK.now)


CLOCK = FakeClock()


@pytest.fixture(autouse=True)
def reset_clock() -> None:
    CLOCK.now = 0.0


def check(dog: Watchdog) -> list[str]:
    return asyncio.run(dog.check())


def test_stage_that_stops_beating_is_restarted_once_per_stall(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dog = Watchdog({"evaluate": 10.0, "feed": 30.0}, clock=CLOCK)
    restart = Restarts()
    dog.register("evaluate", restart)
    dog.set_busy("evaluate", True)
    for t in (1.0, 2.0, 3.0, 4.0, 5.0):  # a healthy stage beats
        CLOCK.now = t
        dog.beat("evaluate")
        assert check(dog) == []
    CLOCK.now = 14.999  # ... then stops beating at t=5
    assert check(dog) == []
    CLOCK.now = 15.0
    with caplog.at_level(logging.INFO, logger="trademaestro.watchdog"):
        assert check(dog) == ["evaluate"]
        CLOCK.now = 16.0
        assert check(dog) == []  # the same stall: no second restart
        CLOCK.now = 24.9
        assert check(dog) == []
    assert restart.calls == [15.0]
    assert dog.restarts == {"evaluate": 1, "feed": 0}
    stalled = [r for r in caplog.records if r.event == "stage_stalled"]  # type: ignore[attr-defined]
    assert len(stalled) == 1
    assert stalled[0].levelno == logging.ERROR
    fields = json.loads(stalled[0].getMessage().split(" ", 1)[1])
    assert fields == {
        "stage": "evaluate",
        "stalled_for_s": 10.0,
        "deadline_s": 10.0,
        "restart": True,
        "restarts": 0,
    }


def test_still_stuck_a_deadline_after_the_restart_is_a_new_stall() -> None:
    dog = Watchdog({"execute": 10.0}, clock=CLOCK)
    restart = Restarts()
    dog.register("execute", restart)
    dog.set_busy("execute", True)
    for t in (10.0, 15.0, 20.0, 25.0, 30.0):
        CLOCK.now = t
        check(dog)
    assert restart.calls == [10.0, 20.0, 30.0]
    CLOCK.now = 31.0
    dog.beat("execute")  # the restarted stage works again
    CLOCK.now = 40.9
    assert check(dog) == []
    assert dog.stats()["execute"] == {
        "busy": True,
        "idle_for_s": 9.9,
        "stalls": 3,
        "restarts": 3,
        "restart_failures": 0,
    }


def test_idle_stage_never_stalls_and_new_work_gets_a_full_deadline() -> None:
    dog = Watchdog({"feed": 5.0}, clock=CLOCK)
    restart = Restarts()
    dog.register("feed", restart)
    CLOCK.now = 100.0  # idle for 100 s: not a stall
    assert check(dog) == []
    dog.set_busy("feed", True)
    CLOCK.now = 104.9
    assert check(dog) == []
    dog.set_busy("feed", True)  # still busy: does not move the deadline
    CLOCK.now = 105.0
    assert check(dog) == ["feed"]
    assert restart.calls == [105.0]


def test_working_context_marks_busy_then_beats_and_idles() -> None:
    dog = Watchdog({"evaluate": 5.0}, clock=CLOCK)
    with dog.working("evaluate"):
        CLOCK.now = 5.0
        assert [s for s, _ in dog.stalled()] == ["evaluate"]
    assert dog.stats()["evaluate"]["busy"] is False
    CLOCK.now = 50.0
    assert dog.stalled() == []


def test_stall_without_restart_callback_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    dog = Watchdog({"feed": 1.0}, clock=CLOCK)
    dog.set_busy("feed", True)
    CLOCK.now = 2.5
    with caplog.at_level(logging.ERROR, logger="trademaestro.watchdog"):
        assert check(dog) == ["feed"]
    assert '"stalled_for_s": 2.5' in caplog.text
    assert '"restart": false' in caplog.text
    assert dog.restarts == {"feed": 0}


def test_async_restart_is_awaited() -> None:
    done: list[str] = []

    async def restart() -> None:
        await asyncio.sleep(0)
        done.append("restarted")

    dog = Watchdog({"feed": 1.0}, clock=CLOCK)
    dog.register("feed", restart)
    dog.set_busy("feed", True)
    CLOCK.now = 1.0
    check(dog)
    assert done == ["restarted"]
    assert dog.restarts == {"feed": 1}


def test_failing_restart_is_logged_and_other_stages_still_restart(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> None:
        raise RuntimeError("cannot rebuild the stage")

    dog = Watchdog({"a": 1.0, "b": 1.0}, clock=CLOCK)
    ok = Restarts()
    dog.register("a", broken)
    dog.register("b", ok)
    dog.set_busy("a", True)
    dog.set_busy("b", True)
    CLOCK.now = 1.0
    with caplog.at_level(logging.ERROR, logger="trademaestro.watchdog"):
        assert check(dog) == ["a", "b"]
    assert ok.calls == [1.0]
    assert dog.restarts == {"a": 0, "b": 1}
    assert dog.stats()["a"]["restart_failures"] == 1
    assert "restart of stage 'a' failed: cannot rebuild the stage" in caplog.text


def test_repeated_stalls_escalate_once(caplog: pytest.LogCaptureFixture) -> None:
    alerts: list[str] = []
    dog = Watchdog({"execute": 2.0}, clock=CLOCK, alert=alerts.append, escalate_after=3)
    dog.register("execute", Restarts())
    dog.set_busy("execute", True)
    with caplog.at_level(logging.CRITICAL, logger="trademaestro.watchdog"):
        for t in (2.0, 4.0, 6.0, 8.0, 10.0):
            CLOCK.now = t
            check(dog)
    assert dog.restarts == {"execute": 5}
    assert alerts == ["stage 'execute' restarted 3 times in a row without progress (deadline 2 s)"]
    assert len(caplog.records) == 1
    dog.beat("execute")  # progress resets the streak: the next streak alerts again
    for t in (12.0, 14.0, 16.0):
        CLOCK.now = t
        check(dog)
    assert len(alerts) == 2


def test_unknown_stage_and_bad_configuration_are_clear_errors() -> None:
    dog = Watchdog({"feed": 1.0, "evaluate": 2.0}, clock=CLOCK)
    with pytest.raises(ConfigError, match="found 'fed'; allowed: one of evaluate, feed"):
        dog.beat("fed")
    with pytest.raises(ConfigError, match="found 'x'"):
        dog.register("x", Restarts())
    with pytest.raises(ConfigError, match="deadline of stage 'feed': found 0"):
        Watchdog({"feed": 0.0})
    with pytest.raises(ConfigError, match="found none"):
        Watchdog({})
    with pytest.raises(ConfigError, match="check interval: found -1"):
        Watchdog({"feed": 1.0}, check_interval=-1)
    assert Watchdog({"feed": 8.0, "evaluate": 2.0}).check_interval == pytest.approx(0.5)


def test_run_checks_every_interval_on_injected_sleep() -> None:
    restart = Restarts()
    dog: Watchdog
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) > 12:
            raise asyncio.CancelledError
        CLOCK.now += seconds
        if CLOCK.now <= 3.0:
            dog.beat("evaluate")  # progress until t=3, then the stage hangs

    dog = Watchdog({"evaluate": 4.0}, clock=CLOCK, sleep=sleep, check_interval=1.0)
    dog.register("evaluate", restart)
    dog.set_busy("evaluate", True)
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(dog.run())
    assert sleeps == [1.0] * 13
    assert restart.calls == [7.0, 11.0]  # stalled at 3 + 4, then again 4 s after the restart


def test_stage_task_restart_cancels_and_recreates_the_task() -> None:
    async def scenario() -> tuple[int, bool, bool, list[str]]:
        events: list[str] = []
        hang = asyncio.Event()

        async def stage() -> None:
            events.append("started")
            try:
                await hang.wait()  # stuck on a reply that never comes
            except asyncio.CancelledError:
                events.append("cancelled")
                raise

        slot = StageTask("evaluate", stage)
        first = slot.start()
        assert slot.start() is first
        await asyncio.sleep(0)
        dog = Watchdog({"evaluate": 3.0}, clock=CLOCK)
        dog.register("evaluate", slot.restart)
        dog.set_busy("evaluate", True)
        CLOCK.now = 3.0
        assert await dog.check() == ["evaluate"]
        second = slot.task
        await asyncio.sleep(0)
        await slot.stop()
        assert second is not None
        return slot.starts, first.cancelled(), second.cancelled(), events

    starts, first_cancelled, second_cancelled, events = asyncio.run(scenario())
    assert (starts, first_cancelled, second_cancelled) == (2, True, True)
    assert events == ["started", "cancelled", "started", "cancelled"]


def test_stage_task_restart_after_the_task_died() -> None:
    async def scenario() -> int:
        async def stage() -> None:
            raise RuntimeError("crashed")

        slot = StageTask("feed", stage)
        task = slot.start()
        with pytest.raises(RuntimeError):
            await task
        await slot.restart()
        assert slot.task is not None
        with pytest.raises(RuntimeError):
            await slot.task
        return slot.starts

    assert asyncio.run(scenario()) == 2


def test_watchdog_start_stop_on_a_real_loop() -> None:
    async def scenario() -> bool:
        dog = Watchdog({"feed": 3600.0})
        task = dog.start()
        assert dog.start() is task
        await asyncio.sleep(0)
        await dog.stop()
        return task.cancelled()

    assert asyncio.run(scenario()) is True
