"""Fast tests of the tick pipeline on the real GBPUSD/EURUSD ticks of 2010-01-01: coalescing
under a slow decide stage, intents never dropped under back-pressure, clean stop with drained
queues, replay looping, the batched gateway call, monitor and watchdog integration.

Unpaced runs (rate 0) on the in-process emulator are single-threaded asyncio: no sleeps, no
wall-clock dependence; a "slow" stage yields to the loop many times per item."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import numpy as np
import pytest

from trademaestro.brokers.emulator.server import build_emulator
from trademaestro.brokers.mt5.adapter import MT5Adapter
from trademaestro.brokers.mt5.gateway import Gateway
from trademaestro.brokers.mt5.gateway_child import TerminalFactory
from trademaestro.core.errors import ConfigError
from trademaestro.execution.intents import OpenIntent
from trademaestro.runtime.monitor import Monitor, ProcessStats
from trademaestro.runtime.tickorders import (
    FlattenIntent,
    PeriodicOrders,
    PipeIntent,
    TickEvent,
    send_intent,
)
from trademaestro.runtime.tickpipe import TickPipeline
from trademaestro.runtime.watchdog import Watchdog

from .conftest import COUNTS, MAGIC, our_deals


def _emulator(spec: Any) -> Any:
    emu = build_emulator(spec)
    assert emu.initialize()
    return emu


def _anchors(ticks: dict[str, np.ndarray[Any, Any]]) -> dict[str, int]:
    return {s: int(t["time_msc"][0]) for s, t in ticks.items()}


async def _yield(times: int) -> None:
    for _ in range(times):
        await asyncio.sleep(0)


def test_stress_slow_decide_sees_coalesced_ticks_one_per_symbol(fx_spec, fx_ticks):
    emu = _emulator(fx_spec)
    seen: dict[str, list[int]] = {"GBPUSD": [], "EURUSD": []}

    async def slow_decide(symbol: str, tick: TickEvent) -> list[PipeIntent]:
        seen[symbol].append(tick.k)
        assert tick.time_msc == int(fx_ticks[symbol]["time_msc"][tick.k])
        await _yield(20)
        return []

    pipe = TickPipeline(emu, fx_ticks, rate=0, decide=slow_decide, batch_max=64)
    stats = asyncio.run(pipe.run())
    total = COUNTS["GBPUSD"] + COUNTS["EURUSD"]
    assert stats["ticks_fed"] == total and stats["fed"] == COUNTS
    assert stats["decide_errors"] == 0
    # the queue held at most one tick per symbol, however slow the decide stage
    assert stats["tick_queue"]["max_depth"] == 2 and stats["tick_queue"]["depth"] == 0
    # every tick fed was either decided on or replaced by a newer one of its symbol
    assert stats["ticks_coalesced"] > 0.9 * total
    assert stats["decisions"] + stats["ticks_coalesced"] == total
    assert stats["decisions"] == len(seen["GBPUSD"]) + len(seen["EURUSD"])
    assert stats["latency"]["count"] == stats["decisions"]
    for symbol, ks in seen.items():
        assert ks == sorted(set(ks))  # in order, never twice
        assert ks[-1] == COUNTS[symbol] - 1  # the clean stop decided the last tick
    # the broker's clock stands at the last tick of the day: 2010-01-01 23:59:59.917 (GBPUSD)
    assert emu.replay.now == 1262390399
    assert emu.symbol_info_tick("GBPUSD").time_msc == 1262390399917


def test_stress_intents_never_dropped_under_back_pressure(fx_spec, fx_ticks):
    emu = _emulator(fx_spec)
    adapter = MT5Adapter(emu)
    ticks = {s: t[:6000] for s, t in fx_ticks.items()}
    decide = PeriodicOrders(_anchors(ticks), period=60.0, magic=MAGIC)
    executed: list[PipeIntent] = []

    async def slow_execute(intent: PipeIntent) -> Any:
        await _yield(30)
        executed.append(intent)
        return send_intent(adapter, intent)

    pipe = TickPipeline(
        emu, ticks, rate=0, decide=decide, execute=slow_execute, intent_queue=4, batch_max=16
    )
    assert (pipe.intents.high_water, pipe.low_water) == (2, 1)
    stats = asyncio.run(pipe.run())
    # intents a 60 s period gives up to each symbol's last tick (catch-ups included)
    expected = {s: decide.expected(s, int(t["time_msc"][-1])) for s, t in ticks.items()}
    assert expected["GBPUSD"] > 50 and expected["EURUSD"] > 50
    assert stats["backpressure_events"] > 0 and stats["backpressure_wait_s"] > 0
    assert stats["intent_queue"]["max_depth"] <= 4
    n = sum(expected.values())
    assert stats["intents_queued"] == stats["intents_sent"] == len(executed) == n
    assert stats["intents_failed"] == stats["intents_interrupted"] == 0
    for symbol in ticks:  # every intent arrived, in order: p<sym>1, p<sym>2, ...
        ids = [i.client_id for i in executed if i.symbol == symbol]
        assert ids == [f"p{symbol[:3]}{j}" for j in range(1, expected[symbol] + 1)]
    # opens and flattens alternate: one order each, every one accepted and dealt
    assert stats["orders_sent"] == stats["orders_accepted"] == n == len(our_deals(emu))
    open_now = sum(expected[s] % 2 for s in ticks)
    assert len(adapter.positions(magic=MAGIC)) == open_now


def test_stress_clean_stop_drains_the_intent_queue(fx_spec, fx_ticks):
    emu = _emulator(fx_spec)
    adapter = MT5Adapter(emu)
    stop = asyncio.Event()
    decide = PeriodicOrders(_anchors(fx_ticks), period=30.0, magic=MAGIC)

    def decide_then_stop(symbol: str, tick: TickEvent) -> list[PipeIntent]:
        intents = decide(symbol, tick)
        if sum(decide.done.values()) >= 40:
            stop.set()
        return intents

    async def slow_execute(intent: PipeIntent) -> Any:
        await _yield(50)
        return send_intent(adapter, intent)

    async def main() -> tuple[dict[str, Any], int]:
        pipe = TickPipeline(
            emu,
            fx_ticks,
            rate=0,
            decide=decide_then_stop,
            execute=slow_execute,
            intent_queue=64,
            batch_max=8,
        )
        stats = await pipe.run(stop=stop)
        others = len(asyncio.all_tasks()) - 1
        return stats, others

    stats, others = asyncio.run(main())
    assert stop.is_set() and others == 0  # no stage task left running
    assert stats["ticks_fed"] < COUNTS["GBPUSD"] + COUNTS["EURUSD"]
    assert stats["tick_queue"]["depth"] == 0 and stats["intent_queue"]["depth"] == 0
    queued = stats["intents_queued"]
    assert queued == sum(decide.done.values()) >= 40
    assert stats["intents_sent"] == stats["orders_accepted"] == queued == len(our_deals(emu))


def test_stress_loop_replays_the_ticks_shifted_by_whole_weeks(fx_spec, fx_ticks):
    emu = _emulator(fx_spec)
    ticks = {"EURUSD": fx_ticks["EURUSD"][:300]}
    stop = asyncio.Event()
    seen: list[int] = []
    pipe: TickPipeline

    def decide(symbol: str, tick: TickEvent) -> list[PipeIntent]:
        seen.append(tick.time_msc)
        # the broker's quote is the tick decided on (unpaced in-process: nothing ran ahead)
        assert emu.symbol_info_tick(symbol).time_msc == tick.time_msc
        if pipe.counts["passes"] == 2:
            stop.set()
        return []

    pipe = TickPipeline(emu, ticks, rate=0, decide=decide, batch_max=1, loop=True)
    stats = asyncio.run(pipe.run(stop=stop))
    assert pipe.shift_s == 7 * 86400  # 300 ticks span minutes: shifted by one week per pass
    first = int(ticks["EURUSD"]["time_msc"][0])
    assert seen[0] == first and seen[300] == first + 7 * 86400 * 1000
    assert seen[600] == first + 2 * 7 * 86400 * 1000
    assert stats["passes"] == 2 and stats["ticks_fed"] == 601
    assert stats["decide_errors"] == 0 and len(seen) == 601
    assert all(b > a for a, b in itertools.pairwise(seen))


def test_stress_batched_gateway_replay_with_periodic_orders(fx_spec, fx_ticks):
    ticks = {s: t[:5000] for s, t in fx_ticks.items()}
    gateway = Gateway(TerminalFactory(kind="emulator", emulator=fx_spec), close_grace=2.0)
    try:
        assert gateway.initialize()
        decide = PeriodicOrders(_anchors(ticks), period=120.0, magic=MAGIC)
        pipe = TickPipeline(gateway, ticks, rate=0, decide=decide, batch_method="tick_batch")
        assert pipe.threaded
        stats = asyncio.run(pipe.run())
        expected = sum(decide.expected(s, int(t["time_msc"][-1])) for s, t in ticks.items())
        assert expected > 20
        assert stats["intents_sent"] == stats["orders_accepted"] == expected
        assert len(our_deals(gateway)) == expected
        last = max(int(t["time_msc"][-1]) for t in ticks.values())
        assert gateway.replay.now == last // 1000
        # one control call per batch of ticks: one per tick alone would make 10,000 calls
        # (the orders add a few per intent: symbol_info, positions_get, order_send)
        assert gateway.health()["calls"] < 2_000
    finally:
        gateway.close()


def test_stress_monitor_and_watchdog_see_the_stages(fx_spec, fx_ticks):
    emu = _emulator(fx_spec)
    ticks = {"GBPUSD": fx_ticks["GBPUSD"][:2000]}
    monitor = Monitor(interval=5.0, probe=_probe)
    watchdog = Watchdog({"feed": 5.0, "decide": 5.0, "execute": 5.0})
    decide = PeriodicOrders(_anchors(ticks), period=300.0, magic=MAGIC)
    pipe = TickPipeline(emu, ticks, rate=0, decide=decide, monitor=monitor, watchdog=watchdog)
    stats = asyncio.run(pipe.run())
    record = monitor.sample()
    assert record["sources"]["tickpipe"]["ticks_fed"] == 2000
    assert record["latency"]["tick_to_decision"]["count"] == stats["decisions"]
    state = watchdog.stats()
    assert not any(state[s]["busy"] for s in ("feed", "decide", "execute"))
    assert watchdog.stalled() == []
    assert stats["intents_sent"] == decide.expected("GBPUSD", int(ticks["GBPUSD"]["time_msc"][-1]))


def _probe() -> ProcessStats:
    return ProcessStats(cpu_percent=0.0, rss_bytes=1, threads=1, open_fds=None)


def test_stress_flatten_closes_every_position_of_the_magic(fx_spec):
    emu = _emulator(fx_spec)
    emu.replay.tick("GBPUSD", 0)  # 2010-01-01 00:00:00.721: bid 1.61600, ask 1.61625
    adapter = MT5Adapter(emu)
    for n in (1, 2):
        out = send_intent(
            adapter, OpenIntent("s", "GBPUSD", "buy", 0.01, 0.0, 0.0, MAGIC, f"o{n}", 1.61625)
        )
        assert out[0].ok and out[0].price == pytest.approx(1.61625, abs=1e-9)
    outs = send_intent(adapter, FlattenIntent("s", "GBPUSD", MAGIC, "f1"))
    assert [o.ok for o in outs] == [True, True]
    assert [o.price for o in outs] == pytest.approx([1.616, 1.616], abs=1e-9)
    assert adapter.positions(magic=MAGIC) == []
    assert send_intent(adapter, FlattenIntent("s", "GBPUSD", MAGIC, "f2")) == []


@pytest.mark.parametrize(
    ("kwargs", "found"),
    [
        ({"rate": -1.0}, "found rate -1.0"),
        ({"rate": float("inf")}, "found rate inf"),
        ({"rate": 10.0, "batch_max": 0}, "batch_max 0"),
    ],
)
def test_stress_bad_settings_are_named(fx_ticks, kwargs, found):
    with pytest.raises(ConfigError, match=found):
        TickPipeline(object(), fx_ticks, **kwargs)


def test_stress_no_ticks_is_a_config_error():
    with pytest.raises(ConfigError, match="found no ticks"):
        TickPipeline(object(), {}, rate=0)
    with pytest.raises(ConfigError, match="allowed: > 0 s"):
        PeriodicOrders({"GBPUSD": 0}, period=0)
