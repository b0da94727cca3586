"""The long stress test (by design: 60 s of wall time, in CI): the real GBPUSD and EURUSD ticks
of 2010-01-01 replayed at 1,000 ticks per second into the emulator inside a gateway child
process, with periodic orders (every 30 s of tick time per symbol, alternately open 0.01 lot
and flatten).

Why the bounds hold on a loaded 2-core CI machine:

* ticks fed: the feed keeps an absolute schedule and catches up after any stall (up to 256 ticks
  per wake-up), and one gateway round trip per tick costs about 90 µs here (about 11,000
  ticks/s at most), 11 times the target rate. Falling below 95 % of 60,000 ticks needs the
  pipeline to lose over 3 s of capacity *net of catch-up*, i.e. a machine ~10 times slower
  than this one for the whole minute. 95 % is the bound; the figure achieved is printed.
* RSS: the queues are bounded (one tick per symbol, 64 intents) and the emulator's growth is
  its deal history (~4,000 deals, well under 5 MiB); 50 MiB after the 10 s warm-up catches
  any per-tick leak (60,000 ticks × 1 KiB would be 57 MiB).
* the counts are exact: a clean stop decides the last tick fed of each symbol, so the intents
  are exactly :meth:`PeriodicOrders.expected` of it, whatever ticks were coalesced.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from trademaestro.brokers.mt5.gateway import Gateway, TerminalFactory
from trademaestro.runtime.tickorders import PeriodicOrders, process_rss
from trademaestro.runtime.tickpipe import TickPipeline

from .conftest import MAGIC, SYMBOLS, our_deals

RATE = 1_000
DURATION = 60.0
WARM_UP = 10.0
MIN_FED = 0.95
MAX_RSS_GROWTH = 50 * 2**20


async def _sample_rss(pid: int | None, samples: list[tuple[float, int]], every: float) -> None:
    start = time.monotonic()
    while True:
        samples.append((time.monotonic() - start, process_rss(pid)))
        await asyncio.sleep(every)


async def _run(pipe: TickPipeline, pid: int | None) -> tuple[dict[str, Any], list[Any]]:
    samples: list[tuple[float, int]] = []
    sampler = asyncio.ensure_future(_sample_rss(pid, samples, 1.0))
    try:
        stats = await pipe.run(duration=DURATION)
    finally:
        sampler.cancel()
    return stats, samples


@pytest.mark.slow
def test_stress_1000_ticks_per_second_for_60_seconds(fx_spec, fx_ticks):
    gateway = Gateway(TerminalFactory(kind="emulator", emulator=fx_spec), close_grace=2.0)
    try:
        assert gateway.initialize()
        decide = PeriodicOrders(
            {s: int(fx_ticks[s]["time_msc"][0]) for s in SYMBOLS},
            period=30.0,
            volume=0.01,
            magic=MAGIC,
        )
        pipe = TickPipeline(gateway, fx_ticks, rate=RATE, decide=decide)
        stats, samples = asyncio.run(_run(pipe, gateway.pid))
        deals = our_deals(gateway)
    finally:
        gateway.close()
    warm = [rss for t, rss in samples if t >= WARM_UP]
    growth = max(warm) - warm[0]
    print(
        f"\nfed {stats['ticks_fed']} of {int(RATE * DURATION)} ticks in "
        f"{stats['elapsed_s']} s; coalesced {stats['ticks_coalesced']}; decisions "
        f"{stats['decisions']}; intents {stats['intents_sent']}; latency {stats['latency']}; "
        f"RSS {warm[0] / 2**20:.1f} -> {max(warm) / 2**20:.1f} MiB "
        f"(growth {growth / 2**20:.1f} MiB after {WARM_UP:g} s)"
    )
    # the feed: at least 95 % of the target, never more than the schedule
    assert MIN_FED * RATE * DURATION <= stats["ticks_fed"] <= RATE * DURATION + 1
    assert sum(stats["fed"].values()) == stats["ticks_fed"]
    # the tick queue never held more than one tick per symbol
    assert stats["tick_queue"]["max_depth"] <= len(SYMBOLS)
    assert stats["tick_queue"]["depth"] == 0
    assert stats["decisions"] + stats["ticks_coalesced"] == stats["ticks_fed"]
    assert stats["latency"]["count"] == stats["decisions"] and stats["decide_errors"] == 0
    assert stats["latency"]["p99_ms"] < 50.0
    # every intent put was sent: exactly the periodic schedule up to the last tick fed
    expected = sum(
        decide.expected(s, int(fx_ticks[s]["time_msc"][stats["fed"][s] - 1])) for s in SYMBOLS
    )
    assert expected > 1_000
    assert stats["intents_queued"] == stats["intents_sent"] == expected
    assert stats["intent_queue"]["depth"] == 0 and stats["intent_queue"]["max_depth"] <= 64
    assert stats["intents_failed"] == stats["intents_interrupted"] == 0
    # the broker holds one deal per order sent, and every order was accepted
    assert len(deals) == stats["orders_sent"] == stats["orders_accepted"] == expected
    # memory is bounded after the warm-up (this process + the gateway child)
    assert len(warm) >= 45
    assert growth < MAX_RSS_GROWTH
