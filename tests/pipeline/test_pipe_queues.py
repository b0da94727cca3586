"""Queue policies: ticks keep the latest per symbol; bars and intents are never dropped and
push back on the producer."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trademaestro.runtime.queues import LatestQueue, PressureQueue


def test_latest_queue_keeps_only_the_newest_tick_per_symbol() -> None:
    async def scenario() -> list[tuple[str, float]]:
        q: LatestQueue[str, float] = LatestQueue()
        for bid in (1.10, 1.11, 1.12):
            q.put("EURUSD", bid)
        q.put("GBPUSD", 1.30)
        q.put("EURUSD", 1.13)
        assert len(q) == 2 and q.coalesced == 3
        return [await q.get(), await q.get()]

    assert asyncio.run(scenario()) == [("EURUSD", 1.13), ("GBPUSD", 1.30)]


@given(st.lists(st.tuples(st.sampled_from("ABC"), st.integers()), max_size=200))
def test_latest_queue_is_bounded_by_the_keys(puts: list[tuple[str, int]]) -> None:
    q: LatestQueue[str, int] = LatestQueue()
    for key, value in puts:
        q.put(key, value)
    assert len(q) <= 3
    assert q.put_count == len(puts)
    assert q.coalesced == len(puts) - len(q)


def test_pressure_queue_never_drops_and_blocks_the_producer() -> None:
    async def scenario() -> tuple[list[int], int, bool]:
        q: PressureQueue[int] = PressureQueue(maxsize=2, high_water=1)
        got: list[int] = []
        pressure_seen = False

        async def producer() -> None:
            nonlocal pressure_seen
            for i in range(10):
                await q.put(i)
                pressure_seen |= q.under_pressure

        async def consumer() -> None:
            for _ in range(10):
                got.append(await q.get())
                q.task_done()

        await asyncio.gather(producer(), consumer())
        await q.join()
        return got, q.max_depth, pressure_seen

    got, max_depth, pressure = asyncio.run(scenario())
    assert got == list(range(10))
    assert max_depth <= 2 and pressure


def test_pressure_queue_rejects_a_zero_size() -> None:
    with pytest.raises(ValueError, match="maxsize"):
        PressureQueue(0)
