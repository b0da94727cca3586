"""Stopping a strategy waits for the account's turn: a bar of that strategy still in flight in the
act stages (an entry about to be sent) finishes first, and no bar of it starts afterwards — so a
strategy stopped with its positions closed cannot open one right after the close."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from trademaestro.runtime.actstages import STAGES, ActStages
from trademaestro.runtime.host import StrategyHost
from trademaestro.runtime.stages import StagePolicy


def _host(events: list[str]) -> tuple[StrategyHost, ActStages, Any]:
    instance = SimpleNamespace(
        plan=SimpleNamespace(strategy_id="s1", magic=7),
        adapter=SimpleNamespace(quote=lambda symbol: SimpleNamespace(time=1_700_000_000)),
        close_all=lambda reason, time: events.append(f"close_all {reason}") or [101, 102],
    )
    slot = SimpleNamespace(instance=instance, symbol="XAUUSD", strategy=None, source="cli")
    session = SimpleNamespace(slots=[slot], store=None)
    acts = ActStages(StagePolicy(STAGES), threaded=False)
    pipeline = SimpleNamespace(
        acts=acts, remove_slot=lambda s: events.append("remove_slot")
    )
    factory = SimpleNamespace(release=lambda source: events.append("release"))
    host = StrategyHost(session, pipeline, factory, warmup_bars=10)  # type: ignore[arg-type]
    return host, acts, session


def test_stop_with_close_waits_for_the_unit_in_flight() -> None:
    events: list[str] = []
    host, acts, session = _host(events)

    async def scenario() -> dict[str, Any]:
        await acts.turn.acquire()  # a bar of s1 is between its gate and its execute
        stopping = asyncio.create_task(host.stop("s1", close_positions=True))
        for _ in range(20):
            await asyncio.sleep(0)
        assert events == []  # nothing closed, nothing removed while the unit is in flight
        assert "s1" in host.strategies
        events.append("unit finished")
        acts.turn.release()
        result = await stopping
        assert not acts.turn.locked()  # the turn is given back
        return result

    result = asyncio.run(scenario())
    assert events == ["unit finished", "close_all manual", "remove_slot", "release"]
    assert result == {"strategyId": "s1", "state": "stopped", "closedTickets": [101, 102]}
    assert session.slots == [] and host.strategies == {}


def test_a_failed_close_gives_the_turn_back() -> None:
    events: list[str] = []
    host, acts, _ = _host(events)

    def broken(reason: str, time: int) -> list[int]:
        raise RuntimeError("market closed")

    host.strategies["s1"].slots[0].instance.close_all = broken  # type: ignore[attr-defined]

    async def scenario() -> None:
        try:
            await host.stop("s1", close_positions=True)
        except RuntimeError as exc:
            assert "market closed" in str(exc)
        else:
            raise AssertionError("the close failure must reach the command")
        assert not acts.turn.locked()
        assert "s1" in host.strategies  # still running: nothing was closed

    asyncio.run(scenario())
