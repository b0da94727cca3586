"""Reading ticks back from the terminal (:class:`TickReader`, ``copy_ticks_from``) on the real
GBPUSD/EURUSD ticks of 2010-01-01: whatever the wake-up sizes, every tick the market played is
returned once, in order, with its exact fields — including ticks sharing a millisecond and
seconds with more ticks than the request's margin; and the tick pipeline's read mode decides on
exactly those ticks, in process and through the gateway."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import numpy as np
import pytest

from trademaestro.brokers.emulator.server import build_emulator
from trademaestro.brokers.mt5.gateway import Gateway
from trademaestro.brokers.mt5.gateway_child import TerminalFactory
from trademaestro.core.errors import BrokerError
from trademaestro.runtime.tickorders import PeriodicOrders, PipeIntent, TickEvent
from trademaestro.runtime.tickpipe import TickPipeline
from trademaestro.runtime.tickreader import TickReader

from .conftest import MAGIC, our_deals


def _emulator(spec: Any) -> Any:
    emu = build_emulator(spec)
    assert emu.initialize()
    return emu


def _busiest_second(msc: np.ndarray[Any, Any]) -> int:
    _, counts = np.unique(msc // 1000, return_counts=True)
    return int(counts.max())


def _with_shared_milliseconds(ticks: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The real ticks, with every 50th tick's next three stamped with its millisecond (a busy
    feed delivers several ticks in one ms; these files have none)."""
    out = ticks.copy()
    for k in range(0, len(out) - 4, 50):
        out["time_msc"][k + 1 : k + 4] = out["time_msc"][k]
        out["time"][k + 1 : k + 4] = out["time"][k]
    return out


@pytest.mark.parametrize("margin", [0, 64])
@pytest.mark.parametrize("shared_ms", [False, True])
def test_every_tick_is_read_once_whatever_the_wake_up_sizes(
    fx_spec, fx_ticks, margin, shared_ms
):
    symbol = "GBPUSD"
    ticks = fx_ticks[symbol][:12_000]
    emu = _emulator(fx_spec)
    if shared_ms:
        ticks = _with_shared_milliseconds(ticks)
        emu.replay.load_ticks(symbol, 1, ticks)
        assert (np.diff(ticks["time_msc"]) == 0).sum() == 3 * (len(ticks) // 50)
    msc = ticks["time_msc"]
    assert _busiest_second(msc) > 8  # more than a request with a small margin holds
    reader = TickReader(symbol, int(msc[0]), margin=margin)
    rng = random.Random(7)
    got: list[np.ndarray[Any, Any]] = []
    k = 0
    while k < len(ticks):
        step = rng.choice((1, 1, 2, 3, 17, 200))
        pairs = [(symbol, j) for j in range(k, min(k + step, len(ticks)))]
        emu.replay.tick_batch(pairs)
        k += len(pairs)
        # the caller's estimate is sometimes wrong: the reader still returns everything
        got.append(reader.read(emu, rng.choice((0, len(pairs), 1))))
    read = np.concatenate(got)
    assert len(read) == len(ticks)
    assert np.array_equal(read, ticks)


def test_reader_starts_at_its_start_and_reports_a_failed_call(fx_spec, fx_ticks):
    symbol = "GBPUSD"
    ticks = fx_ticks[symbol]
    seconds = ticks["time_msc"] // 1000
    # a tick with three earlier ticks in its second: the first reply holds only those
    k = next(j for j in range(3, len(ticks)) if seconds[j - 3] == seconds[j])
    emu = _emulator(fx_spec)
    emu.replay.tick_batch([(symbol, j) for j in range(k + 5)])
    reader = TickReader(symbol, int(ticks["time_msc"][k]), margin=0)
    assert np.array_equal(reader.read(emu, 1), ticks[k : k + 5])
    assert reader.calls > 2  # the request grew until it reached past the seen ticks
    assert len(reader.read(emu, 1)) == 0
    with pytest.raises(BrokerError, match=r"copy_ticks_from\('NOPE'.*last_error"):
        TickReader("NOPE", 0).read(emu)


def test_read_mode_decides_on_the_terminals_ticks(fx_spec, fx_ticks):
    ticks = {s: t[:4000] for s, t in fx_ticks.items()}
    emu = _emulator(fx_spec)
    seen: list[TickEvent] = []

    def decide(symbol: str, tick: TickEvent) -> list[PipeIntent]:
        seen.append(tick)
        return []

    pipe = TickPipeline(
        emu, ticks, rate=0, decide=decide, batch_method="tick_batch", read_ticks=True,
        batch_max=1, loop=True,
    )
    stop = asyncio.Event()

    def stopping(symbol: str, tick: TickEvent) -> list[PipeIntent]:
        if len(seen) >= 8_000 + 500:  # into the second pass (ticks reloaded, shifted)
            stop.set()
        return decide(symbol, tick)

    pipe.decide_fn = stopping
    stats = asyncio.run(pipe.run(stop=stop))
    assert stats["read_mismatches"] == 0
    assert stats["ticks_read"] == stats["ticks_fed"] == len(seen)
    assert stats["passes"] == 1
    shift = pipe.shift_s * 1000
    for n, tick in enumerate(seen):
        base = ticks[tick.symbol][tick.k]
        offset = shift if n >= 8_000 else 0
        assert tick.time_msc == int(base["time_msc"]) + offset
        assert tick.bid == float(base["bid"]) and tick.ask == float(base["ask"])


def test_read_mode_through_the_gateway_with_periodic_orders(fx_spec, fx_ticks):
    ticks = {s: t[:5000] for s, t in fx_ticks.items()}
    gateway = Gateway(TerminalFactory(kind="emulator", emulator=fx_spec), close_grace=2.0)
    try:
        assert gateway.initialize()
        anchors = {s: int(t["time_msc"][0]) for s, t in ticks.items()}
        decide = PeriodicOrders(anchors, period=120.0, magic=MAGIC)
        pipe = TickPipeline(
            gateway, ticks, rate=0, decide=decide, batch_method="tick_batch", read_ticks=True
        )
        stats = asyncio.run(pipe.run())
        expected = sum(decide.expected(s, int(t["time_msc"][-1])) for s, t in ticks.items())
        assert expected > 20
        assert stats["ticks_read"] == stats["ticks_fed"] == 10_000
        assert stats["read_mismatches"] == 0
        assert stats["intents_sent"] == stats["orders_accepted"] == expected
        assert len(our_deals(gateway)) == expected
    finally:
        gateway.close()
