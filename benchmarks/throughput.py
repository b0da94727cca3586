"""Throughput: the highest sustained tick rate through the tick pipeline with the emulator in a
gateway child process.

For each feed mode — ``tick``: one gateway round trip per tick (``replay.tick``; the ticks
decided on come from the feed's own arrays); ``batch``: one per wake-up (the emulator's
``replay.tick_batch``); ``read``: the live way, one ``replay.tick_batch`` per wake-up to move the
market, then one ``copy_ticks_from`` per symbol to read the new ticks back from the terminal, and
the decisions are made on what the terminal returned (latency counted from before the market
moved) — rates are
ramped up (each for ``--seconds``, a fresh gateway each time, ticks looped) until two in a row
are not sustained, then bisected between the best sustained rate and the first failure.
**Sustained** = at least 99 % of the target ticks fed and tick-to-decision p99 under 5 ms, in
one of two attempts at that rate (a shared 2-core VM has stalls of several ms that land in one
3-second window and not the next; both attempts are printed).
Target (issue 4): >= 20,000 ticks/s with p99 < 5 ms. Prints every rate tried and the result.

The decision is a no-op by default (the pipe itself is measured); ``--period S`` adds periodic
orders (every S seconds of tick time per symbol), whose number grows with the rate.

    python benchmarks/throughput.py [--seconds 3] [--period 0] [--modes tick,batch]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import numpy as np

from trademaestro.brokers.emulator.server import EmulatorSpec, TickFeed
from trademaestro.brokers.mt5.gateway import Gateway, TerminalFactory
from trademaestro.data import load_ticks
from trademaestro.runtime.tickorders import PeriodicOrders
from trademaestro.runtime.tickpipe import TickPipeline
from trademaestro.settings import data_dir

RAMP = (
    2_000,
    5_000,
    10_000,
    15_000,
    20_000,
    30_000,
    50_000,
    75_000,
    100_000,
    150_000,
    200_000,
    300_000,
)
MIN_FED = 0.99
MAX_P99_MS = 5.0


def trial(
    spec: EmulatorSpec,
    ticks: dict[str, np.ndarray[Any, Any]],
    mode: str,
    rate: float,
    seconds: float,
    period: float,
) -> tuple[bool, dict[str, Any]]:
    """One rate for ``seconds``: (sustained, stats)."""
    factory = TerminalFactory(kind="emulator", emulator=spec)
    gateway = Gateway(factory)
    try:
        if not gateway.initialize():
            raise SystemExit(f"initialize failed: {gateway.last_error()}")
        decide = None
        if period > 0:
            decide = PeriodicOrders(
                {s: int(t["time_msc"][0]) for s, t in ticks.items()}, period=period, max_catch_up=2
            )
        pipe = TickPipeline(
            gateway,
            ticks,
            rate=rate,
            decide=decide,
            loop=True,
            batch_method="tick_batch" if mode in ("batch", "read") else None,
            read_ticks=mode == "read",
        )
        stats = asyncio.run(pipe.run(duration=seconds))
    finally:
        gateway.close()
    p99 = stats["latency"]["p99_ms"]
    ok = (
        stats["ticks_fed"] >= MIN_FED * rate * seconds
        and p99 is not None
        and p99 < MAX_P99_MS
        and stats["read_mismatches"] == 0
    )
    print(
        f"  {mode:5s} {rate:9,.0f}/s: fed {stats['ticks_fed']:9,d} "
        f"({stats['ticks_fed'] / (rate * seconds):6.1%}), decisions {stats['decisions']:8,d}, "
        f"coalesced {stats['ticks_coalesced']:9,d}, latency ms p50 "
        f"{stats['latency']['p50_ms']} p99 {p99} max {stats['latency']['max_ms']}, "
        f"intents {stats['intents_sent']}  -> {'sustained' if ok else 'NOT sustained'}",
        flush=True,
    )
    return ok, stats


def attempt(
    spec: EmulatorSpec,
    ticks: dict[str, np.ndarray[Any, Any]],
    mode: str,
    rate: float,
    seconds: float,
    period: float,
) -> bool:
    """Whether ``rate`` is sustained in one of two trials."""
    return trial(spec, ticks, mode, rate, seconds, period)[0] or trial(
        spec, ticks, mode, rate, seconds, period
    )[0]


def search(
    spec: EmulatorSpec,
    ticks: dict[str, np.ndarray[Any, Any]],
    mode: str,
    seconds: float,
    period: float,
) -> float:
    """The highest sustained rate of ``mode`` (ramp, then 4 bisection steps)."""
    best, failed_at, misses = 0.0, None, 0
    print("  (warm-up, not counted)", flush=True)
    trial(spec, ticks, mode, RAMP[0], 1.0, period)
    for rate in RAMP:
        ok = attempt(spec, ticks, mode, rate, seconds, period)
        if ok:
            best, failed_at, misses = float(rate), None, 0
        else:
            failed_at = rate if failed_at is None else failed_at
            misses += 1
            if misses == 2:
                break
    if failed_at is not None and best > 0:
        low, high = best, float(failed_at)
        for _ in range(4):
            mid = round((low + high) / 2, -2)
            if not low < mid < high:
                break
            ok = attempt(spec, ticks, mode, mid, seconds, period)
            low, high = (mid, high) if ok else (low, mid)
        best = low
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="wall seconds per rate")
    parser.add_argument(
        "--period",
        type=float,
        default=0.0,
        help="seconds of tick time between orders per symbol (0: no orders)",
    )
    parser.add_argument(
        "--modes", default="tick,batch,read", help="tick, batch, read (comma-separated)"
    )
    parser.add_argument("--symbols", default="GBPUSD,EURUSD", help="comma-separated")
    args = parser.parse_args()
    folder = data_dir()
    symbols = [s.strip() for s in args.symbols.split(",") if s.strip()]
    paths = {s: folder / f"{s}_ticks_2010-01-01.csv" for s in symbols}
    ticks = {s: load_ticks(p).ticks for s, p in paths.items()}
    spec = EmulatorSpec(ticks=tuple(TickFeed(s, str(p)) for s, p in paths.items()))
    results = {}
    started = time.perf_counter()
    for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
        if mode not in ("tick", "batch", "read"):
            parser.error(f"--modes: found {mode!r}; allowed: tick, batch, read")
        how = {
            "tick": "one gateway call per tick",
            "batch": "one gateway call per wake-up (replay.tick_batch)",
            "read": "per wake-up: replay.tick_batch, then copy_ticks_from per symbol (live way)",
        }[mode]
        print(f"mode {mode}: {how}", flush=True)
        results[mode] = search(spec, ticks, mode, args.seconds, args.period)
    print(
        f"\nsustained (>= {MIN_FED:.0%} of the ticks fed, p99 < {MAX_P99_MS:g} ms), "
        f"{args.seconds:g} s per rate, symbols {symbols}, "
        f"{'no orders' if args.period <= 0 else f'orders every {args.period:g} s tick time'}:"
    )
    for mode, best in results.items():
        verdict = "meets" if best >= 20_000 else "below"
        print(f"  {mode:5s}: {best:9,.0f} ticks/s ({verdict} the 20,000 ticks/s target)")
    print(f"({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
